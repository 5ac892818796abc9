/**
 * The sanity checks of Adebayo et al. 2018 ("Sanity Checks for Saliency Maps"): explain images
 * with the trained model, then again after re-initialising its layers — cascading from the logits
 * down, or one layer at a time — and optionally with a twin trained on permuted labels, and
 * measure how similar each method's maps stay to the original ones. A method whose maps do not
 * change when the model is destroyed does not explain the model.
 *
 * Cost: the weights are re-initialised in place and the model adapter reads them at call time,
 * so a step costs its re-initialisation (one block's weights) plus the method runs; images are
 * decoded once, each original map is prepared for comparison once (similarity.ts).
 *
 * Spreading: the original model's maps come first (every step is compared with them), then the
 * twin's; then the randomization steps are shards (step-shard.ts) that any worker of the compute
 * pool may compute, each on its own copy of the model, measuring the similarities of its maps
 * itself. Without a spread they run here, one after another. The results are combined in step
 * order and do not depend on who computed which step.
 *
 * The target of every image is fixed from the original model (its top class, or the given
 * index) for all steps and for the twin. The model's weights are restored bit for bit when the
 * run ends, fails or is cancelled, in every worker that computed a step.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { throwIfCancelled, UserError } from '../../shared/errors';
import type { Explainer, MethodParams } from '../explain/explainer';
import { paramsFor } from '../explain/explain-image';
import { autoBatchSize } from '../explain/batch-size';
import { whyNotApplicable } from '../explain/registry';
import { yieldToEventLoop } from '../util/event-loop';
import type { PreprocessPreset } from '../image/preprocess';
import type { LoadedModel } from '../model/load';
import type { ModelAdapter, RandomizableBlock, WeightSnapshot } from '../model/types';
import { spreadShards, type Spread } from '../compute/spread';
import { loadSanityInputs } from './inputs';
import { MapReference } from './similarity';
import { explainAtInput, lendToLocalSteps, sanityStepShard, type SanityStepPayload, type StepMap } from './step-shard';
import { SIMILARITY_NAMES, type DataRandomization, type SanityMode, type SanityResult, type SanityStep, type Similarities, type SimilarityName } from './types';
import { DEFAULT_METRIC, DEFAULT_THRESHOLD, ruleText, summarize, summarizeData } from './verdict';

/** One map as soon as it is computed (the randomization steps only, not the twin's maps). */
export interface SanityMapEvent {
  image: string;
  method: string;
  /** 0 for the original model, k for the k-th randomization step. */
  step: number;
  /** At the model's input resolution, row-major height × width. */
  map: Float32Array;
  height: number;
  width: number;
  signed: boolean;
  /** The method run's own time (ms), wherever it ran. */
  ms: number;
}

export interface SanityOptions {
  model: LoadedModel;
  /** Image files. */
  images: readonly string[];
  methods: readonly Explainer[];
  mode: SanityMode;
  /** Seeds the re-initialisation (per layer) and the methods with randomness. */
  seed: number;
  /** A class / output index, or the original model's top prediction per image. */
  target: number | 'top';
  /** Layer for the CAM methods (default: the last spatial layer). */
  layer?: string;
  preprocess: PreprocessPreset;
  /** Method parameters, as for explainImage (`key=value` or `method.key=value`). */
  params?: MethodParams;
  /** The similarity the verdict uses (default spearman). */
  metric?: SimilarityName;
  /** A method passes when its score is below (default 0.5). */
  threshold?: number;
  /** Data randomization: the same architecture trained on permuted labels. */
  randomLabelsModel?: LoadedModel;
  /** Where the randomization steps may spread to (absent: they run here, in order). */
  spread?: Spread;
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
  onMap?: (e: SanityMapEvent) => void;
}

interface MethodRun {
  method: Explainer;
  params: MethodParams;
  batchSize: number;
}

function checkOptions(opts: SanityOptions, metric: SimilarityName, threshold: number): void {
  if (opts.images.length === 0) throw new UserError('the sanity check needs at least one image');
  if (opts.methods.length === 0) throw new UserError('the sanity check needs at least one method');
  if (!SIMILARITY_NAMES.includes(metric)) throw new UserError(`unknown similarity "${metric}" (one of ${SIMILARITY_NAMES.join(', ')})`);
  if (!Number.isFinite(threshold)) throw new UserError(`the threshold must be a number, got ${threshold}`);
  const { adapter } = opts.model;
  if (opts.target !== 'top' && !(Number.isInteger(opts.target) && opts.target >= 0 && opts.target < adapter.outputSize)) {
    throw new UserError(`target ${opts.target} is out of range: the model has ${adapter.outputSize} outputs (0..${adapter.outputSize - 1})`);
  }
  for (const m of opts.methods) {
    const why = whyNotApplicable(m, adapter, opts.layer);
    if (why) throw new UserError(why);
  }
  const twin = opts.randomLabelsModel?.adapter;
  if (!twin) return;
  if (twin.inputShape.join('×') !== adapter.inputShape.join('×') || twin.outputSize !== adapter.outputSize) {
    throw new UserError(
      `the random-labels model takes ${twin.inputShape.join('×')} inputs and has ${twin.outputSize} outputs, the model ${adapter.inputShape.join('×')} and ${adapter.outputSize}: it must have the same architecture`,
    );
  }
  for (const m of opts.methods) {
    const why = whyNotApplicable(m, twin, opts.layer);
    if (why) throw new UserError(`random-labels model: ${why}`);
  }
}

/** The strip's columns: the original, then one per block from the logits down. */
function stepsOf(mode: SanityMode, blocks: readonly RandomizableBlock[]): SanityStep[] {
  const names = (b: RandomizableBlock) => b.layers;
  return [
    { index: 0, layer: null, randomized: [] },
    ...blocks.map((b, k) => ({
      index: k + 1,
      layer: b.name,
      randomized: mode === 'cascading' ? blocks.slice(0, k + 1).flatMap(names) : names(b),
    })),
  ];
}

/** The output index each image is explained for, from the original model. */
async function targetsOf(adapter: ModelAdapter, inputs: readonly tf.Tensor4D[], target: number | 'top'): Promise<number[]> {
  const out: number[] = [];
  for (const x of inputs) {
    if (target !== 'top') {
      out.push(target);
      continue;
    }
    const top = tf.tidy(() => tf.argMax(adapter.logits(x), 1));
    out.push((await top.data())[0]);
    top.dispose();
  }
  return out;
}

export async function runSanityCheck(opts: SanityOptions): Promise<SanityResult> {
  const { adapter, labels } = opts.model;
  const randomizer = adapter.randomizer();
  if (typeof randomizer === 'string') throw new UserError(`cannot run sanity checks: ${randomizer}`);
  const metric = opts.metric ?? DEFAULT_METRIC;
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  checkOptions(opts, metric, threshold);
  const blocks = randomizer.blocks;
  const steps = stepsOf(opts.mode, blocks);
  const twin = opts.randomLabelsModel;
  const runs: MethodRun[] = opts.methods.map((method) => ({
    method, params: paramsFor(method, opts.params), batchSize: autoBatchSize(adapter, method.needs.gradients ? 'gradient' : 'forward'),
  }));
  const [h, w] = adapter.inputShape;
  const total = opts.images.length * runs.length * (steps.length + (twin ? 1 : 0));
  let done = 0;

  const data = await loadSanityInputs(opts.images, adapter, opts.preprocess, opts.signal);
  let snapshot: WeightSnapshot | undefined;
  try {
    // Held for the whole run: step 0 sees the trained weights, and no other check can randomize
    // this copy of the model meanwhile. The steps run here borrow it (step-shard.ts).
    snapshot = randomizer.snapshot();
    const targets = await targetsOf(adapter, data.inputs, opts.target);
    const refs: MapReference[][] = opts.images.map(() => []);
    const originals: Float32Array[][] = opts.images.map(() => []);
    // sims[image][method][step]
    const sims: Similarities[][][] = opts.images.map(() => runs.map(() => []));
    const twinSims: Similarities[][] = opts.images.map(() => []);
    const progress = (what: string, i: number, m: number) => opts.onProgress?.(done / total, `${what}: ${runs[m].method.label} on ${path.basename(opts.images[i])}`);
    const mapEvent = (step: number, i: number, m: number, map: Float32Array, signed: boolean, ms: number) =>
      opts.onMap?.({ image: opts.images[i], method: runs[m].method.id, step, map, height: h, width: w, signed, ms });

    /** Every method on every image with the model `on` as it is now; `use` gets each map. */
    const sweep = async (what: string, on: ModelAdapter, use: (i: number, m: number, map: Float32Array, signed: boolean, ms: number) => void) => {
      for (const [i, input] of data.inputs.entries()) {
        for (const [m, run] of runs.entries()) {
          throwIfCancelled(opts.signal);
          progress(what, i, m);
          const r = await explainAtInput(on, run.method, {
            input, target: targets[i], layer: opts.layer, params: run.params, seed: opts.seed, batchSize: run.batchSize,
            black: data.black, range: data.range, signal: opts.signal,
          });
          use(i, m, r.map, r.signed, r.ms);
          done++;
          // Lets a cancel request or a progress message through between method runs.
          await yieldToEventLoop();
        }
      }
    };

    await sweep('original model', adapter, (i, m, map, signed, ms) => {
      refs[i][m] = new MapReference(map, h, w);
      originals[i][m] = map;
      sims[i][m].push(refs[i][m].compare(map));
      mapEvent(0, i, m, map, signed, ms);
    });
    if (twin) await sweep('random-labels model', twin.adapter, (i, m, map) => twinSims[i].push(refs[i][m].compare(map)));

    // The randomization steps: shard j is step j + 1.
    const stepName = (s: number) => `step ${s}/${steps.length - 1}, ${blocks[s - 1].name} re-initialised`;
    const perStep = opts.images.length * runs.length;
    /** How many maps of each step were reported, in (image, method) order. */
    const reported = new Array<number>(steps.length).fill(0);
    const report = (step: number, k: number, r: StepMap) => {
      const i = Math.floor(k / runs.length);
      const m = k % runs.length;
      mapEvent(step, i, m, r.map, r.signed, r.ms);
      reported[step]++;
      done++;
    };
    /** A callback's error while another worker's step arrived: stops the run at the next method run here. */
    let failure: { error: unknown } | undefined;
    const payload: SanityStepPayload = {
      mode: opts.mode, seed: opts.seed, blocks: blocks.length, ...(opts.layer !== undefined ? { layer: opts.layer } : {}),
      methods: runs.map((r) => r.method.id), params: runs.map((r) => r.params), batchSizes: runs.map((r) => r.batchSize),
      inputs: await Promise.all(data.inputs.map(async (x) => (await x.data()) as Float32Array)),
      shape: data.inputs[0].shape, black: (await data.black.data()) as Float32Array, range: data.range, targets, originals,
    };
    lendToLocalSteps(payload, {
      methods: runs.map((r) => r.method), inputs: data.inputs, black: data.black, refs, snapshot,
      before: (step, i, m) => {
        if (failure) throw failure.error;
        progress(stepName(step), i, m);
      },
      after: (step, i, m, r) => report(step, i * runs.length + m, r),
    });
    const results = await spreadShards(opts.spread, sanityStepShard, payload, steps.length - 1, { adapter, signal: opts.signal }, (index, r) => {
      const step = index + 1;
      if (reported[step] === perStep) return;
      // Computed by another worker: its maps arrive together.
      try {
        for (let k = reported[step]; k < perStep; k++) report(step, k, r.maps[Math.floor(k / runs.length)][k % runs.length]);
        opts.onProgress?.(done / total, stepName(step));
      } catch (error) {
        // Thrown here, it would escape from the message handler that delivered the step.
        failure ??= { error };
      }
    });
    if (failure) throw failure.error;
    for (const r of results) r.maps.forEach((row, i) => row.forEach((x, m) => sims[i][m].push(x.similarities)));
    opts.onProgress?.(1, 'done');

    const methods = runs.map((r) => ({ id: r.method.id, label: r.method.label }));
    let dataRandomization: DataRandomization | undefined;
    if (twin) {
      dataRandomization = {
        model: twin.file,
        images: opts.images.map((file, i) => ({ file, methods: methods.map((m, k) => ({ method: m.id, similarities: twinSims[i][k] })) })),
        summary: methods.map((m, k) => summarizeData(metric, threshold, m, twinSims.map((img) => img[k]))),
      };
    }
    return {
      mode: opts.mode,
      seed: opts.seed,
      metric,
      threshold,
      rule: ruleText(opts.mode, metric, threshold, blocks.length),
      steps,
      images: opts.images.map((file, i) => ({
        file,
        target: labels?.[targets[i]] !== undefined ? { index: targets[i], label: labels[targets[i]] } : { index: targets[i] },
        methods: methods.map((m, k) => ({ method: m.id, label: m.label, similarities: sims[i][k] })),
      })),
      summary: summarize(opts.mode, metric, threshold, methods, sims),
      ...(dataRandomization ? { dataRandomization } : {}),
    };
  } finally {
    snapshot?.release();
    data.dispose();
  }
}

/**
 * The randomization steps of the sanity cascade as shards of kind `sanity-step`, so the steps
 * spread over the compute pool: shard j puts this worker's copy of the model in the state of
 * step j + 1, runs every method on every image there (no nested spreading: the steps are the
 * unit of work), and compares each map with the original model's, which the payload carries.
 * A step's similarities are measured in the worker that computed its maps, so with two workers
 * or more the measures of one step overlap the maps of the next.
 *
 * Any worker can compute any step: a block's fresh weights depend only on the block, the seed
 * (one seed per (seed, layer, weight), weight-seed.ts) and the trained weights (the fallback
 * initializer's mean and spread), never on which blocks were re-initialised before; restoring
 * assigns the trained tensors back. So step k's weights are the same bit for bit whatever steps
 * the worker computed before, and a worker moves from its last step to the next by touching
 * only the blocks that differ (a cascade computed in increasing order re-initialises one more
 * block per step, as the unspread run does).
 *
 * Weights: a helper takes its own snapshot on its first shard and releases it (every weight
 * back, bit for bit) when its part in the spread ends, also on cancel or failure. The worker that
 * runs the check already holds a snapshot for the whole run; its shards borrow it and put every
 * block back when the spread ends.
 */
import * as tf from '@tensorflow/tfjs-core';
import { throwIfCancelled, UserError } from '../../shared/errors';
import { resizeMap } from '../../shared/map-ops';
import type { ShardContext, ShardKind } from '../compute/spread';
import type { Explainer, MethodParams } from '../explain/explainer';
import { explainerById } from '../explain/registry';
import { yieldToEventLoop } from '../util/event-loop';
import type { ModelAdapter, WeightSnapshot } from '../model/types';
import { MapReference } from './similarity';
import type { SanityMode, Similarities } from './types';

/** What one method run needs besides the model and the method. */
export interface RunRequest {
  input: tf.Tensor4D;
  /** The output index, fixed from the original model. */
  target: number;
  layer?: string;
  params: MethodParams;
  seed: number;
  batchSize: number;
  black: tf.Tensor4D;
  range: [number, number];
  signal?: AbortSignal;
}

/** One map at the model's input resolution, as explain-image brings it there; `ms` is the method's own time. */
export async function explainAtInput(adapter: ModelAdapter, method: Explainer, r: RunRequest): Promise<{ map: Float32Array; signed: boolean; ms: number }> {
  const [h, w] = adapter.inputShape;
  const t0 = performance.now();
  const m = await method.explain({
    adapter, input: r.input, target: { index: r.target, space: 'logit' }, layer: r.layer, params: r.params, seed: r.seed,
    batchSize: r.batchSize, black: r.black, inputRange: r.range, signal: r.signal,
  });
  const ms = performance.now() - t0;
  const map = m.height === h && m.width === w ? m.data : resizeMap(m.data, m.height, m.width, h, w);
  return { map, signed: m.signed === true, ms };
}

/** Everything a step needs, as it crosses threads. */
export interface SanityStepPayload {
  mode: SanityMode;
  seed: number;
  /** Randomizable blocks of the model (a helper's copy must have as many). */
  blocks: number;
  layer?: string;
  /** Method ids, with their parameters and batch sizes (decided once, by the run). */
  methods: string[];
  params: MethodParams[];
  batchSizes: number[];
  /** The preprocessed images, each `shape` ([1, h, w, c]). */
  inputs: Float32Array[];
  shape: [number, number, number, number];
  black: Float32Array;
  range: [number, number];
  /** The output index of each image. */
  targets: number[];
  /** The original model's maps at the input resolution, [image][method]. */
  originals: Float32Array[][];
}

export interface StepMap {
  map: Float32Array;
  signed: boolean;
  /** Against the original map of the same image and method. */
  similarities: Similarities;
  /** The method run's own time. */
  ms: number;
}

/** A step's maps and similarities, [image][method]. */
export interface SanityStepResult {
  maps: StepMap[][];
}

/**
 * What the run lends the shards computed in its own thread: the caller's explainers (which may
 * wrap the registry's, e.g. a benchmark's stopwatch), the decoded images, the original maps'
 * references, its weight snapshot, and hooks that report each map as soon as it exists, as the
 * unspread run always did. Keyed by the payload object: a helper gets a copy of the payload, so
 * it never finds these and builds its own from the payload.
 */
export interface LocalStepHooks {
  methods: readonly Explainer[];
  inputs: readonly tf.Tensor4D[];
  black: tf.Tensor4D;
  refs: readonly (readonly MapReference[])[];
  snapshot: WeightSnapshot;
  /** Before each method run (progress; may throw to stop the run). */
  before(step: number, image: number, method: number): void;
  /** After each map is compared (map events; may throw to stop the run). */
  after(step: number, image: number, method: number, result: StepMap): void;
}

const local = new WeakMap<SanityStepPayload, LocalStepHooks>();

/** Lends `hooks` to the shards of `payload` that run in this thread. */
export function lendToLocalSteps(payload: SanityStepPayload, hooks: LocalStepHooks): void {
  local.set(payload, hooks);
}

interface StepState {
  snapshot: WeightSnapshot;
  /** The step whose weights the model holds now (0: the trained weights). */
  at: number;
  methods: readonly Explainer[];
  inputs: readonly tf.Tensor4D[];
  black: tf.Tensor4D;
  refs: readonly (readonly MapReference[])[];
}

const STATE_KEY = 'sanity-step';

/** This worker's state for the spread: made on its first shard, undone when its part ends. */
function stepState(p: SanityStepPayload, ctx: ShardContext): StepState {
  const existing = ctx.state.get(STATE_KEY) as StepState | undefined;
  if (existing) return existing;
  const hooks = local.get(p);
  if (hooks) {
    const { snapshot } = hooks;
    // The run releases its snapshot itself; until then the model must be back to its trained
    // weights (the run's later work, e.g. another spread, expects them).
    ctx.onEnd(() => {
      for (let b = 0; b < p.blocks; b++) snapshot.restore(b);
    });
    const s: StepState = { snapshot, at: 0, methods: hooks.methods, inputs: hooks.inputs, black: hooks.black, refs: hooks.refs };
    ctx.state.set(STATE_KEY, s);
    return s;
  }
  const randomizer = ctx.adapter.randomizer();
  if (typeof randomizer === 'string') throw new UserError(`cannot run sanity checks: ${randomizer}`);
  if (randomizer.blocks.length !== p.blocks) {
    throw new UserError(`the model changed while the sanity check ran (${randomizer.blocks.length} randomizable blocks, the check started with ${p.blocks}): run it again`);
  }
  const snapshot = randomizer.snapshot();
  const tensors: tf.Tensor[] = [];
  ctx.onEnd(() => {
    try {
      snapshot.release();
    } finally {
      tf.dispose(tensors);
    }
  });
  const inputs = p.inputs.map((x) => tf.tensor4d(x, p.shape));
  tensors.push(...inputs);
  const black = tf.tensor4d(p.black, p.shape);
  tensors.push(black);
  const [, h, w] = p.shape;
  const s: StepState = {
    snapshot, at: 0, methods: p.methods.map(explainerById), inputs, black,
    refs: p.originals.map((row) => row.map((map) => new MapReference(map, h, w))),
  };
  ctx.state.set(STATE_KEY, s);
  return s;
}

/** Puts the model in the state of `step`, from the state it is in. */
function moveTo(s: StepState, step: number, mode: SanityMode, seed: number): void {
  if (mode === 'cascading') {
    // Step k: blocks 0..k−1 re-initialised.
    for (let b = s.at; b < step; b++) s.snapshot.reinitialize(b, seed);
    for (let b = step; b < s.at; b++) s.snapshot.restore(b);
  } else if (s.at !== step) {
    // Step k: block k−1 alone re-initialised.
    if (s.at > 0) s.snapshot.restore(s.at - 1);
    if (step > 0) s.snapshot.reinitialize(step - 1, seed);
  }
  s.at = step;
}

/** Shard j: randomization step j + 1 (step 0, the original model, runs before the spread). */
export const sanityStepShard: ShardKind<SanityStepPayload, SanityStepResult> = {
  kind: 'sanity-step',
  async run(p, index, ctx) {
    const s = stepState(p, ctx);
    const hooks = local.get(p);
    const step = index + 1;
    throwIfCancelled(ctx.signal);
    moveTo(s, step, p.mode, p.seed);
    const maps: StepMap[][] = [];
    for (const [i, input] of s.inputs.entries()) {
      const row: StepMap[] = [];
      for (const [m, method] of s.methods.entries()) {
        throwIfCancelled(ctx.signal);
        hooks?.before(step, i, m);
        const r = await explainAtInput(ctx.adapter, method, {
          input, target: p.targets[i], layer: p.layer, params: p.params[m], seed: p.seed, batchSize: p.batchSizes[m],
          black: s.black, range: p.range, signal: ctx.signal,
        });
        const result: StepMap = { map: r.map, signed: r.signed, similarities: s.refs[i][m].compare(r.map), ms: r.ms };
        row.push(result);
        hooks?.after(step, i, m, result);
        // Lets a cancel request or a progress message through between method runs.
        await yieldToEventLoop();
      }
      maps.push(row);
    }
    return { maps };
  },
};

/**
 * Runs a TCAV experiment (Kim et al. 2018) on a loaded model: activations and class-logit
 * gradients through the on-disk cache, per layer and run a CAV (concept vs random set i, or
 * concept A vs concept B), TCAV scores from the directional derivatives, random-vs-random scores
 * (each run a different pair of random sets) as the null, Welch's two-sided t-test per concept and layer, Bonferroni across them.
 */
import * as path from 'node:path';
import { UserError, throwIfCancelled } from '../../shared/errors';
import { LOW_CAV_ACCURACY, type TcavCell, type TcavRandomBaseline, type TcavResult } from '../../shared/tcav';
import type { LoadedModel } from '../model/load';
import { parseTargetSpec } from '../model/targets';
import type { PreprocessPreset } from '../image/preprocess';
import { autoBatchSize } from '../explain/batch-size';
import { yieldToEventLoop } from '../explain/methods/event-loop';
import { ActivationCache, modelHash, type FeatureKind } from './activation-cache';
import { checkpointTime } from '../model/formats/registry';
import { ensureFeatures, FeatureReader, type FeatureCounts } from './features';
import { sample, type ResolvedExperiment } from './experiment';
import { trainCav } from './cav';
import { directionalDerivatives, tcavScore } from './scores';
import { bonferroni, meanStd, welchTTest } from './stats';

export interface TcavProgress {
  fraction: number;
  message: string;
}

export interface RunTcavOptions {
  experiment: ResolvedExperiment;
  model: LoadedModel;
  preprocess: PreprocessPreset;
  /** Default: `<experiment folder>/.cache/tcav`. */
  cacheDir?: string;
  signal?: AbortSignal;
  onProgress?: (p: TcavProgress) => void;
}

interface Runs {
  scores: number[];
  magnitudes: number[];
  accuracies: number[];
}

/** Fraction of each concept a relative-TCAV run draws, so runs differ. */
const RELATIVE_SUBSAMPLE = 0.8;

function resolveTarget(exp: ResolvedExperiment, model: LoadedModel): { index: number; label?: string } {
  const t = parseTargetSpec(String(exp.target), model.labels, model.adapter.outputSize);
  if (t === 'top') throw new UserError(`${exp.file}: "target" must name one class, not "top"`);
  return { index: t, label: model.labels?.[t] };
}

function checkLayers(exp: ResolvedExperiment, model: LoadedModel): void {
  const names = new Set(model.adapter.layers.map((l) => l.name));
  for (const l of exp.layers) {
    if (!names.has(l)) {
      const some = model.adapter.layers.filter((x) => x.outputShape.length >= 2).slice(-8).map((x) => x.name).join(', ');
      throw new UserError(`${exp.file}: the model ${model.name} has no layer "${l}" (its last layers: ${some})`);
    }
  }
}

/** A seed per name (FNV-1a), so adding a concept does not change the others' CAVs. */
function nameSeed(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h % 1_000_000;
}

const summary = (runs: Runs) => {
  const s = meanStd(runs.scores);
  const m = meanStd(runs.magnitudes);
  return { mean: s.mean, std: s.std, magnitudeMean: m.mean, magnitudeStd: m.std, cavAccuracy: meanStd(runs.accuracies).mean };
};

export async function runTcav(opts: RunTcavOptions): Promise<TcavResult> {
  const { experiment: exp, model, signal } = opts;
  const adapter = model.adapter;
  const t0 = performance.now();
  const target = resolveTarget(exp, model);
  checkLayers(exp, model);
  const hash = modelHash(model.file);
  const [h, w, c] = adapter.inputShape;
  const cache = new ActivationCache(opts.cacheDir ?? path.join(exp.dir, '.cache', 'tcav'), hash, `${opts.preprocess}-${h}x${w}x${c}`);
  const counts: FeatureCounts = { hits: 0, computed: 0 };
  const gradientKind: FeatureKind = `gradient-${target.index}`;

  const exampleImages = [...new Set([...exp.concepts.flatMap((x) => x.images), ...exp.randomSets.flat()])];
  const relativeRuns = exp.relative.length * exp.runs;
  const cavCount = exp.layers.length * (exp.runs * (exp.concepts.length + 1) + relativeRuns);
  const featureWork = exp.layers.length * (exampleImages.length + exp.classImages.length);
  const total = featureWork + cavCount;
  let done = 0;
  const progress = (message: string) => opts.onProgress?.({ fraction: Math.min(1, done / total), message });

  // Activations and gradients, layer by layer, into the cache.
  const hashes = new Map<string, string>();
  const timings = { activations: 0, cavs: 0, derivatives: 0, total: 0 };
  for (const layer of exp.layers) {
    let t = performance.now();
    const got = await ensureFeatures({
      adapter, preset: opts.preprocess, cache, layer, kind: 'activation', images: exampleImages, counts, signal,
      batchSize: autoBatchSize(adapter, 'forward'),
      onImage: () => { done++; progress(`activations at ${layer}`); },
    });
    got.forEach((hs, i) => hashes.set(exampleImages[i], hs));
    timings.activations += performance.now() - t;
    t = performance.now();
    const grads = await ensureFeatures({
      adapter, preset: opts.preprocess, cache, layer, kind: gradientKind, images: exp.classImages, counts, signal,
      batchSize: autoBatchSize(adapter, 'gradient'),
      onImage: () => { done++; progress(`class-logit gradients at ${layer}`); },
    });
    grads.forEach((hs, i) => hashes.set(exp.classImages[i], hs));
    timings.derivatives += performance.now() - t;
  }

  const reader = new FeatureReader(cache);
  const acts = (layer: string, files: readonly string[]) => reader.read(layer, 'activation', files.map((f) => hashes.get(f)!));
  const cells: TcavCell[] = [];
  const random: TcavRandomBaseline[] = [];
  const pending: { cell: Omit<TcavCell, 't' | 'p' | 'pAdjusted' | 'significant'>; baseline: number[] }[] = [];

  for (const layer of exp.layers) {
    const classGrads = reader.read(layer, gradientKind, exp.classImages.map((f) => hashes.get(f)!));
    const runCavs = async (label: string, pairFor: (run: number) => [Float32Array[], Float32Array[]], seedBase: number): Promise<Runs> => {
      const runs: Runs = { scores: [], magnitudes: [], accuracies: [] };
      for (let r = 1; r <= exp.runs; r++) {
        throwIfCancelled(signal);
        const [pos, neg] = pairFor(r);
        let t = performance.now();
        const cav = trainCav(pos, neg, { seed: seedBase + r });
        timings.cavs += performance.now() - t;
        t = performance.now();
        const s = tcavScore(directionalDerivatives(classGrads, cav.direction));
        timings.derivatives += performance.now() - t;
        runs.scores.push(s.score);
        runs.magnitudes.push(s.magnitude);
        runs.accuracies.push(cav.accuracy);
        done++;
        progress(`CAVs at ${layer}: ${label}, run ${r} of ${exp.runs}`);
        await yieldToEventLoop();
      }
      return runs;
    };

    const layerSeed = exp.seed * 1_000_003 + nameSeed(layer) * 7;
    // The null: run r trains random set r − 1 against random set r. The "concept" side changes
    // from run to run (as in Kim et al.'s library), so the null's spread includes how much one
    // fixed set of images alone moves the scores; a fixed random "concept" would understate it
    // and make unrelated concepts look significant.
    const baseRuns = await runCavs('random vs random', (r) => [acts(layer, exp.randomSets[r - 1]), acts(layer, exp.randomSets[r])], layerSeed);
    const base = summary(baseRuns);
    random.push({ layer, scores: baseRuns.scores, mean: base.mean, std: base.std, cavAccuracy: base.cavAccuracy });

    for (const concept of exp.concepts) {
      const pos = acts(layer, concept.images);
      const runs = await runCavs(concept.name, (r) => [pos, acts(layer, exp.randomSets[r])], layerSeed + nameSeed(concept.name) * 101);
      const s = summary(runs);
      pending.push({
        cell: { concept: concept.name, kind: 'concept', layer, scores: runs.scores, magnitudes: runs.magnitudes, cavAccuracies: runs.accuracies, ...s, lowAccuracy: s.cavAccuracy < LOW_CAV_ACCURACY },
        baseline: baseRuns.scores,
      });
    }
    for (const [a, b] of exp.relative) {
      const imagesOf = (name: string) => exp.concepts.find((x) => x.name === name)!.images;
      const draw = (name: string, r: number, salt: number) => {
        const all = imagesOf(name);
        return acts(layer, sample(all, Math.max(2, Math.round(RELATIVE_SUBSAMPLE * all.length)), layerSeed + r * 31 + salt));
      };
      const runs = await runCavs(`${a} vs ${b}`, (r) => [draw(a, r, 1), draw(b, r, 2)], layerSeed + nameSeed(`${a}\n${b}`) * 101);
      const s = summary(runs);
      pending.push({
        cell: { concept: `${a} vs ${b}`, kind: 'relative', layer, scores: runs.scores, magnitudes: runs.magnitudes, cavAccuracies: runs.accuracies, ...s, lowAccuracy: s.cavAccuracy < LOW_CAV_ACCURACY },
        baseline: baseRuns.scores,
      });
    }
  }

  const tests = pending.length;
  const warnings = [...exp.warnings];
  for (const { cell, baseline } of pending) {
    const test = welchTTest(cell.scores, baseline);
    const p = test.p;
    // Two constant, different samples give an infinite t; JSON has no Infinity.
    const t = Number.isFinite(test.t) ? test.t : Math.sign(test.t) * Number.MAX_VALUE;
    const pAdjusted = bonferroni(p, tests);
    cells.push({ ...cell, t, p, pAdjusted, significant: pAdjusted < exp.alpha });
    if (cell.lowAccuracy) {
      warnings.push(`the CAV of "${cell.concept}" at ${cell.layer} is hardly better than chance (held-out accuracy ${(100 * cell.cavAccuracy).toFixed(0)}%): the concept is not linearly present at this layer, so its score means little`);
    }
  }
  timings.activations /= 1000;
  timings.cavs /= 1000;
  timings.derivatives /= 1000;
  timings.total = (performance.now() - t0) / 1000;
  progress('done');
  return {
    version: 1,
    experiment: exp.file,
    model: { file: model.file, name: model.name, hash, modified: checkpointTime(model.file) },
    target,
    createdAt: new Date().toISOString(),
    seed: exp.seed,
    runs: exp.runs,
    imagesPerSet: exp.imagesPerSet,
    classImages: exp.classImages.length,
    alpha: exp.alpha,
    tests,
    layers: exp.layers,
    cells,
    random,
    timings,
    cache: counts,
    warnings,
  };
}

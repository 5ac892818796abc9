/**
 * Runs a TCAV experiment (Kim et al. 2018) on a loaded model: activations and class-logit
 * gradients through the on-disk cache (computed by image chunks, spread over the compute pool's
 * workers when a spread is given: chunk-shard.ts), per layer and run a CAV (concept vs random set
 * i, or concept A vs concept B; trained CAVs are cached on disk too, and the missing ones trained
 * by groups of one layer and run, spread the same way: cav-shard.ts), TCAV scores from the
 * directional derivatives, random-vs-random scores (each run a different pair of random sets) as
 * the null, Welch's two-sided t-test per concept and layer, Bonferroni across them.
 */
import * as path from 'node:path';
import { UserError, throwIfCancelled } from '../../shared/errors';
import { LOW_CAV_ACCURACY, type TcavCell, type TcavRandomBaseline, type TcavResult } from '../../shared/tcav';
import type { LoadedModel } from '../model/load';
import type { Spread } from '../compute/spread';
import { parseTargetSpec } from '../model/targets';
import type { PreprocessPreset } from '../image/preprocess';
import { ActivationCache, modelHash, type FeatureKind } from './activation-cache';
import { checkpointTime } from '../model/formats/registry';
import { FeatureReader, type FeatureCounts } from './features';
import { fillPlan, planFeatures, type FeatureSet } from './chunk-shard';
import { sample, type ResolvedExperiment } from './experiment';
import type { trainCav } from './cav';
import type { CavJob } from './cav-cache';
import { obtainCavs, type CavGroupDone } from './cav-shard';
import { directionalDerivatives, tcavScore } from './scores';
import { bonferroni, meanStd, welchTTest } from './stats';

export interface TcavProgress {
  fraction: number;
  message: string;
}

/** One chunk of images whose activations (or gradients) are now in the cache. */
export interface TcavChunkDone {
  index: number;
  kind: FeatureKind;
  images: number;
  /** Vectors (image × layer) found in the cache and computed. */
  hits: number;
  computed: number;
  /** The thread that computed it. */
  thread: number;
}

/** The CAVs of one layer and run are known: read from the CAV cache, or trained. */
export interface TcavCavsDone extends CavGroupDone {
  layer: string;
  /** 1-based, as in the progress messages. */
  run: number;
}

export interface RunTcavOptions {
  experiment: ResolvedExperiment;
  model: LoadedModel;
  preprocess: PreprocessPreset;
  /** Default: `<experiment folder>/.cache/tcav`. */
  cacheDir?: string;
  signal?: AbortSignal;
  onProgress?: (p: TcavProgress) => void;
  /** Where the activations and gradients are computed, by image chunks (absent: here). */
  spread?: Spread;
  /** Called as each chunk's vectors are in the cache (tests and benchmarks see who computed it). */
  onChunk?: (c: TcavChunkDone) => void;
  /** Called as the CAVs of each layer and run are known (tests and benchmarks see who trained them). */
  onCavs?: (c: TcavCavsDone) => void;
  /**
   * Trains a CAV the CAV cache lacks (default trainCav): tests count its calls to see what a
   * rerun retrains. A function cannot go to another worker: given one, the CAVs train here.
   */
  trainCav?: typeof trainCav;
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
  const timings = { activations: 0, cavs: 0, derivatives: 0, total: 0 };

  // Activations of the example images and class-logit gradients of the class images at every
  // layer, into the cache, chunk by chunk over the pool's workers.
  const phaseStart = performance.now();
  const sets: FeatureSet[] = [{ kind: 'activation', images: exampleImages }, { kind: gradientKind, images: exp.classImages }];
  const plan = planFeatures(adapter, cache, exp.layers, sets, signal);
  const total = plan.vectors.reduce((a, b) => a + b, 0) + cavCount;
  let done = plan.cached.reduce((a, b) => a + b, 0);
  const progress = (message: string) => opts.onProgress?.({ fraction: Math.min(1, done / total), message });
  const what = [`activations at ${exp.layers.join(', ')}`, `class-logit gradients at ${exp.layers.join(', ')}`];
  progress(what[plan.chunks.length > 0 ? plan.chunkSet[0] : 0]);
  const ms = await fillPlan(plan, {
    adapter, model, preset: opts.preprocess, cache, layers: exp.layers, counts, signal, spread: opts.spread,
    onChunk: (index, set, r) => {
      done += r.hits + r.computed;
      opts.onChunk?.({ index, kind: sets[set].kind, images: plan.chunks[index].files.length, hits: r.hits, computed: r.computed, thread: r.thread });
      progress(what[set]);
    },
  });
  // The shards of both kinds run at once on several workers: the phase's time is shared out in
  // proportion to the time each kind's shards took.
  const phase = performance.now() - phaseStart;
  const shardMs = ms[0] + ms[1];
  timings.activations = shardMs > 0 ? (phase * ms[0]) / shardMs : phase;
  timings.derivatives = shardMs > 0 ? (phase * ms[1]) / shardMs : 0;
  const hashes = plan.hashes;

  const reader = new FeatureReader(cache);
  const hashesOf = (files: readonly string[]) => files.map((f) => hashes.get(f)!);
  const classHashes = hashesOf(exp.classImages);

  // Per layer, the CAV kinds every run trains one of: random vs random, then each concept, then
  // each relative pair; pairFor(run) gives the run's concept-side and random-side images.
  interface CavKind {
    label: string;
    pairFor: (run: number) => [readonly string[], readonly string[]];
    seedBase: number;
  }
  const kindsOf = exp.layers.map((layer): CavKind[] => {
    const layerSeed = exp.seed * 1_000_003 + nameSeed(layer) * 7;
    const imagesOf = (name: string) => exp.concepts.find((x) => x.name === name)!.images;
    const draw = (name: string, r: number, salt: number) => {
      const all = imagesOf(name);
      return sample(all, Math.max(2, Math.round(RELATIVE_SUBSAMPLE * all.length)), layerSeed + r * 31 + salt);
    };
    return [
      // The null: run r trains random set r − 1 against random set r. The "concept" side changes
      // from run to run (as in Kim et al.'s library), so the null's spread includes how much one
      // fixed set of images alone moves the scores; a fixed random "concept" would understate it
      // and make unrelated concepts look significant.
      { label: 'random vs random', pairFor: (r) => [exp.randomSets[r - 1], exp.randomSets[r]], seedBase: layerSeed },
      ...exp.concepts.map((concept): CavKind => ({ label: concept.name, pairFor: (r) => [concept.images, exp.randomSets[r]], seedBase: layerSeed + nameSeed(concept.name) * 101 })),
      ...exp.relative.map(([a, b]): CavKind => ({ label: `${a} vs ${b}`, pairFor: (r) => [draw(a, r, 1), draw(b, r, 2)], seedBase: layerSeed + nameSeed(`${a}\n${b}`) * 101 })),
    ];
  });

  // One group per layer and run (group g: layer ⌊g / runs⌋, run g mod runs + 1), CAV k of a group
  // being kind k: a fixed split whatever the number of workers, with enough groups (layers × runs)
  // to keep every worker busy, and each group's CAVs sharing the run's random set, so the worker
  // that takes it reads those rows once.
  const groups: CavJob[][] = [];
  for (const [l, layer] of exp.layers.entries()) {
    for (let r = 1; r <= exp.runs; r++) {
      groups.push(kindsOf[l].map((kind) => {
        const [pos, neg] = kind.pairFor(r);
        return { layer, positive: hashesOf(pos), negative: hashesOf(neg), options: { seed: kind.seedBase + r } };
      }));
    }
  }
  /** outcomes[layer][kind][run − 1], filled as the CAVs arrive (in any order). */
  const outcomes = kindsOf.map((kinds) => kinds.map(() => new Array<{ score: number; magnitude: number; accuracy: number }>(exp.runs)));
  const cavStart = performance.now();
  let scoring = 0;
  await obtainCavs({
    adapter, model, cache, groups, signal, spread: opts.spread, train: opts.trainCav,
    onCav: (g, k, cav) => {
      const l = Math.floor(g / exp.runs);
      const r = g % exp.runs;
      const t = performance.now();
      // The class gradients stay in the reader (up to its budget): read from disk once per layer.
      const s = tcavScore(directionalDerivatives(reader.read(exp.layers[l], gradientKind, classHashes), cav.direction));
      scoring += performance.now() - t;
      outcomes[l][k][r] = { score: s.score, magnitude: s.magnitude, accuracy: cav.accuracy };
      done++;
      progress(`CAVs at ${exp.layers[l]}: ${kindsOf[l][k].label}, run ${r + 1} of ${exp.runs}`);
    },
    onGroup: (g, d) => opts.onCavs?.({ layer: exp.layers[Math.floor(g / exp.runs)], run: (g % exp.runs) + 1, ...d }),
  });
  throwIfCancelled(signal);
  timings.cavs = performance.now() - cavStart - scoring;
  timings.derivatives += scoring;

  const cells: TcavCell[] = [];
  const random: TcavRandomBaseline[] = [];
  const pending: { cell: Omit<TcavCell, 't' | 'p' | 'pAdjusted' | 'significant'>; baseline: number[] }[] = [];
  for (const [l, layer] of exp.layers.entries()) {
    const [baseRuns, ...rest] = outcomes[l].map((runs): Runs => ({
      scores: runs.map((o) => o.score), magnitudes: runs.map((o) => o.magnitude), accuracies: runs.map((o) => o.accuracy),
    }));
    const base = summary(baseRuns);
    random.push({ layer, scores: baseRuns.scores, mean: base.mean, std: base.std, cavAccuracy: base.cavAccuracy });
    for (const [k, runs] of rest.entries()) {
      const s = summary(runs);
      const kind = k < exp.concepts.length ? 'concept' : 'relative';
      pending.push({
        cell: { concept: kindsOf[l][k + 1].label, kind, layer, scores: runs.scores, magnitudes: runs.magnitudes, cavAccuracies: runs.accuracies, ...s, lowAccuracy: s.cavAccuracy < LOW_CAV_ACCURACY },
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

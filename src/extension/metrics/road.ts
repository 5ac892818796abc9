/**
 * ROAD, RemOve And Debias (Rong, Leemann, Borisov, Kasneci & Kasneci 2022, "A Consistent and
 * Efficient Evaluation Strategy for Attribution Methods", ICML): remove a share of the pixels,
 * most relevant first (MoRF, lower curve = more faithful) or least relevant first (LeRF, higher
 * = more faithful), and score the image with the removed pixels filled by noisy linear
 * imputation, which leaks far less of the removal mask's shape to the model than a constant
 * fill does: a black blob cut out of an image can itself look like an object.
 * The imputation is in linear-imputation.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelAdapter, Target } from '../model/types';
import type { CurveMetric } from '../../shared/protocol/explain';
import { throwIfCancelled, UserError } from '../../shared/errors';
import { batchSizeOf, singleImage } from '../explain/methods/request-checks';
import { yieldToEventLoop } from '../util/event-loop';
import { DEFAULT_SEED, gaussianSource, mulberry32 } from '../util/seeded-random';
import { checkSaliency, importanceOrder } from './pixel-order';
import { trapezoidAuc } from './curve-auc';
import { noisyLinearImputation } from './linear-imputation';

/** Percent of pixels removed at each point of the curves. */
export const DEFAULT_ROAD_PERCENTAGES: readonly number[] = [10, 20, 30, 40, 50, 60, 70, 80, 90];

/** Noise standard deviation as a share of the input's value range. */
export const DEFAULT_ROAD_NOISE = 0.01;

export interface RoadOptions {
  /** Percent of pixels removed at each point, strictly increasing in (0, 100); default 10, 20, …, 90. */
  percentages?: readonly number[];
  /** Noise standard deviation in input units; default DEFAULT_ROAD_NOISE × the input range. */
  noiseStd?: number;
  /** [min, max] of the preprocessed value range; the input's own min and max when absent. */
  inputRange?: [number, number];
  seed?: number;
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

export interface RoadResult {
  /** Most relevant first: lower is more faithful. */
  morf: CurveMetric;
  /** Least relevant first: higher is more faithful. */
  lerf: CurveMetric;
  /** The removed fractions, p / 100: the curves' x values. AUCs are trapezoid areas over them. */
  fractions: number[];
}

function checkPercentages(ps: readonly number[]): void {
  const ok = ps.length >= 2 && ps.every((p, i) => Number.isFinite(p) && p > 0 && p < 100 && (i === 0 || p > ps[i - 1]));
  if (!ok) throw new UserError(`ROAD needs at least two strictly increasing percentages between 0 and 100, got [${ps.join(', ')}]`);
}

/**
 * ROAD curves of a saliency map (h × w, higher = more important): the target's score after
 * removing each percentage of pixels, MoRF (in importanceOrder) and LeRF (in reverse), with
 * noisy linear imputation. The imputed images are scored in batches.
 */
export async function road(
  adapter: ModelAdapter, input: tf.Tensor4D, target: Target, saliency: ArrayLike<number>, opts: RoadOptions = {},
): Promise<RoadResult> {
  const [h, w, c] = singleImage('ROAD', input);
  checkSaliency(saliency, h, w);
  const percentages = opts.percentages ?? DEFAULT_ROAD_PERCENTAGES;
  checkPercentages(percentages);
  const image = (await input.data()) as Float32Array;
  let noiseStd = opts.noiseStd;
  if (noiseStd === undefined) {
    let [lo, hi] = opts.inputRange ?? [Infinity, -Infinity];
    if (!opts.inputRange) for (const v of image) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    noiseStd = DEFAULT_ROAD_NOISE * (hi - lo);
  }
  if (!(noiseStd >= 0) || !Number.isFinite(noiseStd)) throw new UserError(`ROAD noise must be a non-negative number, got ${noiseStd}`);
  const noise = gaussianSource(mulberry32(opts.seed ?? DEFAULT_SEED));
  const order = importanceOrder(saliency);
  const pixels = h * w;
  const size = pixels * c;
  const total = 2 * percentages.length;

  // One image per (ordering, percentage): MoRF's first, then LeRF's. Each batch is imputed just
  // before it is scored, so memory holds one batch of images at a time.
  const imputed = (k: number): Float32Array => {
    const lerf = k >= percentages.length;
    const p = percentages[k % percentages.length];
    const count = Math.round((p / 100) * pixels);
    const removed = new Uint8Array(pixels);
    for (let j = 0; j < count; j++) removed[order[lerf ? pixels - 1 - j : j]] = 1;
    return noisyLinearImputation(image, h, w, c, removed, noiseStd, noise);
  };
  const batchSize = batchSizeOf(opts.batchSize);
  const scores = new Float32Array(total);
  for (let start = 0; start < total; start += batchSize) {
    const n = Math.min(batchSize, total - start);
    const batch = new Float32Array(n * size);
    for (let k = 0; k < n; k++) {
      // Each imputation is a linear solve in JS: let events (a cancel request) in between.
      await yieldToEventLoop();
      throwIfCancelled(opts.signal);
      batch.set(imputed(start + k), k * size);
      opts.onProgress?.((start + k + 1) / (total + 1));
    }
    const s = tf.tidy(() => adapter.score(tf.tensor4d(batch, [n, h, w, c]), target));
    try {
      scores.set(await s.data(), start);
    } finally {
      s.dispose();
    }
  }
  opts.onProgress?.(1);
  const fractions = percentages.map((p) => p / 100);
  const curve = (from: number) => Array.from(scores.subarray(from, from + percentages.length));
  const morf = curve(0);
  const lerf = curve(percentages.length);
  return {
    morf: { auc: trapezoidAuc(fractions, morf), curve: morf },
    lerf: { auc: trapezoidAuc(fractions, lerf), curve: lerf },
    fractions,
  };
}

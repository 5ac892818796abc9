/**
 * The deletion and insertion metrics of RISE (Petsiuk, Das & Saenko 2018, "Evaluation"):
 * - deletion removes the pixels from most to least important (setting them to the black image)
 *   and tracks the target's score: the faster it falls, the lower the area under the curve, the
 *   more faithful the map;
 * - insertion starts from a blurred copy of the input and puts the original pixels back in the
 *   same order: the faster the score rises, the higher the area, the better.
 * Each curve has steps + 1 points, after removing / inserting 0, n₁, …, all pixels, with nₖ =
 * round(k · H·W / steps) (equal chunks); its AUC is the trapezoid rule over the fraction of
 * pixels nₖ / (H·W) ∈ [0, 1].
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelAdapter, Target } from '../model/types';
import type { CurveMetric } from '../../shared/protocol/explain';
import { UserError } from '../../shared/errors';
import { gaussianBlur } from '../explain/blur';
import { batchSizeOf, singleImage } from '../explain/methods/request-checks';
import { checkSaliency, importanceOrder } from './pixel-order';
import { trapezoidAuc } from './curve-auc';
import { scoreInBatches } from './score-batches';

export const DEFAULT_CURVE_STEPS = 32;

export interface CurveOptions {
  /** Number of equal chunks of pixels (default 32): the curve has steps + 1 points. */
  steps?: number;
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

export interface DeletionOptions extends CurveOptions {
  /** What deleted pixels become, [1, h, w, c]; zeros when absent. */
  black?: tf.Tensor4D;
}

export interface InsertionOptions extends CurveOptions {
  /**
   * σ in pixels of the blurred canvas. Default: the paper's σ = 5 px at 224 px, scaled with the
   * input's shorter side.
   */
  blurSigma?: number;
}

export interface DeletionInsertion {
  deletion: CurveMetric;
  insertion: CurveMetric;
}

/** The default σ of the insertion metric's blurred canvas for an h × w input. */
export function insertionBlurSigma(h: number, w: number): number {
  return (5 * Math.min(h, w)) / 224;
}

/** Pixels changed after each of the steps + 1 points: round(k · pixels / steps). */
export function curveCounts(pixels: number, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new UserError(`the number of curve steps must be a positive whole number, got ${steps}`);
  return Array.from({ length: steps + 1 }, (_, k) => Math.round((k * pixels) / steps));
}

/** A curve from `from` (nothing changed) towards `to` (all pixels changed). */
interface CurveSpec {
  from: tf.Tensor4D;
  to: tf.Tensor4D;
}

/**
 * Scores every curve's images: image k of a curve is `from` with its nₖ most important pixels
 * (all channels) taken from `to`. The images are assembled in plain typed arrays, batch by batch
 * (cheaper than masking with tensor ops on the cpu and wasm backends), and all curves' images
 * share the batches.
 */
async function scoreCurves(
  adapter: ModelAdapter, target: Target, order: Int32Array, counts: number[], specs: CurveSpec[], opts: CurveOptions,
): Promise<CurveMetric[]> {
  const [, h, w, depth] = specs[0].from.shape;
  const pixels = h * w;
  const size = pixels * depth;
  const perCurve = counts.length;
  const total = perCurve * specs.length;
  const data = await Promise.all(specs.map(async (s) => ({ from: (await s.from.data()) as Float32Array, to: (await s.to.data()) as Float32Array })));
  const batch = new Float32Array(Math.min(batchSizeOf(opts.batchSize), total) * size);
  const scores = await scoreInBatches(adapter, target, total, (start, n) => {
    for (let k = 0; k < n; k++) {
      const curve = Math.floor((start + k) / perCurve);
      const { from, to } = data[curve];
      const o = k * size;
      batch.set(from, o);
      for (let j = 0; j < counts[(start + k) % perCurve]; j++) {
        const v = order[j] * depth;
        for (let ch = 0; ch < depth; ch++) batch[o + v + ch] = to[v + ch];
      }
    }
    return tf.tensor4d(batch.subarray(0, n * size), [n, h, w, depth]);
  }, { batchSize: opts.batchSize, signal: opts.signal, onScored: (done) => opts.onProgress?.(done / total) });
  const xs = counts.map((n) => n / pixels);
  return specs.map((_, c) => {
    const curve = Array.from(scores.subarray(c * perCurve, (c + 1) * perCurve));
    return { auc: trapezoidAuc(xs, curve), curve };
  });
}

function prepare(input: tf.Tensor4D, saliency: ArrayLike<number>, steps: number | undefined, black?: tf.Tensor4D) {
  const [h, w] = singleImage('the deletion/insertion metric', input, black);
  checkSaliency(saliency, h, w);
  return { h, w, order: importanceOrder(saliency), counts: curveCounts(h * w, steps ?? DEFAULT_CURVE_STEPS) };
}

/** Deletion alone: the score as the most important pixels are set to `black` (lower AUC = better). */
export async function deletionCurve(
  adapter: ModelAdapter, input: tf.Tensor4D, target: Target, saliency: ArrayLike<number>, opts: DeletionOptions = {},
): Promise<CurveMetric> {
  const { order, counts } = prepare(input, saliency, opts.steps, opts.black);
  const black = opts.black ?? tf.zerosLike(input);
  try {
    return (await scoreCurves(adapter, target, order, counts, [{ from: input, to: black }], opts))[0];
  } finally {
    if (black !== opts.black) black.dispose();
  }
}

/** Insertion alone: the score as the most important pixels return onto a blurred canvas (higher AUC = better). */
export async function insertionCurve(
  adapter: ModelAdapter, input: tf.Tensor4D, target: Target, saliency: ArrayLike<number>, opts: InsertionOptions = {},
): Promise<CurveMetric> {
  const { h, w, order, counts } = prepare(input, saliency, opts.steps);
  const blurred = gaussianBlur(input, opts.blurSigma ?? insertionBlurSigma(h, w));
  try {
    return (await scoreCurves(adapter, target, order, counts, [{ from: blurred, to: input }], opts))[0];
  } finally {
    blurred.dispose();
  }
}

/** Both curves, their images batched together. */
export async function deletionInsertion(
  adapter: ModelAdapter, input: tf.Tensor4D, target: Target, saliency: ArrayLike<number>, opts: DeletionOptions & InsertionOptions = {},
): Promise<DeletionInsertion> {
  const { h, w, order, counts } = prepare(input, saliency, opts.steps, opts.black);
  const black = opts.black ?? tf.zerosLike(input);
  const blurred = gaussianBlur(input, opts.blurSigma ?? insertionBlurSigma(h, w));
  try {
    const [deletion, insertion] = await scoreCurves(adapter, target, order, counts, [{ from: input, to: black }, { from: blurred, to: input }], opts);
    return { deletion, insertion };
  } finally {
    blurred.dispose();
    if (black !== opts.black) black.dispose();
  }
}

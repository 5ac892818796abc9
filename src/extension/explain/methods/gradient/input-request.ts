/**
 * Helpers shared by the input-space methods (Gradient, Gradient × Input, SmoothGrad, Integrated
 * Gradients, Guided Backprop): the black image, the input's value range, and the final
 * [1, h, w, c] → [h, w] channel sum. Parameter and shape checks are in request-checks.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../../../shared/errors';
import type { ExplanationMap } from '../../explainer';

/** The black image: a copy of `black` when given (shape checked by singleImage), else zeros. */
export function blackImage(black: tf.Tensor4D | undefined, input: tf.Tensor4D): tf.Tensor4D {
  return black === undefined ? tf.zerosLike(input) : tf.clone(black);
}

/** [min, max] of the preprocessed value range: req.inputRange, else the input's own min and max. */
export async function valueRange(inputRange: [number, number] | undefined, input: tf.Tensor4D, label: string): Promise<[number, number]> {
  if (inputRange !== undefined) {
    const [lo, hi] = inputRange;
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi < lo) throw new UserError(`${label}: the input range [${lo}, ${hi}] is not a finite [min, max]`);
    return [lo, hi];
  }
  const ext = tf.tidy(() => tf.stack([tf.min(input), tf.max(input)]));
  const [lo, hi] = await ext.data();
  ext.dispose();
  return [lo, hi];
}

/**
 * The map of an input-space attribution [1, h, w, c]: its sum over channels, signed. Disposes
 * `attribution`.
 */
export async function channelSumMap(attribution: tf.Tensor4D, stats?: Record<string, number>): Promise<ExplanationMap> {
  const [, height, width] = attribution.shape;
  const summed = tf.tidy(() => tf.sum(attribution, -1));
  attribution.dispose();
  const data = (await summed.data()) as Float32Array;
  summed.dispose();
  return stats ? { data, height, width, signed: true, stats } : { data, height, width, signed: true };
}

/**
 * One captured pass for the attention views (image maps, token views, the CLI): with the
 * gradients of a class for gradient-weighted rollout (the given class, else the top
 * prediction), and the model's top predictions when its output is one score per class.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AttentionMode } from '../../shared/attention';
import { topK, type Prediction } from '../explain/explain-image';
import type { AttentionCapture, AttentionModel } from './attention-model';

/** How many predictions the attention views report. */
const PREDICTIONS = 5;

/** Index of the largest value (the first of equals). */
function argMax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/**
 * The pass a mode needs: grad-rollout captures the gradients of `target` (default: the top
 * prediction, found by a first pass) and says which class that was; other modes, one plain pass.
 */
export function captureFor(model: AttentionModel, inputs: tf.Tensor[], mode: AttentionMode, target?: number): { cap: AttentionCapture; target?: number } {
  if (mode !== 'grad-rollout') return { cap: model.capture(inputs) };
  const t = target ?? argMax(model.capture(inputs).output);
  return { cap: model.capture(inputs, { gradientTarget: t }), target: t };
}

/** One class of the output, with its label when the model has labels. */
export function classOf(model: AttentionModel, output: Float32Array, index: number): Prediction {
  const label = model.labels?.[index];
  return { index, probability: output[index], ...(label !== undefined ? { label } : {}) };
}

/** The most probable classes, or undefined when the output is not one score per class (e.g. a sequence). */
export function predictionsOf(model: AttentionModel, output: Float32Array): Prediction[] | undefined {
  return model.classOutput ? topK(output, PREDICTIONS, model.labels) : undefined;
}

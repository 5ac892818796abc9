/** Turning model outputs into the scalar an explanation explains. */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../shared/errors';
import type { HeadActivation, Target } from './types';

/** Applies the model's head activation to logits. */
export function applyHead(logits: tf.Tensor2D, head: HeadActivation): tf.Tensor2D {
  if (head === 'softmax') return tf.softmax(logits);
  if (head === 'sigmoid') return tf.sigmoid(logits);
  return logits;
}

/** The target value per batch element, [batch]. Differentiable (slices, no gather). */
export function targetScores(logits: tf.Tensor2D, head: HeadActivation, target: Target): tf.Tensor1D {
  const k = logits.shape[1];
  if (!Number.isInteger(target.index) || target.index < 0 || target.index >= k) {
    throw new UserError(`target index ${target.index} is out of range: the model has ${k} outputs (0..${k - 1})`);
  }
  const scores = target.space === 'probability' ? applyHead(logits, head) : logits;
  return tf.reshape(tf.slice(scores, [0, target.index], [-1, 1]), [-1]);
}

/**
 * Parses a target given by a person: `top`, a class index, or a label (case-insensitive).
 * `top` needs the predictions, so it is resolved by the caller with `topIndex`.
 */
export function parseTargetSpec(spec: string, labels: string[] | undefined, outputSize: number): number | 'top' {
  const s = spec.trim();
  if (s === '' || s.toLowerCase() === 'top') return 'top';
  if (/^\d+$/.test(s)) {
    const i = Number(s);
    if (i >= outputSize) throw new UserError(`target ${i} is out of range: the model has ${outputSize} outputs (0..${outputSize - 1})`);
    return i;
  }
  const i = labels?.findIndex((l) => l.toLowerCase() === s.toLowerCase()) ?? -1;
  if (i < 0) {
    const known = labels && labels.length > 0 ? `known labels: ${labels.slice(0, 20).join(', ')}${labels.length > 20 ? ', …' : ''}` : 'the model has no labels; use a class index';
    throw new UserError(`unknown target "${s}" (${known})`);
  }
  return i;
}

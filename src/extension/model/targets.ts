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

function checkTargetIndex(target: Target, k: number): void {
  if (!Number.isInteger(target.index) || target.index < 0 || target.index >= k) {
    throw new UserError(`target index ${target.index} is out of range: the model has ${k} outputs (0..${k - 1})`);
  }
}

/** The target value per batch element, [batch]. Differentiable (slices, no gather). */
export function targetScores(logits: tf.Tensor2D, head: HeadActivation, target: Target): tf.Tensor1D {
  checkTargetIndex(target, logits.shape[1]);
  const scores = target.space === 'probability' ? applyHead(logits, head) : logits;
  return tf.reshape(tf.slice(scores, [0, target.index], [-1, 1]), [-1]);
}

/** applyHead on plain values: `logits` holds rows of `k` (a forward engine's output). */
export function applyHeadValues(logits: Float32Array, k: number, head: HeadActivation): Float32Array {
  if (head === 'linear') return logits;
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length; r += k) {
    if (head === 'sigmoid') {
      for (let j = r; j < r + k; j++) out[j] = 1 / (1 + Math.exp(-logits[j]));
      continue;
    }
    let max = -Infinity;
    for (let j = r; j < r + k; j++) max = Math.max(max, logits[j]);
    let sum = 0;
    for (let j = r; j < r + k; j++) sum += Math.exp(logits[j] - max);
    for (let j = r; j < r + k; j++) out[j] = Math.exp(logits[j] - max) / sum;
  }
  return out;
}

/** targetScores on plain values: `logits` holds rows of `k`; one score per row. */
export function targetScoreValues(logits: Float32Array, k: number, head: HeadActivation, target: Target): Float32Array {
  checkTargetIndex(target, k);
  const rows = logits.length / k;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * k, (r + 1) * k);
    out[r] = target.space === 'probability' && head !== 'linear' ? applyHeadValues(row, k, head)[target.index] : row[target.index];
  }
  return out;
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

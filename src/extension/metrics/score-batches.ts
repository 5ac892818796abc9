/** Scoring many perturbed images in batches, with cancellation and progress. */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelAdapter, Target } from '../model/types';
import { scoreBatch } from '../model/forward';
import { throwIfCancelled } from '../../shared/errors';
import { batchSizeOf } from '../explain/methods/request-checks';
import { yieldToEventLoop } from '../util/event-loop';

export interface BatchOptions {
  batchSize?: number;
  signal?: AbortSignal;
  /** Called with the number of images scored so far. */
  onScored?: (done: number) => void;
}

/**
 * The target's score on `count` images, built `batchSize` at a time by `makeBatch(start, size)`
 * (a [size, h, w, c] tensor, disposed here). Cancellation is checked before every batch.
 */
export async function scoreInBatches(
  adapter: ModelAdapter,
  target: Target,
  count: number,
  makeBatch: (start: number, size: number) => tf.Tensor4D,
  opts: BatchOptions = {},
): Promise<Float32Array> {
  const batchSize = batchSizeOf(opts.batchSize);
  const scores = new Float32Array(count);
  for (let start = 0; start < count; start += batchSize) {
    if (start > 0) await yieldToEventLoop();
    throwIfCancelled(opts.signal);
    const size = Math.min(batchSize, count - start);
    const x = tf.tidy(() => makeBatch(start, size));
    try {
      scores.set(await scoreBatch(adapter, x, target), start);
    } finally {
      x.dispose();
    }
    opts.onScored?.(start + size);
  }
  return scores;
}

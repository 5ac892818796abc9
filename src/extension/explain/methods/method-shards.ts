/**
 * What the methods that split their loops into shards (RISE, occlusion, Score-CAM, SmoothGrad,
 * Integrated Gradients) share: how many items a shard takes, the image as it crosses threads,
 * per-spread state, and progress counted as shards complete.
 *
 * The split depends on the request alone (item count and batch size), never on how many workers
 * take part: a shard's batches, and the order partial results are added in, are then the same for
 * one worker and for N, so the map is too, bit for bit.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ShardContext } from '../../compute/spread';

/**
 * Shards a method aims for at least: enough for a pool's workers to share the work evenly, and
 * for progress to move in steps of a few percent.
 */
export const MIN_SHARDS = 16;

/**
 * Fewest items in a shard smaller than a batch: below that, a small model's per-call cost shows
 * (on the demo model a batch of 2 costs 1.5× per image what a batch of 8 does, measured on wasm).
 */
export const MIN_SHARD_ITEMS = 8;

/**
 * Items (masks, windows, channels, copies, path points) per shard, from the item count and the
 * batch size alone: two full batches when that still leaves MIN_SHARDS shards (they amortise a
 * shard's set-up and its trip to another worker), else one full batch, else a part batch of
 * total / MIN_SHARDS items but not fewer than MIN_SHARD_ITEMS (nor than a batch holds).
 */
export function shardSize(total: number, batchSize: number): number {
  const even = Math.ceil(total / MIN_SHARDS);
  if (even >= 2 * batchSize) return 2 * batchSize;
  if (even >= batchSize) return batchSize;
  return Math.max(1, Math.min(total, Math.max(even, Math.min(batchSize, MIN_SHARD_ITEMS))));
}

/** The number of shards of `size` items that cover `total` items. */
export function shardCount(total: number, size: number): number {
  return Math.ceil(total / size);
}

/** Items [first, end) of shard `index`. */
export function shardItems(index: number, size: number, total: number): [number, number] {
  const first = index * size;
  return [first, Math.min(total, first + size)];
}

/**
 * An onResult that reports progress as shards complete, in whatever order they do: the fraction
 * of items whose shard is done. It reaches exactly 1 with the last shard.
 */
export function shardProgress(onProgress: ((fraction: number) => void) | undefined, total: number, size: number): ((index: number) => void) | undefined {
  if (!onProgress) return undefined;
  let done = 0;
  return (index) => {
    const [first, end] = shardItems(index, size, total);
    done += end - first;
    onProgress(done / total);
  };
}

/** A single image and its black reference as they cross threads, [1, h, w, c] row-major. */
export interface ImageArrays {
  input: Float32Array;
  /** The black image (zeros when the request has none). */
  black: Float32Array;
  shape: [number, number, number, number];
}

export async function imageArrays(input: tf.Tensor4D, black: tf.Tensor4D | undefined): Promise<ImageArrays> {
  const data = (await input.data()) as Float32Array;
  return { input: data, black: black ? ((await black.data()) as Float32Array) : new Float32Array(data.length), shape: input.shape };
}

/**
 * State a worker keeps while it takes part in one spread (buffers, tensors made from the
 * payload): made by the first shard it computes, reused by the next, released by `release` when
 * its part ends. The payload is the same for every shard of a spread, so the state is too.
 */
export function shardState<T>(ctx: ShardContext, key: string, make: () => T, release?: (state: T) => void): T {
  if (ctx.state.has(key)) return ctx.state.get(key) as T;
  const state = make();
  ctx.state.set(key, state);
  if (release) ctx.onEnd(() => release(state));
  return state;
}

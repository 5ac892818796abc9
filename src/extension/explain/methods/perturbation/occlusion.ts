/**
 * Occlusion (Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks", §4.2):
 * slide a window over the image, replace what it covers by a baseline, and record how much the
 * target's score drops. A pixel's attribution is the mean drop over the windows that cover it
 * (Captum's `Occlusion` convention), so the map has the input's resolution and is signed: a
 * negative value means hiding the pixel raised the score.
 *
 * The occluded images are split into shards of a fixed size (method-shards.ts) that the pool's
 * workers score; the scores come back in window order whoever computed them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Explainer, ExplainRequest, ExplanationMap } from '../../explainer';
import type { ModelAdapter, Target } from '../../../model/types';
import { scoreBatch } from '../../../model/forward';
import { throwIfCancelled } from '../../../../shared/errors';
import { spreadShards, type ShardKind, type Spread } from '../../../compute/spread';
import { gaussianBlur } from '../../blur';
import { batchSizeOf, choiceParam, integerParam, singleImage } from '../request-checks';
import { yieldToEventLoop } from '../../../util/event-loop';
import { shardCount, shardItems, shardProgress, shardSize, shardState } from '../method-shards';

export const OCCLUSION_BASELINES = ['black', 'blurred', 'mean'] as const;
export type OcclusionBaseline = (typeof OCCLUSION_BASELINES)[number];

/** A window's top-left corner, in input pixels. */
export interface WindowCorner {
  y: number;
  x: number;
}

/**
 * Start offsets 0, stride, 2·stride, … of windows of `size` along an axis of `length`, plus a
 * last one flush with the far edge when the stride does not land there, so every pixel is covered.
 */
export function windowStarts(length: number, size: number, stride: number): number[] {
  const starts: number[] = [];
  for (let s = 0; s + size <= length; s += stride) starts.push(s);
  if (starts[starts.length - 1] !== length - size) starts.push(length - size);
  return starts;
}

/** The windows' corners in row-major order (rows of windows top to bottom, each left to right). */
export function occlusionWindows(h: number, w: number, windowH: number, windowW: number, stride: number): WindowCorner[] {
  const ys = windowStarts(h, windowH, stride);
  const xs = windowStarts(w, windowW, stride);
  return ys.flatMap((y) => xs.map((x) => ({ y, x })));
}

export interface WindowDropOptions {
  batchSize?: number;
  signal?: AbortSignal;
  /** Where the shards of windows may go (other workers of the pool); here when absent. */
  spread?: Spread;
  onProgress?: (fraction: number) => void;
}

export interface WindowDrops {
  /** The target's score on the unoccluded input. */
  score: number;
  /** Per window, in the order given: score − score with the window replaced by the baseline. */
  drops: Float32Array;
}

export interface OcclusionPayload {
  /** The input and the baseline, [1, h, w, c] row-major. */
  image: Float32Array;
  baseline: Float32Array;
  shape: [number, number, number, number];
  target: Target;
  /** Window corners (y, x), window after window. */
  corners: Int32Array;
  windowH: number;
  windowW: number;
  batchSize: number;
  /** Images per shard, of the list [unoccluded input, window 0, window 1, …]. */
  perShard: number;
}

/** Shard i: the scores of its images of the list [unoccluded input, window 0, window 1, …]. */
export const occlusionShard: ShardKind<OcclusionPayload, Float32Array> = {
  kind: 'occlusion-windows',
  async run(q, index, ctx) {
    const [, h, w, c] = q.shape;
    const total = q.corners.length / 2 + 1; // image 0 is the unoccluded input
    const [first, end] = shardItems(index, q.perShard, total);
    const size = h * w * c;
    const rowLength = q.windowW * c;
    // The occluded images are assembled in plain typed arrays, one batch at a time: a copy of the
    // input with the window's rows pasted from the baseline. On the cpu and wasm backends this is
    // several times cheaper than the equivalent tensor ops (see bench/perturbation.ts).
    const batch = shardState(ctx, 'occlusion', () => new Float32Array(Math.min(q.batchSize, q.perShard) * size));
    const scores = new Float32Array(end - first);
    for (let start = first; start < end; start += q.batchSize) {
      if (start > first) await yieldToEventLoop();
      throwIfCancelled(ctx.signal);
      const b = Math.min(q.batchSize, end - start);
      for (let k = 0; k < b; k++) {
        batch.set(q.image, k * size);
        const i = start + k - 1;
        if (i < 0) continue; // the unoccluded input
        const [y, x] = [q.corners[2 * i], q.corners[2 * i + 1]];
        for (let r = y; r < y + q.windowH; r++) {
          const from = (r * w + x) * c;
          batch.set(q.baseline.subarray(from, from + rowLength), k * size + from);
        }
      }
      scores.set(await scoreBatch(ctx.adapter, { data: batch.subarray(0, b * size), shape: [b, h, w, c] }, q.target), start - first);
    }
    return scores;
  },
};

/**
 * The score drop of every window: f(x) − f(x with the windowH × windowW window at each corner
 * replaced by `baseline`). The unoccluded input rides along in the first batch, so the model sees
 * windows.length + 1 images, in shards of batches of `batchSize`. `input` and `baseline` are
 * [1, h, w, c].
 */
export async function occlusionDrops(
  adapter: ModelAdapter,
  input: tf.Tensor4D,
  baseline: tf.Tensor4D,
  target: Target,
  windows: readonly WindowCorner[],
  windowH: number,
  windowW: number,
  opts: WindowDropOptions = {},
): Promise<WindowDrops> {
  const batchSize = batchSizeOf(opts.batchSize);
  const total = windows.length + 1;
  const perShard = shardSize(total, batchSize);
  const corners = new Int32Array(2 * windows.length);
  windows.forEach(({ y, x }, i) => corners.set([y, x], 2 * i));
  const payload: OcclusionPayload = {
    image: (await input.data()) as Float32Array, baseline: (await baseline.data()) as Float32Array, shape: input.shape,
    target, corners, windowH, windowW, batchSize, perShard,
  };
  const parts = await spreadShards(opts.spread, occlusionShard, payload, shardCount(total, perShard),
    { adapter, signal: opts.signal, spread: opts.spread }, shardProgress(opts.onProgress, total, perShard));
  const scores = new Float32Array(total);
  parts.forEach((part, i) => scores.set(part, i * perShard));
  const drops = new Float32Array(windows.length);
  for (let i = 0; i < windows.length; i++) drops[i] = scores[0] - scores[i + 1];
  return { score: scores[0], drops };
}

/** Per pixel, the mean drop of the windows that cover it (0 where none does). */
export function averageWindowDrops(
  h: number, w: number, windows: readonly WindowCorner[], drops: ArrayLike<number>, windowH: number, windowW: number,
): Float32Array {
  const sum = new Float64Array(h * w);
  const count = new Uint32Array(h * w);
  windows.forEach(({ y, x }, i) => {
    for (let r = y; r < y + windowH; r++) {
      for (let c = x; c < x + windowW; c++) {
        sum[r * w + c] += drops[i];
        count[r * w + c]++;
      }
    }
  });
  return Float32Array.from(sum, (s, i) => (count[i] > 0 ? s / count[i] : 0));
}

/** The baseline image [1, h, w, c] that replaces the occluded window. */
function baselineImage(kind: OcclusionBaseline, input: tf.Tensor4D, black: tf.Tensor4D | undefined, window: number): tf.Tensor4D {
  if (kind === 'mean') return tf.tidy(() => tf.add(tf.zerosLike(input), tf.mean(input, [1, 2], true)) as tf.Tensor4D);
  // A blur whose σ is half the window wipes out detail at the window's scale.
  if (kind === 'blurred') return gaussianBlur(input, window / 2);
  return black ? tf.clone(black) : tf.zerosLike(input);
}

export const occlusion: Explainer = {
  id: 'occlusion',
  label: 'Occlusion',
  family: 'perturbation',
  needs: { gradients: false, spatialLayer: false },
  params: [
    { key: 'window', label: 'Window', default: 0, min: 0, max: 1024, help: 'Side of the occluding square in input pixels; 0 = about 1/8 of the shorter side.' },
    { key: 'stride', label: 'Stride', default: 0, min: 0, max: 1024, help: 'Step between windows in input pixels; 0 = half the window.' },
    { key: 'baseline', label: 'Baseline', default: 'black', choices: OCCLUSION_BASELINES, help: 'What replaces the window: the black image, a blurred copy of the input, or its mean colour.' },
  ],
  async explain(req: ExplainRequest): Promise<ExplanationMap> {
    const { adapter, input, target, params, signal, onProgress } = req;
    const [height, width] = singleImage('Occlusion', input, req.black);
    const windowParam = integerParam(occlusion, params, 'window');
    const strideParam = integerParam(occlusion, params, 'stride');
    const kind = choiceParam<OcclusionBaseline>(occlusion, params, 'baseline');
    const window = windowParam > 0 ? windowParam : Math.max(1, Math.round(Math.min(height, width) / 8));
    // A window larger than the image covers the whole of that axis.
    const windowH = Math.min(window, height);
    const windowW = Math.min(window, width);
    const stride = strideParam > 0 ? strideParam : Math.max(1, Math.floor(window / 2));
    throwIfCancelled(signal);
    const windows = occlusionWindows(height, width, windowH, windowW, stride);
    const baseline = baselineImage(kind, input, req.black, window);
    let result: WindowDrops;
    try {
      result = await occlusionDrops(adapter, input, baseline, target, windows, windowH, windowW, { batchSize: req.batchSize, signal, spread: req.spread, onProgress });
    } finally {
      baseline.dispose();
    }
    const data = averageWindowDrops(height, width, windows, result.drops, windowH, windowW);
    return { data, height, width, signed: true, stats: { window, stride, windows: windows.length, score: result.score } };
  },
};

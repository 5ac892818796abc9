/**
 * Occlusion (Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks", §4.2):
 * slide a window over the image, replace what it covers by a baseline, and record how much the
 * target's score drops. A pixel's attribution is the mean drop over the windows that cover it
 * (Captum's `Occlusion` convention), so the map has the input's resolution and is signed: a
 * negative value means hiding the pixel raised the score.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Explainer, ExplainRequest, ExplanationMap } from '../explainer';
import type { ModelAdapter, Target } from '../../model/types';
import { throwIfCancelled } from '../../../shared/errors';
import { gaussianBlur } from '../blur';
import { batchSizeOf, choiceParam, integerParam, singleImage } from './request-checks';
import { yieldToEventLoop } from './event-loop';

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
  onProgress?: (fraction: number) => void;
}

export interface WindowDrops {
  /** The target's score on the unoccluded input. */
  score: number;
  /** Per window, in the order given: score − score with the window replaced by the baseline. */
  drops: Float32Array;
}

/**
 * The score drop of every window: f(x) − f(x with the windowH × windowW window at each corner
 * replaced by `baseline`). The unoccluded input rides along in the first batch, so the model sees
 * windows.length + 1 images in batches of `batchSize`. `input` and `baseline` are [1, h, w, c].
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
  const [, h, w, c] = input.shape;
  const batchSize = batchSizeOf(opts.batchSize);
  const total = windows.length + 1; // image 0 is the unoccluded input
  const scores = new Float32Array(total);
  // The occluded images are assembled in plain typed arrays, one batch at a time: a copy of the
  // input with the window's rows pasted from the baseline. On the cpu and wasm backends this is
  // several times cheaper than the equivalent tensor ops (see bench/perturbation.ts).
  const image = (await input.data()) as Float32Array;
  const base = (await baseline.data()) as Float32Array;
  const size = h * w * c;
  const rowLength = windowW * c;
  const batch = new Float32Array(Math.min(batchSize, total) * size);
  for (let start = 0; start < total; start += batchSize) {
    if (start > 0) await yieldToEventLoop();
    throwIfCancelled(opts.signal);
    const b = Math.min(batchSize, total - start);
    for (let k = 0; k < b; k++) {
      batch.set(image, k * size);
      const i = start + k - 1;
      if (i < 0) continue; // the unoccluded input
      for (let r = windows[i].y; r < windows[i].y + windowH; r++) {
        const from = (r * w + windows[i].x) * c;
        batch.set(base.subarray(from, from + rowLength), k * size + from);
      }
    }
    const batchScores = tf.tidy(() => adapter.score(tf.tensor4d(batch.subarray(0, b * size), [b, h, w, c]), target));
    try {
      scores.set(await batchScores.data(), start);
    } finally {
      batchScores.dispose();
    }
    opts.onProgress?.((start + b) / total);
  }
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
      result = await occlusionDrops(adapter, input, baseline, target, windows, windowH, windowW, { batchSize: req.batchSize, signal, onProgress });
    } finally {
      baseline.dispose();
    }
    const data = averageWindowDrops(height, width, windows, result.drops, windowH, windowW);
    return { data, height, width, signed: true, stats: { window, stride, windows: windows.length, score: result.score } };
  },
};

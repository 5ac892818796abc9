/**
 * Input-space attributions of a BATCH of inputs, [n, h, w, c] → [n, h, w, c], one function per
 * base method. The Explainers (Gradient, Gradient × Input, Guided Backprop, Integrated Gradients)
 * run them on their one input; SmoothGrad runs the same functions on batches of noisy copies, so
 * with zero noise it computes exactly what its base method computes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { throwIfCancelled } from '../../../../shared/errors';
import type { ModelAdapter, ReluBackward, Target } from '../../../model/types';
import { yieldToEventLoop } from '../../../util/event-loop';

/** The methods SmoothGrad can wrap. */
export const BASE_ATTRIBUTIONS = ['gradient', 'gradxinput', 'guidedbp', 'ig'] as const;
export type BaseAttribution = (typeof BASE_ATTRIBUTIONS)[number];

/**
 * The guided backward rule of a ReLU (Springenberg et al. 2015, eq. in Fig. 1): the gradient
 * passes only where the forward input was positive AND the incoming gradient is positive,
 * R_l = 1[f_l > 0] · 1[R_{l+1} > 0] · R_{l+1}. The hook's `grad` is already dy masked by the
 * forward activity (for ReLU6 also by y < 6), so relu(grad) adds the second condition.
 */
export const guidedReluBackward: ReluBackward = (_dy, grad) => tf.relu(grad);

/** Vanilla gradient (Simonyan et al. 2014): ∂F/∂x for every input of the batch. */
export function gradientAttribution(adapter: ModelAdapter, xs: tf.Tensor4D, target: Target): tf.Tensor4D {
  return tf.tidy(() => adapter.inputGradient(xs, target).grad as tf.Tensor4D);
}

/**
 * Gradient × Input (Shrikumar et al. 2016), taken relative to a reference: ∂F/∂x ⊙ (x − black).
 * `black` is [1, h, w, c] (shared by the batch) or [n, h, w, c].
 */
export function gradientTimesInputAttribution(adapter: ModelAdapter, xs: tf.Tensor4D, target: Target, black: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.mul(adapter.inputGradient(xs, target).grad, tf.sub(xs, black)) as tf.Tensor4D);
}

/** Guided Backprop (Springenberg et al. 2015): the input gradient under the guided ReLU rule. */
export function guidedBackpropAttribution(adapter: ModelAdapter, xs: tf.Tensor4D, target: Target): tf.Tensor4D {
  return tf.tidy(() => adapter.inputGradient(xs, target, { reluBackward: guidedReluBackward }).grad as tf.Tensor4D);
}

export interface PathOptions {
  /** Number of equal intervals of the trapezoid rule: steps + 1 gradient evaluations per input. */
  steps: number;
  /** Largest number of path points pushed through the model at once. */
  batchSize: number;
  /**
   * Only the nodes [from, to) of the list of all inputs' nodes (input i's node k is number
   * i · (steps + 1) + k): a shard's part of the sum. The parts of a split add up to the whole.
   */
  nodes?: [number, number];
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

export interface PathIntegral {
  /**
   * (x − x′) ⊙ the path-averaged gradient, [n, h, w, c] (with `nodes`: the sum over those nodes
   * only, zero for inputs with none of them); the caller disposes it.
   */
  attribution: tf.Tensor4D;
  /** F(x) per input: the score at the path's end (α = 1); NaN when `nodes` leaves that node out. */
  fx: Float64Array;
  /** F(x′) per input: the score at the path's start (α = 0); NaN when `nodes` leaves that node out. */
  fBaseline: Float64Array;
}

/**
 * Integrated Gradients (Sundararajan et al. 2017, eq. 1):
 *   IG_i(x) = (x_i − x′_i) · ∫₀¹ ∂F(x′ + α(x − x′)) / ∂x_i dα,
 * the integral by the trapezoid rule over `steps` = m equal intervals: nodes α_k = k/m,
 * weights 1/(2m) at α = 0 and α = 1 and 1/m between (eq. 3 is the right Riemann sum; the
 * trapezoid rule has the same cost plus one node and error O(1/m²) instead of O(1/m) where F is
 * smooth along the path). The nodes of all inputs form one list cut into batches, so batches stay
 * full whatever the input count. Completeness (Prop. 1: Σ_i IG_i = F(x) − F(x′)) holds up to
 * the quadrature error; both endpoint scores are returned to measure it.
 *
 * `baselines` is [1, h, w, c] (shared) or [n, h, w, c].
 */
export async function integratedGradientsAttribution(
  adapter: ModelAdapter,
  xs: tf.Tensor4D,
  baselines: tf.Tensor4D,
  target: Target,
  { steps: m, batchSize, nodes, signal, onProgress }: PathOptions,
): Promise<PathIntegral> {
  const n = xs.shape[0];
  const perInput = m + 1;
  const [from, to] = nodes ?? [0, n * perInput];
  const fx = new Float64Array(n).fill(NaN);
  const fBaseline = new Float64Array(n).fill(NaN);
  const diff = tf.sub(xs, baselines) as tf.Tensor4D; // x − x′, [n, h, w, c]
  const starts = tf.tidy(() => tf.add(tf.zerosLike(xs), baselines)) as tf.Tensor4D; // x′, [n, h, w, c]
  // Σ_k w_k ∇F(x′ + α_k (x − x′)) per input, flattened to [n, h·w·c].
  let weighted = tf.zeros([n, xs.size / n]) as tf.Tensor2D;
  try {
    for (let start = from; start < to; start += batchSize) {
      throwIfCancelled(signal);
      const b = Math.min(batchSize, to - start);
      const owner = new Int32Array(b); // which input each node of the batch belongs to
      const step = new Int32Array(b); // k of each node
      const alpha = new Float32Array(b);
      // scatter[i, j] = w_k when node j belongs to input i: one matmul sums the weighted gradients
      // into their inputs.
      const scatter = new Float32Array(n * b);
      for (let j = 0; j < b; j++) {
        const p = start + j;
        owner[j] = Math.floor(p / perInput);
        step[j] = p % perInput;
        alpha[j] = step[j] / m;
        scatter[owner[j] * b + j] = step[j] === 0 || step[j] === m ? 0.5 / m : 1 / m;
      }
      const [next, scores] = tf.tidy(() => {
        const idx = tf.tensor1d(owner, 'int32');
        const points = tf.add(tf.gather(starts, idx), tf.mul(tf.tensor4d(alpha, [b, 1, 1, 1]), tf.gather(diff, idx))) as tf.Tensor4D;
        const { grad, scores: s } = adapter.inputGradient(points, target);
        return [tf.add(weighted, tf.matMul(tf.tensor2d(scatter, [n, b]), tf.reshape(grad, [b, -1]))) as tf.Tensor2D, s];
      });
      weighted.dispose();
      weighted = next;
      const s = await scores.data();
      scores.dispose();
      for (let j = 0; j < b; j++) {
        if (step[j] === 0) fBaseline[owner[j]] = s[j];
        if (step[j] === m) fx[owner[j]] = s[j];
      }
      onProgress?.((start + b - from) / (to - from));
      await yieldToEventLoop();
    }
    throwIfCancelled(signal);
    const attribution = tf.tidy(() => tf.mul(diff, tf.reshape(weighted, xs.shape)) as tf.Tensor4D);
    return { attribution, fx, fBaseline };
  } finally {
    tf.dispose([diff, starts, weighted]);
  }
}

export interface BatchContext {
  adapter: ModelAdapter;
  target: Target;
  /** The reference of Gradient × Input and the baseline of IG, [1, h, w, c]. */
  black: tf.Tensor4D;
  /** IG's interval count. */
  steps: number;
  batchSize: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

/** The attribution of a batch by the named base method, [n, h, w, c]; the caller disposes it. */
export async function attributeBatch(kind: BaseAttribution, xs: tf.Tensor4D, ctx: BatchContext): Promise<tf.Tensor4D> {
  switch (kind) {
    case 'gradient':
      return gradientAttribution(ctx.adapter, xs, ctx.target);
    case 'gradxinput':
      return gradientTimesInputAttribution(ctx.adapter, xs, ctx.target, ctx.black);
    case 'guidedbp':
      return guidedBackpropAttribution(ctx.adapter, xs, ctx.target);
    case 'ig':
      return (await integratedGradientsAttribution(ctx.adapter, xs, ctx.black, ctx.target, ctx)).attribution;
  }
}

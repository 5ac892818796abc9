/**
 * Score-CAM (Wang et al. 2020, Algorithm 1): no gradients. Each channel A_k of the layer, upsampled
 * to the input size and min–max normalised, masks the input; the channel's weight is how much the
 * masked input raises the target score over the baseline, the "increase of confidence"
 * C_k = S(X ∘ H_k) − S(X_b), turned into a distribution by a softmax over the channels; the map is
 * relu(Σ_k w_k A_k). The softmax is shift-invariant, softmax(C) = softmax(S(X ∘ H)), so the
 * baseline's forward pass would not change any weight and is skipped.
 *
 * Masking keeps the baseline where the mask is 0: X ∘ H_k = black + (x − black) · H_k, so a black
 * pixel stays black under any preprocessing. The score is the target's probability when the head
 * is a softmax (as in the paper: bounded scores keep the weights from collapsing onto one channel),
 * the logit otherwise, whatever the request's target space.
 *
 * The channels' masked forward passes are split into shards of a fixed size (method-shards.ts)
 * that the pool's workers compute. The layer's activation is computed once, here, and sent with
 * the shards: one forward pass and a few hundred kilobytes, where recomputing it would cost every
 * helping worker a forward pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spatialLayerOrThrow } from '../../../model/layer-info';
import type { Target } from '../../../model/types';
import { scoreBatch } from '../../../model/forward';
import { throwIfCancelled } from '../../../../shared/errors';
import { spreadShards, type ShardKind } from '../../../compute/spread';
import type { Explainer, ExplainRequest, ExplanationMap } from '../../explainer';
import { camMap, reluChannelSum } from './cam-base';
import { yieldToEventLoop } from '../../../util/event-loop';
import { batchSizeOf, singleImage } from '../request-checks';
import { imageArrays, shardCount, shardItems, shardProgress, shardSize, shardState, type ImageArrays } from '../method-shards';

/** Keeps (A − min) / (max − min + ε) finite, and zero, for a constant channel. */
const EPS = 1e-8;

/** softmax over the channels, computed stably in double precision. */
export function softmaxWeights(scores: ArrayLike<number>): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) max = Math.max(max, scores[i]);
  const e = Array.from(scores, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return Float32Array.from(e, (v) => v / sum);
}

export interface ScoreCamWeights {
  /** softmax over the channels of the masked scores, [channels]; sums to 1. */
  weights: Float32Array;
  /** S(X ∘ H_k) per channel, in the space described above. */
  scores: Float32Array;
}

export interface ScoreCamPayload extends ImageArrays {
  /** The layer's output for the input, [1, h, w, channels] row-major. */
  activation: Float32Array;
  activationShape: [number, number, number, number];
  /** The target in the space Score-CAM scores. */
  target: Target;
  batchSize: number;
  /** Channels per shard. */
  perShard: number;
}

/** A worker's tensors for one spread. */
interface ScoreCamTensors {
  /** The masks channel-major, [channels, h, w, 1]. */
  masks: tf.Tensor4D;
  /** black and x − black repeated to a full batch. */
  blackBatch: tf.Tensor4D;
  diffBatch: tf.Tensor4D;
  copies: number;
}

function scoreCamTensors(q: ScoreCamPayload): ScoreCamTensors {
  // Elementwise ops between same-shape tensors are several times faster than broadcasting ones
  // on the cpu and wasm backends: black and x − black are repeated to a full batch once.
  const copies = Math.min(q.batchSize, q.perShard);
  return tf.tidy(() => {
    const input = tf.tensor4d(q.input, q.shape);
    const black = tf.tensor4d(q.black, q.shape);
    return {
      masks: tf.transpose(tf.tensor4d(q.activation, q.activationShape), [3, 1, 2, 0]),
      blackBatch: tf.concat(Array(copies).fill(black)),
      diffBatch: tf.concat(Array(copies).fill(tf.sub(input, black))),
      copies,
    };
  });
}

/** Shard i: S(X ∘ H_k) for its channels k. */
export const scoreCamShard: ShardKind<ScoreCamPayload, Float32Array> = {
  kind: 'score-cam-channels',
  async run(q, index, ctx) {
    const [, low, lowW, channels] = q.activationShape;
    const [, height, width, depth] = q.shape;
    const [first, end] = shardItems(index, q.perShard, channels);
    const { masks, blackBatch, diffBatch, copies } = shardState(ctx, 'score-cam', () => scoreCamTensors(q), (t) => tf.dispose([t.masks, t.blackBatch, t.diffBatch]));
    const scores = new Float32Array(end - first);
    for (let start = first; start < end; start += q.batchSize) {
      if (start > first) await yieldToEventLoop();
      throwIfCancelled(ctx.signal);
      const n = Math.min(q.batchSize, end - start);
      const masked = tf.tidy(() => {
        const a = tf.slice(masks, [start, 0, 0, 0], [n, -1, -1, -1]) as tf.Tensor4D; // [n, h, w, 1]
        const up = tf.image.resizeBilinear(a, [height, width], false, true);
        const min = tf.min(up, [1, 2, 3], true);
        const range = tf.sub(tf.max(up, [1, 2, 3], true), min);
        // Bilinear resizing preserves affine maps (its weights sum to 1), so normalising at the
        // layer's resolution by the upsampled min and range, then upsampling, gives the same mask.
        // It is spread over the input's channels there too (an [n·h·w, 1] × [1, c] product).
        const a01 = tf.div(tf.sub(a, min), tf.add(range, EPS));
        const spread = tf.reshape(tf.matMul(tf.reshape(a01, [-1, 1]), tf.ones([1, depth])), [n, low, lowW, depth]) as tf.Tensor4D;
        const mask = tf.image.resizeBilinear(spread, [height, width], false, true); // [n, H, W, c] in [0, 1)
        const part = (t: tf.Tensor) => (n === copies ? t : tf.slice(t, 0, n));
        return tf.add(part(blackBatch), tf.mul(part(diffBatch), mask)) as tf.Tensor4D;
      });
      try {
        scores.set(await scoreBatch(ctx.adapter, masked, q.target), start - first);
      } finally {
        masked.dispose();
      }
    }
    return scores;
  },
};

/**
 * Score-CAM's channel weights for `activation` ([1, h, w, channels], the layer's output for
 * req.input). The masked inputs are built on the backend, batch by batch, and go through the model
 * in batches of req.batchSize, in shards spread over req.spread.
 */
export async function scoreCamWeights(req: ExplainRequest, activation: tf.Tensor4D): Promise<ScoreCamWeights> {
  const { adapter, input, target, signal, onProgress } = req;
  const channels = activation.shape[3];
  const batchSize = batchSizeOf(req.batchSize);
  const space: Target['space'] = adapter.headActivation === 'softmax' ? 'probability' : 'logit';
  const perShard = shardSize(channels, batchSize);
  const payload: ScoreCamPayload = {
    ...(await imageArrays(input, req.black)),
    activation: (await activation.data()) as Float32Array, activationShape: activation.shape,
    target: { index: target.index, space }, batchSize, perShard,
  };
  const parts = await spreadShards(req.spread, scoreCamShard, payload, shardCount(channels, perShard),
    { adapter, signal, spread: req.spread }, shardProgress(onProgress, channels, perShard));
  const scores = new Float32Array(channels);
  parts.forEach((part, i) => scores.set(part, i * perShard));
  return { weights: softmaxWeights(scores), scores };
}

export const scoreCam: Explainer = {
  id: 'scorecam',
  label: 'Score-CAM',
  family: 'cam',
  needs: { gradients: false, spatialLayer: true },
  params: [],
  async explain(req: ExplainRequest): Promise<ExplanationMap> {
    const { adapter, input, layer, signal } = req;
    const info = spatialLayerOrThrow(adapter.layers, layer, 'Score-CAM');
    singleImage('Score-CAM', input, req.black);
    throwIfCancelled(signal);
    const activation = adapter.activations(input, info.name) as tf.Tensor4D;
    try {
      const { weights } = await scoreCamWeights(req, activation);
      const map = tf.tidy(() => reluChannelSum(tf.mul(activation, tf.tensor1d(weights))));
      return await camMap(map, info.name);
    } finally {
      activation.dispose();
    }
  },
};

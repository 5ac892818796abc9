/**
 * SmoothGrad (Smilkov et al. 2017, eq. 3): the average of a base attribution over n noisy copies
 * of the input, M̂(x) = 1/n Σ_{k=1..n} M(x + N(0, σ²)), with σ a fraction of the input's value
 * range (the paper's "noise level" σ / (x_max − x_min), best around 10–20%). The base is any
 * input-space method; the copies go through it in batches, each batch one batched attribution.
 * The noise of copy k is the k-th block of one seeded stream, so the map does not depend on the
 * batch size, and with σ = 0 it is the base method's map.
 *
 * The work is split into shards of a fixed size (method-shards.ts) that the pool's workers
 * compute: shards of copies, or with Integrated Gradients as the base, shards of the list of all
 * copies' path points (each copy has steps + 1 of them: shards of whole copies would be few and
 * long, and their batches part-empty). A shard jumps to its copies' blocks of the noise stream,
 * returns its part of the sum, and the parts are added in shard order, so any number of workers
 * gives the same map.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Explainer, ExplainRequest, ExplanationMap } from '../../explainer';
import type { Target } from '../../../model/types';
import { throwIfCancelled } from '../../../../shared/errors';
import { spreadShards, type ShardContext, type ShardKind } from '../../../compute/spread';
import { attributeBatch, BASE_ATTRIBUTIONS, integratedGradientsAttribution, type BaseAttribution } from './input-attribution';
import { channelSumMap, valueRange } from './input-request';
import { batchSizeOf, choiceParam, integerParam, numberParam, singleImage } from '../request-checks';
import { integratedGradients } from './integrated-gradients';
import { DEFAULT_SEED, gaussianAt } from '../../../util/seeded-random';
import { yieldToEventLoop } from '../../../util/event-loop';
import { imageArrays, shardCount, shardItems, shardProgress, shardSize, shardState, type ImageArrays } from '../method-shards';

const LABEL = 'SmoothGrad';

export interface SmoothGradPayload extends ImageArrays {
  target: Target;
  base: BaseAttribution;
  samples: number;
  /** Standard deviation of the noise, in input units. */
  std: number;
  seed: number;
  /** IG's interval count (base = IG). */
  steps: number;
  batchSize: number;
  /** Copies per shard; with base = IG, path points per shard. */
  perShard: number;
}

/** How many items the shards split: the copies, or with base = IG every copy's steps + 1 path points. */
function itemsOf(q: Pick<SmoothGradPayload, 'base' | 'samples' | 'steps'>): number {
  return q.base === 'ig' ? q.samples * (q.steps + 1) : q.samples;
}

/** Copies first … first + count − 1 of the input with their noise, [count, h, w, c]. */
function noisyCopies(q: SmoothGradPayload, x: tf.Tensor4D, first: number, count: number): tf.Tensor4D {
  const [, h, w, c] = q.shape;
  const size = h * w * c;
  // Copy k's noise is values k · size … (k + 1) · size − 1 of the one stream.
  const normal = gaussianAt(q.seed, first * size);
  const noise = new Float32Array(count * size);
  for (let i = 0; i < noise.length; i++) noise[i] = q.std * normal();
  return tf.tidy(() => tf.add(x, tf.tensor4d(noise, [count, h, w, c])) as tf.Tensor4D);
}

interface Images {
  x: tf.Tensor4D;
  black: tf.Tensor4D;
}

/** Σ of the base attribution over copies [first, end), batch by batch, [1, h, w, c]. */
async function copiesSum(q: SmoothGradPayload, [first, end]: [number, number], ctx: ShardContext, { x, black }: Images): Promise<tf.Tensor> {
  const batch = { adapter: ctx.adapter, target: q.target, black, steps: q.steps, batchSize: q.batchSize, signal: ctx.signal };
  let sum: tf.Tensor = tf.zeros(q.shape);
  try {
    for (let start = first; start < end; start += q.batchSize) {
      if (start > first) await yieldToEventLoop();
      throwIfCancelled(ctx.signal);
      const b = Math.min(q.batchSize, end - start);
      const noisy = noisyCopies(q, x, start, b);
      const attribution = await attributeBatch(q.base, noisy, batch).finally(() => noisy.dispose());
      const next = tf.tidy(() => tf.add(sum, tf.sum(attribution, 0, true)));
      attribution.dispose();
      sum.dispose();
      sum = next;
    }
    return sum;
  } catch (err) {
    sum.dispose();
    throw err;
  }
}

/**
 * IG's attribution summed over path points [first, end) of the list of all copies' points (copy
 * k's point j is number k · (steps + 1) + j), [1, h, w, c]; IG batches the points itself.
 */
async function pathPointsSum(q: SmoothGradPayload, [first, end]: [number, number], ctx: ShardContext, { x, black }: Images): Promise<tf.Tensor> {
  const perSample = q.steps + 1;
  const s0 = Math.floor(first / perSample);
  const s1 = Math.floor((end - 1) / perSample);
  throwIfCancelled(ctx.signal);
  const noisy = noisyCopies(q, x, s0, s1 - s0 + 1);
  const path = await integratedGradientsAttribution(ctx.adapter, noisy, black, q.target, {
    steps: q.steps, batchSize: q.batchSize, signal: ctx.signal, nodes: [first - s0 * perSample, end - s0 * perSample],
  }).finally(() => noisy.dispose());
  const sum = tf.tidy(() => tf.sum(path.attribution, 0, true));
  path.attribution.dispose();
  return sum;
}

/** Shard i: the sum of its copies' (or path points') attributions, [h · w · c]. */
export const smoothGradShard: ShardKind<SmoothGradPayload, Float32Array> = {
  kind: 'smoothgrad-samples',
  async run(q, index, ctx) {
    const images = shardState<Images>(ctx, 'smoothgrad', () => ({ x: tf.tensor4d(q.input, q.shape), black: tf.tensor4d(q.black, q.shape) }), (t) => tf.dispose([t.x, t.black]));
    const items = shardItems(index, q.perShard, itemsOf(q));
    const sum = await (q.base === 'ig' ? pathPointsSum(q, items, ctx, images) : copiesSum(q, items, ctx, images));
    try {
      return (await sum.data()) as Float32Array;
    } finally {
      sum.dispose();
    }
  },
};

export const smoothGrad: Explainer = {
  id: 'smoothgrad',
  label: LABEL,
  family: 'gradient',
  needs: { gradients: true, spatialLayer: false },
  params: [
    { key: 'base', label: 'Base method', default: 'gradient', choices: BASE_ATTRIBUTIONS, help: 'The attribution averaged over the noisy copies: Gradient, Gradient × Input, Guided Backprop, or Integrated Gradients (black baseline, its default steps).' },
    { key: 'samples', label: 'Samples', default: 25, min: 1, max: 1000, help: 'Number of noisy copies averaged.' },
    { key: 'sigma', label: 'Noise level', default: 0.15, min: 0, max: 1, help: 'Standard deviation of the Gaussian noise as a fraction of the input range (max − min).' },
  ],
  async explain(req: ExplainRequest): Promise<ExplanationMap> {
    const { adapter, input, target, signal, onProgress } = req;
    singleImage(LABEL, input, req.black);
    const base = choiceParam<BaseAttribution>(smoothGrad, req.params, 'base');
    const samples = integerParam(smoothGrad, req.params, 'samples');
    const sigma = numberParam(smoothGrad, req.params, 'sigma');
    const batchSize = batchSizeOf(req.batchSize);
    // IG as the base runs with its default steps (its path points are batched by IG itself).
    const steps = integerParam(integratedGradients, undefined, 'steps');
    const [lo, hi] = await valueRange(req.inputRange, input, LABEL);
    const std = sigma * (hi - lo);
    throwIfCancelled(signal);

    const total = itemsOf({ base, samples, steps });
    const perShard = shardSize(total, batchSize);
    const payload: SmoothGradPayload = {
      ...(await imageArrays(input, req.black)), target, base, samples, std, seed: req.seed ?? DEFAULT_SEED, steps, batchSize, perShard,
    };
    const parts = await spreadShards(req.spread, smoothGradShard, payload, shardCount(total, perShard), { adapter, signal, spread: req.spread }, shardProgress(onProgress, total, perShard));
    const sum = new Float64Array(payload.input.length); // the shards' parts in shard order
    for (const part of parts) for (let i = 0; i < sum.length; i++) sum[i] += part[i];
    return channelSumMap(tf.tensor4d(Float32Array.from(sum, (v) => v / samples), input.shape));
  },
};

/**
 * Integrated Gradients (Sundararajan et al. 2017, "Axiomatic Attribution for Deep Networks"): the
 * gradient averaged along the straight path from a baseline x′ to the input, times x − x′, summed
 * over channels and signed. The baseline is the black image, a strong blur of the input (the
 * information in edges and texture removed, the colours kept), or seeded uniform noise over the
 * input range. `stats` reports completeness (Prop. 1): Σ attributions against F(x) − F(x′).
 *
 * The path's points are split into shards of a fixed size (method-shards.ts) that the pool's
 * workers compute; each returns its part of the weighted gradient sum, and the parts are added
 * in shard order, so any number of workers gives the same map.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Explainer, ExplainRequest, ExplanationMap } from '../../explainer';
import type { Target } from '../../../model/types';
import { throwIfCancelled } from '../../../../shared/errors';
import { spreadShards, type ShardKind } from '../../../compute/spread';
import { gaussianBlur } from '../../blur';
import { integratedGradientsAttribution } from './input-attribution';
import { blackImage, channelSumMap, valueRange } from './input-request';
import { batchSizeOf, choiceParam, integerParam, singleImage } from '../request-checks';
import { DEFAULT_SEED, mulberry32 } from '../../../util/seeded-random';
import { shardCount, shardItems, shardProgress, shardSize, shardState } from '../method-shards';

const LABEL = 'Integrated Gradients';

export type IgBaseline = 'black' | 'blurred' | 'noise';

/** Standard deviation of the blurred baseline, as a fraction of the image's shorter side. */
export const BLUR_BASELINE_SIGMA = 1 / 8;

/** The baseline x′ for the input, [1, h, w, c]; the caller disposes it. */
export async function igBaseline(kind: IgBaseline, req: ExplainRequest): Promise<tf.Tensor4D> {
  const { input } = req;
  const [, h, w, c] = input.shape;
  switch (kind) {
    case 'black':
      return blackImage(req.black, input);
    case 'blurred':
      return gaussianBlur(input, BLUR_BASELINE_SIGMA * Math.min(h, w));
    case 'noise': {
      const [lo, hi] = await valueRange(req.inputRange, input, LABEL);
      const rng = mulberry32(req.seed ?? DEFAULT_SEED);
      const values = new Float32Array(h * w * c);
      for (let i = 0; i < values.length; i++) values[i] = lo + (hi - lo) * rng();
      return tf.tensor4d(values, [1, h, w, c]);
    }
  }
}

export interface IgPayload {
  /** The input and the baseline x′, [1, h, w, c] row-major. */
  input: Float32Array;
  baseline: Float32Array;
  shape: [number, number, number, number];
  target: Target;
  steps: number;
  batchSize: number;
  /** Path points per shard, of the steps + 1 points α = 0 … 1. */
  perShard: number;
}

export interface IgPart {
  /** (x − x′) ⊙ Σ w_k ∇F(x′ + α_k (x − x′)) over the shard's points k, [h · w · c]. */
  attribution: Float32Array;
  /** F(x), when the shard has the point α = 1. */
  fx?: number;
  /** F(x′), when the shard has the point α = 0. */
  fBaseline?: number;
}

/** Shard i: its path points' part of the attribution, and the endpoint scores it computed. */
export const igShard: ShardKind<IgPayload, IgPart> = {
  kind: 'ig-path',
  async run(q, index, ctx) {
    const { x, baseline } = shardState(ctx, 'ig', () => ({ x: tf.tensor4d(q.input, q.shape), baseline: tf.tensor4d(q.baseline, q.shape) }), (t) => tf.dispose([t.x, t.baseline]));
    const nodes = shardItems(index, q.perShard, q.steps + 1);
    const path = await integratedGradientsAttribution(ctx.adapter, x, baseline, q.target, { steps: q.steps, batchSize: q.batchSize, nodes, signal: ctx.signal });
    try {
      const part: IgPart = { attribution: (await path.attribution.data()) as Float32Array };
      if (!Number.isNaN(path.fx[0])) part.fx = path.fx[0];
      if (!Number.isNaN(path.fBaseline[0])) part.fBaseline = path.fBaseline[0];
      return part;
    } finally {
      path.attribution.dispose();
    }
  },
};

export const integratedGradients: Explainer = {
  id: 'ig',
  label: LABEL,
  family: 'gradient',
  needs: { gradients: true, spatialLayer: false },
  params: [
    { key: 'steps', label: 'Steps', default: 64, min: 2, max: 1024, help: 'Intervals of the trapezoid rule along the path (steps + 1 gradient evaluations). More steps, smaller completeness gap.' },
    { key: 'baseline', label: 'Baseline', default: 'black', choices: ['black', 'blurred', 'noise'], help: 'Where the path starts: the black image, a strong Gaussian blur of the input, or seeded uniform noise over the input range.' },
  ],
  async explain(req: ExplainRequest): Promise<ExplanationMap> {
    const { adapter, input, target, signal, onProgress } = req;
    singleImage(LABEL, input, req.black);
    const steps = integerParam(integratedGradients, req.params, 'steps');
    const kind = choiceParam<IgBaseline>(integratedGradients, req.params, 'baseline');
    const batchSize = batchSizeOf(req.batchSize);
    throwIfCancelled(signal);
    const baselineT = await igBaseline(kind, req);
    let baseline: Float32Array;
    try {
      baseline = (await baselineT.data()) as Float32Array;
    } finally {
      baselineT.dispose();
    }
    const points = steps + 1;
    const perShard = shardSize(points, batchSize);
    const payload: IgPayload = { input: (await input.data()) as Float32Array, baseline, shape: input.shape, target, steps, batchSize, perShard };
    const parts = await spreadShards(req.spread, igShard, payload, shardCount(points, perShard), { adapter, signal, spread: req.spread }, shardProgress(onProgress, points, perShard));
    // The parts in shard order; F(x) is at the last point, F(x′) at the first.
    const sum = new Float64Array(baseline.length);
    for (const part of parts) for (let i = 0; i < sum.length; i++) sum[i] += part.attribution[i];
    const fx = parts[parts.length - 1].fx!;
    const fBaseline = parts[0].fBaseline!;
    const map = await channelSumMap(tf.tensor4d(Float32Array.from(sum), input.shape));
    let attributionSum = 0;
    for (const v of map.data) attributionSum += v;
    const delta = fx - fBaseline;
    const completenessGap = attributionSum - delta;
    // |gap| / |F(x) − F(x′)|; when both ends score the same, any nonzero gap is infinitely off.
    const relativeGap = delta !== 0 ? Math.abs(completenessGap) / Math.abs(delta) : completenessGap === 0 ? 0 : Infinity;
    return { ...map, stats: { fx, fBaseline, attributionSum, completenessGap, relativeGap } };
  },
};

/**
 * The grid's work as shards: one method's map per shard, and one map's faithfulness metrics per
 * shard. A worker that helps rebuilds the image tensors once and keeps them for its next shards.
 */
import * as tf from '@tensorflow/tfjs-core';
import { resizeMap } from '../../shared/map-ops';
import type { FaithfulnessInfo } from '../../shared/protocol/explain';
import type { ShardContext, ShardKind } from '../compute/spread';
import type { Target } from '../model/types';
import { faithfulness, type FaithfulnessOptions } from '../metrics/faithfulness';
import { autoBatchSize } from './batch-size';
import type { MethodParams } from './explainer';
import { explainerById } from './registry';
import type { ExplanationMap } from './explainer';
import { imageArrays, shardState, type ImageArrays } from './methods/method-shards';
import { degenerateMapNote } from './map-note';

/** The image as it crosses threads, with its value range. */
export interface ImagePayload extends ImageArrays {
  range: [number, number];
}

interface ImageTensors {
  input: tf.Tensor4D;
  black: tf.Tensor4D;
}

export async function imagePayload(input: tf.Tensor4D, black: tf.Tensor4D, range: [number, number]): Promise<ImagePayload> {
  return { ...(await imageArrays(input, black)), range };
}

/** The payload's tensors, made once per worker and spread and disposed when its part ends. */
export function imageTensors(p: ImagePayload, ctx: ShardContext): ImageTensors {
  return shardState(ctx, 'image', () => ({ input: tf.tensor4d(p.input, p.shape), black: tf.tensor4d(p.black, p.shape) }), (t) => tf.dispose([t.input, t.black]));
}

export interface GridPayload extends ImagePayload {
  methods: string[];
  params: MethodParams[];
  target: Target;
  layer?: string;
  seed?: number;
  batchSize?: number;
}

export interface GridMap {
  map: ExplanationMap;
  upsampled: Float32Array;
  ms: number;
}

/** Shard i: method i's map. */
export const gridMethodShard: ShardKind<GridPayload, GridMap> = {
  kind: 'grid-method',
  async run(p, i, ctx) {
    const { input, black } = imageTensors(p, ctx);
    const method = explainerById(p.methods[i]);
    const [, h, w] = p.shape;
    const t0 = performance.now();
    const map = await method.explain({
      adapter: ctx.adapter, input, target: p.target, layer: p.layer, signal: ctx.signal, params: p.params[i], seed: p.seed,
      black, inputRange: p.range, batchSize: p.batchSize ?? autoBatchSize(ctx.adapter, method.needs.gradients ? 'gradient' : 'forward'),
      spread: ctx.spread, onProgress: ctx.progress,
    });
    const ms = performance.now() - t0;
    const note = degenerateMapNote(map.data, method.family);
    if (note) map.note = note;
    const upsampled = map.height === h && map.width === w ? map.data : resizeMap(map.data, map.height, map.width, h, w);
    return { map, upsampled, ms };
  },
};

export interface FaithfulnessPayload extends ImagePayload {
  saliencies: Float32Array[];
  target: Target;
  options: Omit<FaithfulnessOptions, 'signal' | 'black' | 'inputRange'>;
}

/** Shard i: the metrics of map i. */
export const faithfulnessShard: ShardKind<FaithfulnessPayload, { metrics: FaithfulnessInfo; ms: number }> = {
  kind: 'faithfulness',
  async run(p, i, ctx) {
    const { input, black } = imageTensors(p, ctx);
    const t0 = performance.now();
    const metrics = await faithfulness(ctx.adapter, input, p.target, p.saliencies[i], {
      ...p.options, black, inputRange: p.range, signal: ctx.signal, batchSize: p.options.batchSize ?? autoBatchSize(ctx.adapter, 'forward'),
    });
    return { metrics, ms: performance.now() - t0 };
  },
};

/**
 * Every faithfulness metric of one map, in the shape the panel and the CLI report:
 * deletion and insertion AUC (RISE), ROAD most/least-relevant-first, and the pointing game when
 * the object's box is known.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { FaithfulnessInfo } from '../../shared/protocol/explain';
import type { ModelAdapter, Target } from '../model/types';
import { deletionInsertion } from './deletion-insertion';
import { road } from './road';
import { pointingGame, type Box } from './pointing-game';

export type { Box };

export interface FaithfulnessOptions {
  /** The object's box in the model input's pixels, for the pointing game. */
  box?: Box;
  /** ROAD as well (default true). */
  road?: boolean;
  /** Steps of the deletion / insertion curves (default 32). */
  steps?: number;
  black?: tf.Tensor4D;
  inputRange?: [number, number];
  batchSize?: number;
  seed?: number;
  signal?: AbortSignal;
}

/** The map a metric ranks pixels by: its magnitude for signed maps (as drawn), else the map. */
export function saliencyOf(r: { upsampled: Float32Array; map: { signed?: boolean } }): Float32Array {
  return r.map.signed ? r.upsampled.map(Math.abs) : r.upsampled;
}

export async function faithfulness(
  adapter: ModelAdapter,
  input: tf.Tensor4D,
  target: Target,
  saliency: Float32Array,
  opts: FaithfulnessOptions = {},
): Promise<FaithfulnessInfo> {
  const [h, w] = adapter.inputShape;
  const common = { black: opts.black, batchSize: opts.batchSize, signal: opts.signal };
  const di = await deletionInsertion(adapter, input, target, saliency, { ...common, steps: opts.steps });
  const out: FaithfulnessInfo = { deletion: di.deletion, insertion: di.insertion };
  if (opts.road !== false) {
    const r = await road(adapter, input, target, saliency, { batchSize: opts.batchSize, signal: opts.signal, seed: opts.seed, inputRange: opts.inputRange });
    out.road = { morf: r.morf, lerf: r.lerf, fractions: r.fractions };
  }
  if (opts.box) {
    const p = pointingGame(saliency, h, w, opts.box);
    out.pointing = { hit: p.hit, peak: p.peak, box: opts.box };
  }
  return out;
}

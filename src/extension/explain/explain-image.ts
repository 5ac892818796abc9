/**
 * Explain one image file with a model: decode, preprocess, predict, run each method, and bring
 * every map to the model's input resolution. Shared by the CLI and the extension.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadModelInput } from '../image/decode';
import { preprocess, type PreprocessPreset } from '../image/preprocess';
import { resizeMap } from '../../shared/map-ops';
import { throwIfCancelled } from '../../shared/errors';
import type { LoadedModel } from '../model/load';
import type { Target } from '../model/types';
import type { Explainer, ExplanationMap } from './explainer';
import { whyNotApplicable } from './registry';
import { UserError } from '../../shared/errors';

export interface Prediction {
  index: number;
  label?: string;
  probability: number;
}

export interface MethodResult {
  method: string;
  label: string;
  /** The map at the method's own resolution. */
  map: ExplanationMap;
  /** The map resized (bilinear) to the model's input resolution, row-major `shape`. */
  upsampled: Float32Array;
  /** [height, width] of `upsampled`: the model's input size. */
  shape: [number, number];
  ms: number;
}

export interface ExplainImageOptions {
  model: LoadedModel;
  imageFile: string;
  methods: readonly Explainer[];
  /** A class / output index, or `top` for the top prediction. */
  target: number | 'top';
  space?: Target['space'];
  layer?: string;
  preprocess: PreprocessPreset;
  topK?: number;
  signal?: AbortSignal;
  /** Called before each method starts. */
  onMethod?: (method: Explainer, index: number) => void;
  /** Called as soon as the predictions are known, before any map. */
  onPredictions?: (predictions: Prediction[], target: Prediction) => void;
  /** Called with each map as soon as it is ready. */
  onMap?: (result: MethodResult) => void;
}

export interface ExplainImageResult {
  inputSize: [number, number];
  original: { width: number; height: number; format: string };
  predictions: Prediction[];
  target: Target & { label?: string };
  maps: MethodResult[];
}

export function topK(probs: Float32Array | number[], k: number, labels?: string[]): Prediction[] {
  return Array.from(probs, (p, i) => ({ index: i, probability: p }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k)
    .map((p) => (labels?.[p.index] !== undefined ? { ...p, label: labels[p.index] } : p));
}

export async function explainImage(opts: ExplainImageOptions): Promise<ExplainImageResult> {
  const { adapter, labels } = opts.model;
  const [h, w, c] = adapter.inputShape;
  for (const m of opts.methods) {
    const why = whyNotApplicable(m, adapter);
    if (why) throw new UserError(why);
  }
  const decoded = await loadModelInput(opts.imageFile, { height: h, width: w, channels: c as 1 | 3 });
  throwIfCancelled(opts.signal);
  const input = tf.tidy(() => preprocess(tf.tensor4d(decoded.pixels, [1, h, w, c]), opts.preprocess));
  try {
    const probs = tf.tidy(() => adapter.probabilities(input));
    const probValues = (await probs.data()) as Float32Array;
    probs.dispose();
    const predictions = topK(probValues, opts.topK ?? 5, labels);
    const index = opts.target === 'top' ? predictions[0].index : opts.target;
    const target: Target = { index, space: opts.space ?? 'logit' };
    const targetInfo: Prediction = { index, probability: probValues[index], ...(labels?.[index] !== undefined ? { label: labels[index] } : {}) };
    opts.onPredictions?.(predictions, targetInfo);
    const maps: MethodResult[] = [];
    for (const [i, method] of opts.methods.entries()) {
      throwIfCancelled(opts.signal);
      opts.onMethod?.(method, i);
      const t0 = performance.now();
      const map = await method.explain({ adapter, input, target, layer: opts.layer, signal: opts.signal });
      const ms = performance.now() - t0;
      const upsampled = map.height === h && map.width === w ? map.data : resizeMap(map.data, map.height, map.width, h, w);
      const result: MethodResult = { method: method.id, label: method.label, map, upsampled, shape: [h, w], ms };
      maps.push(result);
      opts.onMap?.(result);
    }
    return {
      inputSize: [h, w],
      original: decoded.original,
      predictions,
      target: labels?.[index] !== undefined ? { ...target, label: labels[index] } : target,
      maps,
    };
  } finally {
    input.dispose();
  }
}

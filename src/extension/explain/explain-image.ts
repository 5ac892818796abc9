/**
 * Explain one image file with a model: decode, preprocess, predict, run each method, and bring
 * every map to the model's input resolution. Shared by the CLI and the extension.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadModelInput } from '../image/decode';
import { preprocess, preprocessReference, type PreprocessPreset } from '../image/preprocess';
import { throwIfCancelled } from '../../shared/errors';
import type { LoadedModel } from '../model/load';
import type { Target } from '../model/types';
import { probabilityBatch } from '../model/forward';
import type { Explainer, ExplanationMap, MethodParams } from './explainer';
import { whyNotApplicable } from './registry';
import { UserError } from '../../shared/errors';
import type { FaithfulnessInfo } from '../../shared/protocol/explain';
import { saliencyOf, type FaithfulnessOptions } from '../metrics/faithfulness';
import { spreadShards, type Spread } from '../compute/spread';
import { faithfulnessShard, gridMethodShard, imagePayload, type FaithfulnessPayload, type GridPayload } from './grid-shards';

export interface Prediction {
  index: number;
  label?: string;
  probability: number;
}

export interface MethodResult {
  method: string;
  label: string;
  /** The output index it explains. */
  target: number;
  /** The map at the method's own resolution. */
  map: ExplanationMap;
  /** The map resized (bilinear) to the model's input resolution, row-major `shape`. */
  upsampled: Float32Array;
  /** [height, width] of `upsampled`: the model's input size. */
  shape: [number, number];
  ms: number;
  /** Faithfulness metrics, when asked for. */
  metrics?: FaithfulnessInfo;
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
  /**
   * Method parameters: `key=value` applies to every method with that parameter,
   * `method.key=value` to one method (e.g. `ig.steps`).
   */
  params?: MethodParams;
  /** Seed for the methods and metrics with randomness. */
  seed?: number;
  /** Largest batch pushed through the model; chosen from the model's size when absent. */
  batchSize?: number;
  /** Compute faithfulness metrics for every map (after all maps are drawn); `box` in image pixels. */
  metrics?: Omit<FaithfulnessOptions, 'signal' | 'batchSize' | 'seed'>;
  signal?: AbortSignal;
  /** Called as each method's map is done, before onMap (`index`: how many were done before it). */
  onMethod?: (method: Explainer, index: number) => void;
  /** Called as soon as the predictions are known, before any map. */
  onPredictions?: (predictions: Prediction[], target: Prediction) => void;
  /** Called with each map as soon as it is ready. */
  onMap?: (result: MethodResult) => void;
  /** How far a running method's map is (0..1), for the methods that can tell (those that split their work). */
  onMethodProgress?: (method: Explainer, fraction: number) => void;
  /**
   * A map computed earlier for the same image, model checkpoint, target, layer and method, to
   * show again instead of recomputing (the panel, when only the method selection changed).
   */
  reuse?: (method: Explainer, target: number) => MethodResult | undefined;
  /** Where independent work (methods, metrics, a method's batches) may spread; here when absent. */
  spread?: Spread;
  /** Called with each map's metrics as soon as they are ready. */
  onMetrics?: (result: MethodResult, ms: number) => void;
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

/** The parameters that apply to one method: plain keys it declares, and `method.key` ones. */
export function paramsFor(method: Explainer, params: MethodParams | undefined): MethodParams {
  const out: Record<string, number | string> = {};
  for (const [k, v] of Object.entries(params ?? {})) {
    const dot = k.indexOf('.');
    const [scope, key] = dot < 0 ? [undefined, k] : [k.slice(0, dot), k.slice(dot + 1)];
    if (scope !== undefined && scope !== method.id) continue;
    const spec = method.params.find((p) => p.key === key);
    if (!spec) {
      if (scope !== undefined) throw new UserError(`${method.label} has no parameter "${key}" (it has: ${method.params.map((p) => p.key).join(', ') || 'none'})`);
      continue;
    }
    out[key] = checkParam(method, spec, v);
  }
  return out;
}

/**
 * Checks the keys of `params` against the methods a request runs, so that a misspelt key is an
 * error, not ignored: a plain key must be a parameter of at least one of `methods`, and
 * `method.key` a parameter of that method, which must be one of them. The messages name the keys
 * that exist. Values are checked by paramsFor.
 */
export function checkParamKeys(methods: readonly Explainer[], params: MethodParams | undefined, known: readonly Explainer[] = methods): void {
  const keys = Object.keys(params ?? {});
  if (keys.length === 0) return;
  const ids = methods.map((m) => m.id);
  const existing = () => {
    const all = methods.flatMap((m) => m.params.map((p) => `${m.id}.${p.key}`));
    return all.length > 0 ? `the selected methods take ${all.join(', ')}` : `the selected methods (${ids.join(', ')}) take no parameters`;
  };
  for (const k of keys) {
    const dot = k.indexOf('.');
    if (dot < 0) {
      if (!methods.some((m) => m.params.some((p) => p.key === k))) throw new UserError(`unknown parameter "${k}": ${existing()}`);
      continue;
    }
    const [scope, key] = [k.slice(0, dot), k.slice(dot + 1)];
    const method = methods.find((m) => m.id === scope);
    if (!method) {
      if (known.some((m) => m.id === scope)) throw new UserError(`parameter "${k}" is for ${scope}, which is not among the selected methods (${ids.join(', ')})`);
      throw new UserError(`parameter "${k}": there is no method "${scope}" (methods: ${known.map((m) => m.id).join(', ')})`);
    }
    if (!method.params.some((p) => p.key === key)) {
      throw new UserError(`${method.label} has no parameter "${key}" (it has: ${method.params.map((p) => p.key).join(', ') || 'none'})`);
    }
  }
}

function checkParam(method: Explainer, spec: Explainer['params'][number], v: number | string): number | string {
  if (spec.choices) {
    const s = String(v).toLowerCase();
    if (!spec.choices.includes(s)) throw new UserError(`${method.id}.${spec.key} must be one of ${spec.choices.join(', ')}, got "${v}"`);
    return s;
  }
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw new UserError(`${method.id}.${spec.key} must be a number, got "${v}"`);
  if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
    throw new UserError(`${method.id}.${spec.key} must be between ${spec.min ?? '-∞'} and ${spec.max ?? '∞'}, got ${n}`);
  }
  return n;
}

interface Prepared {
  input: tf.Tensor4D;
  black: tf.Tensor4D;
  range: [number, number];
  h: number;
  w: number;
}

/** Each method's map, spread over the pool's workers (one method per shard), posted as each is ready. */
async function runMethods(opts: ExplainImageOptions, index: number, p: Prepared & { methodParams: MethodParams[] }): Promise<MethodResult[]> {
  const target: Target = { index, space: opts.space ?? 'logit' };
  const maps: Array<MethodResult | undefined> = opts.methods.map((m) => opts.reuse?.(m, index));
  for (const m of maps) if (m) opts.onMap?.(m);
  const todo = opts.methods.flatMap((m, i) => (maps[i] ? [] : [i]));
  throwIfCancelled(opts.signal);
  if (todo.length === 0) return maps as MethodResult[];
  const payload: GridPayload = {
    ...(await imagePayload(p.input, p.black, p.range)),
    methods: todo.map((i) => opts.methods[i].id), params: todo.map((i) => p.methodParams[i]),
    target, layer: opts.layer, seed: opts.seed, batchSize: opts.batchSize,
  };
  let done = 0;
  await spreadShards(opts.spread, gridMethodShard, payload, todo.length, { adapter: opts.model.adapter, signal: opts.signal, spread: opts.spread }, (k, r) => {
    const method = opts.methods[todo[k]];
    opts.onMethod?.(method, done++);
    const result: MethodResult = { method: method.id, label: method.label, target: index, map: r.map, upsampled: r.upsampled, shape: [p.h, p.w], ms: r.ms };
    maps[todo[k]] = result;
    opts.onMap?.(result);
  }, opts.onMethodProgress && ((k, fraction) => opts.onMethodProgress?.(opts.methods[todo[k]], fraction)));
  return maps as MethodResult[];
}

/** The faithfulness metrics of every map (one map per shard). */
async function runMetrics(opts: ExplainImageOptions, maps: MethodResult[], index: number, p: Prepared & { original: { width: number; height: number } }): Promise<void> {
  const { adapter } = opts.model;
  // Metrics score the target's probability (as in the RISE paper) where the model has one.
  const target: Target = { index, space: adapter.headActivation === 'linear' ? 'logit' : 'probability' };
  // The box comes in the original image's pixels; the maps are at the model's input size.
  const b = opts.metrics?.box;
  const sx = p.w / p.original.width;
  const sy = p.h / p.original.height;
  const box = b && { x: b.x * sx, y: b.y * sy, w: b.w * sx, h: b.h * sy };
  for (const result of maps) if (result.metrics) opts.onMetrics?.(result, 0);
  const todo = maps.filter((r) => !r.metrics);
  throwIfCancelled(opts.signal);
  if (todo.length === 0) return;
  const payload: FaithfulnessPayload = {
    ...(await imagePayload(p.input, p.black, p.range)),
    saliencies: todo.map(saliencyOf), target,
    options: { ...opts.metrics, box, seed: opts.seed, ...(opts.batchSize ? { batchSize: opts.batchSize } : {}) },
  };
  await spreadShards(opts.spread, faithfulnessShard, payload, todo.length, { adapter, signal: opts.signal, spread: opts.spread }, (k, r) => {
    todo[k].metrics = r.metrics;
    opts.onMetrics?.(todo[k], r.ms);
  });
}

export async function explainImage(opts: ExplainImageOptions): Promise<ExplainImageResult> {
  const { adapter, labels } = opts.model;
  const [h, w, c] = adapter.inputShape;
  for (const m of opts.methods) {
    const why = whyNotApplicable(m, adapter, opts.layer);
    if (why) throw new UserError(why);
  }
  const methodParams = opts.methods.map((m) => paramsFor(m, opts.params));
  const decoded = await loadModelInput(opts.imageFile, { height: h, width: w, channels: c as 1 | 3 });
  throwIfCancelled(opts.signal);
  const input = tf.tidy(() => preprocess(tf.tensor4d(decoded.pixels, [1, h, w, c]), opts.preprocess));
  const { black, range } = preprocessReference(h, w, c, opts.preprocess);
  try {
    const probValues = await probabilityBatch(adapter, input);
    const predictions = topK(probValues, opts.topK ?? 5, labels);
    const index = opts.target === 'top' ? predictions[0].index : opts.target;
    const target: Target = { index, space: opts.space ?? 'logit' };
    const targetInfo: Prediction = { index, probability: probValues[index], ...(labels?.[index] !== undefined ? { label: labels[index] } : {}) };
    opts.onPredictions?.(predictions, targetInfo);
    const maps = await runMethods(opts, index, { input, black, range, h, w, methodParams });
    if (opts.metrics) await runMetrics(opts, maps, index, { input, black, range, h, w, original: decoded.original });
    return {
      inputSize: [h, w],
      original: decoded.original,
      predictions,
      target: labels?.[index] !== undefined ? { ...target, label: labels[index] } : target,
      maps,
    };
  } finally {
    input.dispose();
    black.dispose();
  }
}

/**
 * Puts the weights of a Keras file into a tfjs-layers model built from its config, layer by
 * layer, found by path and name rather than by a global order:
 *
 * - Keras 3 (`model.weights.h5` in a `.keras` archive): each layer's variables are the datasets
 *   `vars/0, 1, …` of its group under `layers/`; the group's `vars` carries the layer's name as an
 *   attribute (older Keras 3 files without it: the group is `<snake_case class name>[_n]`, numbered
 *   in the config's layer order, as Keras' saving_lib names them). Nested models hold their own
 *   `layers/`. MultiHeadAttention keeps its variables in the sub-layers `query_dense`,
 *   `key_dense`, `value_dense`, `output_dense`.
 * - Legacy `.h5` (tf.keras 2 and Keras 3 `model.save('x.h5')`): each top-level layer's group in
 *   `model_weights/` lists its datasets in the `weight_names` attribute (`conv1/kernel:0`,
 *   `backbone/conv_a/kernel`, …), matched to the tfjs weights by layer and weight name.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LayersModel, type LayerVariable, type layers } from '@tensorflow/tfjs-layers';
import type { Hdf5Dataset, Hdf5Group } from './hdf5';
import { isObj, type Json } from './topology';
import { safeLine } from '../../../util/excerpt';

type Layer = layers.Layer;

export class WeightsError extends Error {}

/** A name from the file or its config, quoted for a one-line message. */
const q = (name: string) => `"${safeLine(name, 80)}"`;

function toSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

function checkShape(v: LayerVariable, d: Hdf5Dataset, layer: string): void {
  const want = v.shape as number[];
  const got = d.shape;
  const same = want.length === got.length && want.every((s, i) => s === got[i]);
  if (!same) throw new WeightsError(`the weight ${d.path} of layer ${q(layer)} has shape [${got.join(', ')}], the layer expects [${want.join(', ')}]`);
}

function assign(layer: Layer, datasets: Hdf5Dataset[]): void {
  const vars = layer.weights;
  if (datasets.length !== vars.length) {
    throw new WeightsError(`layer ${q(layer.name)} has ${vars.length} weights, the file holds ${datasets.length} for it`);
  }
  datasets.forEach((d, i) => checkShape(vars[i], d, layer.name));
  const tensors = datasets.map((d, i) => tf.tensor(d.float32(), d.shape, vars[i].dtype === 'int32' ? 'int32' : 'float32'));
  try {
    layer.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}

const isModel = (l: Layer): l is LayersModel => l instanceof LayersModel;

// ---------------------------------------------------------------------------------------------
// Keras 3

function numberedVars(g: Hdf5Group | undefined): Hdf5Dataset[] {
  const vars = g?.group('vars');
  if (!vars) return [];
  return vars.keys
    .filter((k) => /^\d+$/.test(k))
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => vars.dataset(k))
    .filter((d): d is Hdf5Dataset => d !== undefined);
}

const MHA_PARTS = ['query_dense', 'key_dense', 'value_dense', 'output_dense'];

/** The datasets of one Keras 3 layer's variables, in the order the tfjs layer lists its weights. */
function keras3LayerVars(layer: Layer, g: Hdf5Group): Hdf5Dataset[] {
  if (layer.getClassName() === 'MultiHeadAttention') {
    return MHA_PARTS.flatMap((p) => {
      const sub = g.group(p) ?? g.group(`_${p}`);
      if (!sub) throw new WeightsError(`the weights of MultiHeadAttention ${q(layer.name)} have no ${p} group`);
      return numberedVars(sub);
    });
  }
  return numberedVars(g);
}

/** The config entries of a model's layers as Keras saved them (Sequential without its InputLayer). */
function configLayers(modelConfig: Json): { className: string; name: string; config: Json }[] {
  if (!isObj(modelConfig) || !isObj(modelConfig.config) || !Array.isArray(modelConfig.config.layers)) return [];
  const sequential = modelConfig.class_name === 'Sequential';
  return modelConfig.config.layers
    .filter((l): l is { [k: string]: Json } => isObj(l))
    .filter((l) => !(sequential && l.class_name === 'InputLayer'))
    .map((l) => ({
      className: String(l.class_name),
      name: String(l.name ?? (isObj(l.config) ? l.config.name : '')),
      config: l,
    }));
}

/** Layer name → its group under `<scope>/layers`, by the `name` attribute Keras writes, else by saving_lib's naming. */
function keras3Groups(scope: Hdf5Group, modelConfig: Json): Map<string, Hdf5Group> {
  const byName = new Map<string, Hdf5Group>();
  const layersGroup = scope.group('layers');
  if (!layersGroup) return byName;
  let named = true;
  for (const key of layersGroup.keys) {
    const g = layersGroup.group(key);
    const name = g?.group('vars')?.attr('name');
    if (g && typeof name === 'string') byName.set(name, g);
    else named = false;
  }
  if (named && byName.size > 0) return byName;
  const used = new Map<string, number>();
  const fallback = new Map<string, Hdf5Group>();
  for (const l of configLayers(modelConfig)) {
    const base = toSnakeCase(l.className);
    const n = used.get(base);
    const key = n === undefined ? base : `${base}_${n + 1}`;
    used.set(base, n === undefined ? 0 : n + 1);
    const g = layersGroup.group(key);
    if (g) fallback.set(l.name, g);
  }
  return fallback;
}

/** Loads a Keras 3 weights file (`model.weights.h5`) into `model`, built from `modelConfig`. */
export function loadKeras3Weights(model: LayersModel, store: Hdf5Group, modelConfig: Json): void {
  const walk = (container: LayersModel, scope: Hdf5Group, config: Json) => {
    const groups = keras3Groups(scope, config);
    const entries = new Map(configLayers(config).map((l) => [l.name, l.config]));
    for (const layer of container.layers) {
      if (layer.weights.length === 0) continue;
      const g = groups.get(layer.name);
      if (!g) throw new WeightsError(`the weights file has no weights for layer ${q(layer.name)}`);
      if (isModel(layer)) walk(layer, g, entries.get(layer.name) ?? null);
      else assign(layer, keras3LayerVars(layer, g));
    }
  };
  walk(model, store, modelConfig);
}

// ---------------------------------------------------------------------------------------------
// Legacy HDF5

const stripSuffix = (n: string) => n.replace(/:\d+$/, '');

/** The leaf layers of a layer (itself, or a nested model's layers, recursively). */
function leaves(layer: Layer): Layer[] {
  return isModel(layer) ? layer.layers.flatMap(leaves) : [layer];
}

/** Candidate names in the file for a tfjs weight (`b1_depthwise/depthwise_kernel` is Keras 3's `b1_depthwise/kernel`). */
function candidates(layer: Layer, v: LayerVariable): string[] {
  const own = v.originalName.startsWith(`${layer.name}/`) ? v.originalName.slice(layer.name.length + 1) : v.originalName.split('/').slice(1).join('/');
  const names = [`${layer.name}/${own}`];
  if (own === 'depthwise_kernel') names.push(`${layer.name}/kernel`);
  return names;
}

/** Loads the weights in `model_weights/` of a legacy `.h5` model file into `model`. */
export function loadH5Weights(model: LayersModel, modelWeights: Hdf5Group): void {
  for (const top of model.layers) {
    if (top.weights.length === 0) continue;
    const g = modelWeights.group(top.name);
    if (!g) throw new WeightsError(`the file has no weights for layer ${q(top.name)}`);
    const names = g.attr('weight_names');
    const list = Array.isArray(names) ? names.map(String) : [];
    const datasets = list.map((n) => {
      const d = g.dataset(n);
      if (!d) throw new WeightsError(`the weight ${q(n)} of layer ${q(top.name)} is missing`);
      return d;
    });
    const byName = new Map(list.map((n, i) => [stripSuffix(n), datasets[i]]));
    // tf.keras 2 sometimes prefixes a scope (`model/conv/kernel:0`): index the last two parts too.
    for (const [n, d] of [...byName]) {
      const parts = n.split('/');
      for (let i = 1; i < parts.length - 1; i++) {
        const tail = parts.slice(i).join('/');
        if (!byName.has(tail)) byName.set(tail, d);
      }
    }
    for (const leaf of leaves(top)) {
      if (leaf.weights.length === 0) continue;
      const found = leaf.weights.map((v) => candidates(leaf, v).map((c) => byName.get(c)).find((d) => d !== undefined));
      if (found.every((d) => d !== undefined)) {
        assign(leaf, found as Hdf5Dataset[]);
      } else if (!isModel(top) && datasets.length === leaf.weights.length) {
        // A single layer whose weights are named otherwise: Keras lists them in the layer's order.
        assign(leaf, datasets);
      } else {
        const missing = leaf.weights.filter((_, i) => found[i] === undefined).map((v) => v.originalName);
        throw new WeightsError(`the file has no weights ${safeLine(missing.join(', '), 200)} for layer ${q(leaf.name)}`);
      }
    }
  }
}

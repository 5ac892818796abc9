/**
 * Rewrites parts of a Keras model topology that tfjs-layers cannot deserialise as they are:
 * tf.keras 2 serialises a `MultiHeadAttention` call `mha(q, v)` / `mha(query=q, value=v, key=k)`
 * with the value / key (and attention mask) tensors as references in the inbound node's kwargs,
 * which tfjs passes to the layer unchanged (and camel-cases the layer names inside them). They are
 * turned into extra positional inputs, [query, value] / [query, value, key] /
 * [query, value, key, attention_mask], the form tfjs-layers wires up and `MultiHeadAttention` reads.
 */
import type { io } from '@tensorflow/tfjs-core';
import { UserError } from '../../../shared/errors';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A Keras 2 tensor reference `[layer_name, node_index, tensor_index]`. */
function isTensorRef(x: unknown): x is [string, number, number] {
  return Array.isArray(x) && x.length === 3 && typeof x[0] === 'string' && Number.isInteger(x[1]) && Number.isInteger(x[2]);
}

function copy<T>(x: T): T {
  return x === undefined ? x : (JSON.parse(JSON.stringify(x)) as T);
}

/** One inbound node of a MultiHeadAttention layer, rewritten when its kwargs hold tensor references. */
function normalizeNode(layerName: string, node: Json): Json {
  // Keras 2 writes the first call argument (the query) as the node's only entry, the rest as kwargs.
  if (!Array.isArray(node) || node.length !== 1) return copy(node);
  const entry = node[0];
  if (!Array.isArray(entry) || entry.length < 3 || typeof entry[0] !== 'string' || !isObj(entry[3] ?? {})) return copy(node);
  const kwargs = (entry[3] ?? {}) as Obj;
  const roles = ['value', 'key', 'attention_mask'] as const;
  const refs: Partial<Record<(typeof roles)[number], [string, number, number]>> = {};
  const rest: Obj = {};
  for (const [k, v] of Object.entries(kwargs)) {
    const role = roles.find((r) => r === k);
    if (role === undefined) {
      rest[k] = copy(v);
    } else if (isTensorRef(v)) {
      refs[role] = v;
    } else if (v === null) {
      // An argument left at None: drop it.
    } else if (role === 'attention_mask') {
      rest[k] = copy(v); // a constant mask (nested numbers): the layer reads it from its call kwargs
    } else {
      throw new UserError(`the MultiHeadAttention layer "${layerName}" is given its ${role} as a constant, which is not supported (only tensors from other layers)`);
    }
  }
  if (!refs.value && !refs.key && !refs.attention_mask) return copy(node);
  const query: [string, number, number] = [entry[0], entry[1] as number, entry[2] as number];
  const value = refs.value ?? query;
  const inputs = refs.attention_mask ? [query, value, refs.key ?? value, refs.attention_mask] : refs.key ? [query, value, refs.key] : [query, value];
  // tfjs-layers takes a node's kwargs from its entries (the last one): give each entry the same.
  return inputs.map((ref) => [ref[0], ref[1], ref[2], copy(rest)]);
}

function normalize(x: Json): Json {
  if (Array.isArray(x)) return x.map(normalize);
  if (!isObj(x)) return x;
  const out: Obj = {};
  const isMha = x.class_name === 'MultiHeadAttention' && Array.isArray(x.inbound_nodes);
  const name = isObj(x.config) && typeof x.config.name === 'string' ? x.config.name : typeof x.name === 'string' ? x.name : 'MultiHeadAttention';
  for (const [k, v] of Object.entries(x)) {
    out[k] = isMha && k === 'inbound_nodes' ? (v as Json[]).map((node) => normalizeNode(name, node)) : normalize(v);
  }
  return out;
}

const MODEL_CLASSES = new Set(['Functional', 'Model', 'Sequential']);

/** The layer list of a model config (Functional: config.layers; Sequential: config or config.layers). */
function layersOf(m: Obj): Json[] | undefined {
  const config = m.config;
  if (Array.isArray(config)) return config;
  return isObj(config) && Array.isArray(config.layers) ? config.layers : undefined;
}

/**
 * tfjs-layers rebuilds a functional model by calling each layer on its inbound nodes, retrying the
 * nodes whose inputs do not exist yet until none is left, with no end when one never can be made:
 * a node naming a layer that is not in the model, a node index that layer never gets, or layers
 * that feed each other in a cycle make it loop forever. The same rounds are played here on the
 * config alone (an InputLayer or a nested model has one node from the start; every other call
 * adds one), and such a model is a UserError instead.
 */
function checkFunctionalWiring(layers: Json[], where: string): void {
  const index = new Map<string, number>();
  layers.forEach((l, i) => {
    if (isObj(l) && typeof l.name === 'string') index.set(l.name, i);
  });
  const nodes = layers.map((l) => (isObj(l) && (l.class_name === 'InputLayer' || MODEL_CLASSES.has(l.class_name as string)) ? 1 : 0));
  const pending: Json[][][] = layers.map((l, i) => {
    const inbound = isObj(l) ? l.inbound_nodes : undefined;
    if (inbound === undefined || inbound === null) return [];
    const name = isObj(l) && typeof l.name === 'string' ? l.name : `#${i}`;
    const bad = () => new UserError(`${where} is malformed: the inbound nodes of the layer ${JSON.stringify(name).slice(0, 80)} are not lists of [layer, node, tensor] references`);
    if (!Array.isArray(inbound)) throw bad();
    for (const node of inbound) {
      if (!Array.isArray(node)) throw bad();
      for (const ref of node) {
        if (!Array.isArray(ref) || typeof ref[0] !== 'string' || !Number.isSafeInteger(ref[1]) || (ref[1] as number) < 0 || !Number.isSafeInteger(ref[2]) || (ref[2] as number) < 0) throw bad();
      }
    }
    return inbound as Json[][];
  });
  let left = pending.reduce((n, p) => n + p.length, 0);
  while (left > 0) {
    let progress = false;
    pending.forEach((todo, i) => {
      pending[i] = todo.filter((node) => {
        const ready = node.every((ref) => {
          const [layer, nodeIndex] = ref as [string, number];
          const from = index.get(layer);
          return from !== undefined && nodes[from] > nodeIndex;
        });
        if (!ready) return true;
        if (node.length > 0) nodes[i]++;
        progress = true;
        left--;
        return false;
      });
    });
    if (!progress) {
      const stuck = pending.findIndex((p) => p.length > 0);
      const l = layers[stuck];
      const name = isObj(l) && typeof l.name === 'string' ? l.name : `#${stuck}`;
      const ref = pending[stuck][0].find((r) => {
        const from = index.get((r as [string])[0]);
        return from === undefined || nodes[from] <= (r as [string, number])[1];
      }) as [string, number];
      const why = index.has(ref[0]) ? `node ${ref[1]} of the layer ${JSON.stringify(ref[0]).slice(0, 80)}, which never gets that many calls (layers that feed each other in a cycle?)` : `the layer ${JSON.stringify(ref[0]).slice(0, 80)}, which is not in the model`;
      throw new UserError(`${where} is malformed: the layer ${JSON.stringify(name).slice(0, 80)} takes its input from ${why}`);
    }
  }
}

/** Checks the wiring of every functional model in a topology, nested ones too (see checkFunctionalWiring). */
export function checkLayersWiring(topology: unknown, where = 'the model topology', depth = 0): void {
  if (!isObj(topology) || depth > 20) return;
  const root = isObj(topology.model_config) ? topology.model_config : topology;
  const layers = layersOf(root);
  if (!layers) return;
  if (root.class_name !== 'Sequential') checkFunctionalWiring(layers, where);
  for (const l of layers) {
    if (isObj(l) && MODEL_CLASSES.has(l.class_name as string)) checkLayersWiring(l, where, depth + 1);
  }
}

/**
 * A copy of a Keras / TF.js layers-model topology (as in model.json, snake_case) in which the
 * inbound nodes of `MultiHeadAttention` layers give value, key and attention mask tensors as
 * positional inputs instead of kwargs references. Boolean and other kwargs are kept; everything
 * else is copied unchanged. Nested models are handled too. Throws a UserError for value or key
 * given as constants.
 */
export function normalizeKerasTopology(modelTopology: unknown): unknown {
  if (modelTopology === undefined) return undefined;
  return normalize(copy(modelTopology) as Json);
}

/**
 * Wraps a load handler so the topology it loads is passed through `normalizeKerasTopology`, and
 * checked for wiring tfjs-layers would loop on forever (checkLayersWiring; `source` names the
 * model in that error).
 */
export function withNormalizedKerasTopology(handler: io.IOHandler, source?: string): io.IOHandler {
  const load = handler.load;
  if (!load) return handler;
  return {
    ...handler,
    load: async () => {
      const artifacts = await load.call(handler);
      if (artifacts.modelTopology == null || artifacts.modelTopology instanceof ArrayBuffer) return artifacts;
      const modelTopology = normalizeKerasTopology(artifacts.modelTopology);
      checkLayersWiring(modelTopology, source === undefined ? 'the model topology' : `the model topology of ${source}`);
      return { ...artifacts, modelTopology: modelTopology as io.ModelArtifacts['modelTopology'] };
    },
  };
}

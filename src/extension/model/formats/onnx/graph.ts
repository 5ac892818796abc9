/**
 * An ONNX model as the runtime executes it: nodes in topological order with decoded attributes,
 * the weights (initializers) in a map the runtime reads at call time (so a sanity check can swap
 * them), Constant nodes' values, the default-domain opset, and one check — before anything runs
 * — that every operator is supported.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../../../shared/errors';
import type { Attrs, AttrValue, OpTable } from './ops/op-types';
import { ExternalData, tensorFromProto, toNumber, type AttributeProto, type ModelProto, type NodeProto, type ValueInfo } from './proto';

export interface OnnxNode {
  /** Position in the topological order. */
  index: number;
  /** The node's name, or `<OpType>_<index>` when it has none. */
  name: string;
  opType: string;
  /** Inputs by value name; '' for an absent optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Attrs;
  /** metadata_props (the dynamo exporter's module scopes live here). */
  meta: Record<string, string>;
}

export interface GraphInput {
  name: string;
  elemType: number;
  /** Per dimension: a number (dim_value), a string (dim_param) or undefined (unknown). */
  dims: (number | string | undefined)[];
}

export interface OnnxGraph {
  /** The model file, as given: named in messages. */
  readonly file: string;
  readonly nodes: readonly OnnxNode[];
  /** Graph inputs that are not initializers. */
  readonly inputs: readonly GraphInput[];
  readonly outputs: readonly string[];
  /** Initializers by name: read at call time (a sanity check swaps entries). */
  readonly weights: Map<string, tf.Tensor>;
  /** Values of Constant nodes (not randomizable). */
  readonly constants: Map<string, tf.Tensor>;
  /** Tensors owned by attributes (Constant values, ConstantOfShape's value, …): freed with the graph. */
  readonly attrTensors: tf.Tensor[];
  readonly opset: number;
  readonly metadata: Record<string, string>;
  readonly producer: Map<string, OnnxNode>;
  readonly consumers: Map<string, OnnxNode[]>;
}

const DEFAULT_DOMAINS = new Set(['', 'ai.onnx']);

/** Op types the graph handles itself. */
const BUILTIN = new Set(['Constant']);

/** Attribute types of AttributeProto.AttributeType. */
const AT = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10 } as const;

function inferAttrType(a: AttributeProto): number {
  if (a.type) return a.type;
  // IR version 1 files may omit the type: guess from the field present.
  if (a.t) return AT.TENSOR;
  if (a.ints.length > 0) return AT.INTS;
  if (a.floats.length > 0) return AT.FLOATS;
  if (a.strings.length > 0) return AT.STRINGS;
  if (a.s && a.s.length > 0) return AT.STRING;
  return toNumber(a.i) !== 0 ? AT.INT : AT.FLOAT;
}

function decodeAttr(a: AttributeProto, node: string, external: ExternalData, owned: tf.Tensor[]): AttrValue {
  switch (inferAttrType(a)) {
    case AT.FLOAT: return a.f;
    case AT.INT: return toNumber(a.i);
    case AT.STRING: return (a.s ?? Buffer.alloc(0)).toString('utf8');
    case AT.FLOATS: return Array.from(a.floats);
    case AT.INTS: return a.ints.map(toNumber);
    case AT.STRINGS: return a.strings.map((s) => Buffer.from(s).toString('utf8'));
    case AT.TENSOR: {
      const t = tensorFromProto(a.t!, external);
      owned.push(t);
      return t;
    }
    default:
      throw new UserError(`the attribute ${a.name} of node ${node} holds a subgraph or a list of tensors, which XAI Lens does not run`);
  }
}

/** The value of a Constant node. */
function constantValue(node: OnnxNode): tf.Tensor {
  const a = node.attrs;
  if (a.value instanceof tf.Tensor) return a.value;
  if (typeof a.value_float === 'number') return tf.scalar(a.value_float, 'float32');
  if (Array.isArray(a.value_floats)) return tf.tensor1d(a.value_floats as number[], 'float32');
  if (typeof a.value_int === 'number') return tf.scalar(a.value_int, 'int32');
  if (Array.isArray(a.value_ints)) return tf.tensor1d(a.value_ints as number[], 'int32');
  throw new UserError(`the Constant node ${node.name} has no value XAI Lens reads (value, value_float(s), value_int(s))`);
}

function dimsOf(v: ValueInfo): (number | string | undefined)[] {
  const dims = v.type?.tensor_type?.shape?.dim ?? [];
  return dims.map((d) => {
    if (d.dim_param) return d.dim_param;
    const n = toNumber(d.dim_value);
    return n > 0 ? n : undefined;
  });
}

/** Kahn's algorithm, keeping the file's order where it is already valid. */
function topologicalOrder(nodes: NodeProto[], available: Set<string>, file: string): number[] {
  const producerOf = new Map<string, number>();
  nodes.forEach((n, i) => n.output.forEach((o) => o && producerOf.set(o, i)));
  const missing = nodes.map(() => 0);
  const readers = new Map<number, number[]>();
  nodes.forEach((n, i) => {
    for (const name of new Set(n.input)) {
      if (name === '' || available.has(name)) continue;
      const p = producerOf.get(name);
      if (p === undefined) throw new UserError(`${file} is not a valid ONNX model: node ${n.name || n.op_type} reads ${name}, which nothing produces`);
      missing[i]++;
      readers.set(p, [...(readers.get(p) ?? []), i]);
    }
  });
  // A min-heap on file position: ready nodes run in file order.
  const heap: number[] = [];
  const push = (v: number) => {
    heap.push(v);
    for (let i = heap.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (heap[p] <= heap[i]) break;
      [heap[p], heap[i]] = [heap[i], heap[p]];
      i = p;
    }
  };
  const pop = () => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < heap.length && heap[l] < heap[m]) m = l;
        if (r < heap.length && heap[r] < heap[m]) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i], heap[m]];
        i = m;
      }
    }
    return top;
  };
  missing.forEach((m, i) => m === 0 && push(i));
  const order: number[] = [];
  while (heap.length > 0) {
    const i = pop();
    order.push(i);
    for (const r of readers.get(i) ?? []) if (--missing[r] === 0) push(r);
  }
  if (order.length !== nodes.length) throw new UserError(`${file} is not a valid ONNX model: its graph has a cycle`);
  return order;
}

/** The one UserError listing every operator the runtime lacks, with counts; undefined when all are supported. */
export function unsupportedOperators(model: ModelProto, ops: OpTable, file: string): UserError | undefined {
  const counts = new Map<string, number>();
  for (const n of model.graph?.node ?? []) {
    const domain = n.domain ?? '';
    const key = DEFAULT_DOMAINS.has(domain) ? n.op_type : `${domain}.${n.op_type}`;
    if (DEFAULT_DOMAINS.has(domain) && (BUILTIN.has(n.op_type) || Object.prototype.hasOwnProperty.call(ops, n.op_type))) continue;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  if (counts.size === 0) return undefined;
  const list = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k, c]) => `${k} ×${c}`);
  return new UserError(`${file} uses operators XAI Lens does not support: ${list.join(', ')}`);
}

/** Builds the executable graph; `file` (the model file, as given) locates external data and is named in errors. */
export function buildGraph(model: ModelProto, file: string, ops: OpTable): OnnxGraph {
  const g = model.graph!;
  const unsupported = unsupportedOperators(model, ops, file);
  if (unsupported) throw unsupported;
  const opsetEntry = model.opset_import.find((o) => DEFAULT_DOMAINS.has(o.domain ?? ''));
  const opset = opsetEntry ? toNumber(opsetEntry.version) : 1;
  if (opset < 7) throw new UserError(`${file} imports ONNX opset ${opset}; XAI Lens runs opset 7 and later (PyTorch exports 13 and later)`);

  const external = new ExternalData(file);
  const weights = new Map<string, tf.Tensor>();
  const attrTensors: tf.Tensor[] = [];
  const constants = new Map<string, tf.Tensor>();
  try {
    for (const t of g.initializer) weights.set(t.name, tensorFromProto(t, external));
    const available = new Set<string>([...weights.keys(), ...g.input.map((i) => i.name)]);
    const order = topologicalOrder(g.node, available, file);
    const nodes: OnnxNode[] = [];
    for (const i of order) {
      const p = g.node[i];
      const name = p.name || `${p.op_type}_${i}`;
      const attrs: Record<string, AttrValue> = {};
      for (const a of p.attribute) attrs[a.name] = decodeAttr(a, name, external, attrTensors);
      const meta: Record<string, string> = {};
      for (const e of p.metadata_props ?? []) meta[e.key] = e.value;
      const node: OnnxNode = { index: nodes.length, name, opType: p.op_type, inputs: [...p.input], outputs: [...p.output], attrs, meta };
      if (p.op_type === 'Constant') {
        const value = constantValue(node);
        if (!attrTensors.includes(value)) attrTensors.push(value);
        constants.set(p.output[0], value);
        continue;
      }
      nodes.push(node);
    }
    nodes.forEach((n, i) => (n.index = i));
    const producer = new Map<string, OnnxNode>();
    const consumers = new Map<string, OnnxNode[]>();
    for (const n of nodes) {
      n.outputs.forEach((o) => o && producer.set(o, n));
      for (const i of new Set(n.inputs)) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
    }
    const inputs = g.input
      .filter((v) => !weights.has(v.name))
      .map((v) => ({ name: v.name, elemType: v.type?.tensor_type?.elem_type ?? 0, dims: dimsOf(v) }));
    const metadata: Record<string, string> = {};
    for (const e of model.metadata_props ?? []) metadata[e.key] = e.value;
    return { file, nodes, inputs, outputs: g.output.map((o) => o.name), weights, constants, attrTensors, opset, metadata, producer, consumers };
  } catch (err) {
    tf.dispose([...weights.values(), ...attrTensors]);
    throw err;
  }
}

/** Frees every tensor the graph owns. */
export function disposeGraph(graph: OnnxGraph): void {
  tf.dispose([...graph.weights.values(), ...graph.attrTensors]);
  graph.weights.clear();
  graph.constants.clear();
}

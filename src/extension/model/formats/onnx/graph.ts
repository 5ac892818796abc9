/**
 * An ONNX model as the runtime executes it: nodes in topological order with decoded attributes,
 * the weights (initializers) in a map the runtime reads at call time (so a sanity check can swap
 * them), Constant nodes' values, the default-domain opset, and one check — before anything runs
 * — that every operator is supported.
 *
 * Memory: the graph keeps nothing of the file (its bytes, the decoded protobuf) once the weights
 * are read, and each weight is held once, in the layout its reader uses: a Conv weight is held
 * in tfjs' filter layout (OnnxWeights.onnx gives the file's layout back on demand). Large float
 * weights are read after the adapter's probe run (OnnxWeights.materialize), so the memory the
 * probe's temporaries used is reused by the weights instead of adding to them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../../../shared/errors';
import type { Attrs, AttrValue, OpTable } from './ops/op-types';
import { checkTensorProto, DataType, ExternalData, tensorFromProto, toNumber, valuesFromProto, type AttributeProto, type GraphProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfo } from './proto';

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
  readonly weights: OnnxWeights;
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

/**
 * How a Conv weight is held when it is not held as the file has it: in the filter layout of
 * tf.conv2d, [kh, kw, C, M] ('hwio', group 1), or of tf.depthwiseConv2d, [kh, kw, group, M/group]
 * ('depthwise', one input channel per group). 1-D convs have kh = 1. Either is the file's
 * [M, C/group, kh, kw] transposed to [kh, kw, C/group, M], then reshaped.
 */
export interface ConvFilterLayout {
  kind: 'hwio' | 'depthwise';
  /** The weight's shape in the file: [M, C/group, kh, kw], or [M, C/group, k] for 1-D convs. */
  onnxShape: number[];
  /** The shape held. */
  shape: number[];
}

/** [M, C/group, kh, kw] of a Conv weight's file shape (1-D lifted to kh = 1). */
function lifted(onnxShape: readonly number[]): [number, number, number, number] {
  const [m, c, ...k] = onnxShape;
  return k.length === 1 ? [m, c, 1, k[0]] : [m, c, k[0], k[1]];
}

/** OIHW values → HWIO ([M, C, kh, kw] → [kh, kw, C, M]), as tf.transpose(w, [2, 3, 1, 0]) orders them. */
function oihwToHwio(src: Float32Array, [m, c, kh, kw]: readonly number[]): Float32Array {
  const out = new Float32Array(src.length);
  const taps = kh * kw;
  for (let o = 0; o < m; o++) {
    for (let i = 0; i < c; i++) {
      const from = (o * c + i) * taps;
      for (let k = 0; k < taps; k++) out[(k * c + i) * m + o] = src[from + k];
    }
  }
  return out;
}

interface PendingWeight {
  /** The shape the weight will be held in. */
  shape: number[];
  read: () => tf.Tensor;
}

/**
 * The weights by name, each held once, in the layout the op reading it uses (see
 * ConvFilterLayout); `onnx(name)` gives a weight in the file's layout. Until `materialize()`,
 * large float weights may still be pending: their shape is known, their values not yet read.
 */
export class OnnxWeights extends Map<string, tf.Tensor> {
  private readonly layouts = new Map<string, ConvFilterLayout>();
  private readonly pending = new Map<string, PendingWeight>();

  /** The filter layout a Conv weight is held in; undefined when it is held as the file has it. */
  layoutOf(name: string): ConvFilterLayout | undefined {
    return this.layouts.get(name);
  }

  /** The weight's shape in the file (also for pending weights). */
  onnxShape(name: string): number[] {
    const shape = this.layouts.get(name)?.onnxShape ?? this.get(name)?.shape ?? this.pending.get(name)?.shape;
    if (!shape) throw new Error(`ONNX graph: no weight ${name}`);
    return [...shape];
  }

  /**
   * `t` (by default the weight held under `name`) in the file's layout: a new tensor, which the
   * caller frees (a transpose for weights held in a filter layout, else a clone sharing the data).
   */
  onnx(name: string, t: tf.Tensor | undefined = this.get(name)): tf.Tensor {
    if (!t) throw new Error(`ONNX graph: no weight ${name}`);
    const l = this.layouts.get(name);
    if (!l) return tf.clone(t);
    const [m, c, kh, kw] = lifted(l.onnxShape);
    return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(t, [kh, kw, c, m]), [3, 2, 0, 1]), l.onnxShape));
  }

  /** `t`, given in the file's layout, in the layout `name` is held in: a new tensor, or `t` itself when the layouts agree. */
  fromOnnx(name: string, t: tf.Tensor): tf.Tensor {
    const l = this.layouts.get(name);
    if (!l) return t;
    return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(t, lifted(l.onnxShape)), [2, 3, 1, 0]), l.shape));
  }

  /** Whether `name` is a weight whose values are not read yet. */
  isPending(name: string): boolean {
    return this.pending.has(name);
  }

  /** The shape a pending weight will be held in. */
  pendingShape(name: string): number[] | undefined {
    return this.pending.get(name)?.shape;
  }

  /** Reads the pending weights (in file order) and lets go of what they were read from. */
  materialize(): void {
    for (const [name, p] of this.pending) {
      this.set(name, p.read());
      this.pending.delete(name);
    }
  }

  /** @internal buildGraph's: the layout of a Conv weight. */
  setLayout(name: string, layout: ConvFilterLayout): void {
    this.layouts.set(name, layout);
  }

  /** @internal buildGraph's: a weight read later. */
  defer(name: string, shape: number[], read: () => tf.Tensor): void {
    this.pending.set(name, { shape, read });
  }

  /** Frees every weight; pending ones are dropped. */
  disposeAll(): void {
    tf.dispose([...this.values()]);
    this.clear();
    this.pending.clear();
  }
}

/** Float weights at least this large (elements) are read after the probe run: their values never decide a shape. */
const DEFER_MIN_SIZE = 1024;

const attrOf = (n: NodeProto, name: string) => n.attribute.find((a) => a.name === name);

/**
 * The initializers a Conv reads as its weight, each in the filter layout it can be held in
 * (every reader a Conv, at input 1, undilated, with group 1 or one input channel per group, and
 * all readers agreeing), and the weights read by convs that keep the file's layout (their
 * filters are derived during the probe run, so those weights are read before it).
 */
function convWeights(g: GraphProto): { layouts: Map<string, ConvFilterLayout>; derived: Set<string> } {
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const kinds = new Map<string, string>();
  const derived = new Set<string>();
  for (const n of g.node) {
    n.input.forEach((name, slot) => {
      const t = inits.get(name);
      if (!t) return;
      let kind = 'other';
      if (n.op_type === 'Conv' && DEFAULT_DOMAINS.has(n.domain ?? '') && slot === 1 && (t.dims.length === 3 || t.dims.length === 4)) {
        const groupAttr = attrOf(n, 'group');
        const group = groupAttr ? toNumber(groupAttr.i) : 1;
        const undilated = (attrOf(n, 'dilations')?.ints ?? []).every((d) => toNumber(d) === 1);
        const [m, c] = t.dims.map(toNumber);
        kind = !undilated || group < 1 ? 'derived'
          : group === 1 ? 'hwio'
            : c === 1 && m % group === 0 ? `depthwise:${group}` : 'derived';
        if (kind === 'derived') derived.add(name);
      }
      const seen = kinds.get(name);
      kinds.set(name, seen === undefined || seen === kind ? kind : 'other');
    });
  }
  const layouts = new Map<string, ConvFilterLayout>();
  for (const [name, kind] of kinds) {
    const t = inits.get(name)!;
    const onnxShape = t.dims.map(toNumber);
    const [m, c, kh, kw] = lifted(onnxShape);
    if (kind === 'hwio') layouts.set(name, { kind: 'hwio', onnxShape, shape: [kh, kw, c, m] });
    else if (kind.startsWith('depthwise:')) {
      const group = Number(kind.slice('depthwise:'.length));
      layouts.set(name, { kind: 'depthwise', onnxShape, shape: [kh, kw, group, m / group] });
    }
  }
  return { layouts, derived };
}

/** An initializer as held: values read from the proto, a Conv weight reordered to its filter layout. */
function readWeight(t: TensorProto, external: ExternalData, layout: ConvFilterLayout | undefined): tf.Tensor {
  if (!layout) return tensorFromProto(t, external);
  const { values, shape, dtype } = valuesFromProto(t, external);
  if (dtype !== 'float32') return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(tf.tensor(values, shape, dtype), lifted(layout.onnxShape)), [2, 3, 1, 0]), layout.shape));
  return tf.tensor(oihwToHwio(values as Float32Array, lifted(layout.onnxShape)), layout.shape, 'float32');
}

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
  const weights = new OnnxWeights();
  const attrTensors: tf.Tensor[] = [];
  const constants = new Map<string, tf.Tensor>();
  try {
    const { layouts, derived } = convWeights(g);
    const floats: number[] = [DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE];
    for (const t of g.initializer) {
      const layout = layouts.get(t.name);
      if (layout) weights.setLayout(t.name, layout);
      const shape = t.dims.map(toNumber);
      const size = shape.reduce((a, b) => a * b, 1);
      if (floats.includes(t.data_type) && size >= DEFER_MIN_SIZE && !derived.has(t.name)) {
        checkTensorProto(t, external);
        weights.defer(t.name, layout?.shape ?? shape, () => readWeight(t, external, layout));
      } else {
        weights.set(t.name, readWeight(t, external, layout));
      }
    }
    const available = new Set<string>([...weights.keys(), ...g.initializer.map((t) => t.name), ...g.input.map((i) => i.name)]);
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
    const initializers = new Set(g.initializer.map((t) => t.name));
    const inputs = g.input
      .filter((v) => !initializers.has(v.name))
      .map((v) => ({ name: v.name, elemType: v.type?.tensor_type?.elem_type ?? 0, dims: dimsOf(v) }));
    const metadata: Record<string, string> = {};
    for (const e of model.metadata_props ?? []) metadata[e.key] = e.value;
    return { file, nodes, inputs, outputs: g.output.map((o) => o.name), weights, constants, attrTensors, opset, metadata, producer, consumers };
  } catch (err) {
    weights.disposeAll();
    tf.dispose(attrTensors);
    throw err;
  }
}

/** Frees every tensor the graph owns. */
export function disposeGraph(graph: OnnxGraph): void {
  graph.weights.disposeAll();
  tf.dispose(graph.attrTensors);
  graph.constants.clear();
}

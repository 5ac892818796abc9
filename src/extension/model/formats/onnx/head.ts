/**
 * CAM's precondition on an ONNX graph: the layer's value feeds a global average pool
 * (GlobalAveragePool, or ReduceMean over the spatial axes [2, 3]), then Flatten / Reshape /
 * Squeeze, then the linear layer (Gemm, or MatMul + Add) that gives the logits.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OnnxModelAdapter } from './adapter';
import type { OnnxNode } from './graph';

const RESHAPES = new Set(['Flatten', 'Reshape', 'Squeeze', 'Identity', 'Dropout']);

export function gapDenseHead(adapter: OnnxModelAdapter, layer: string): { weights: tf.Tensor2D } | string {
  const value = adapter.valueOf(layer);
  const { graph, runtime } = adapter;
  const why = (what: string) => `needs a global average pool → Linear head after "${layer}"; ${what}`;
  const name = (n: OnnxNode) => `${n.opType} "${n.name}"`;
  const logits = adapter.logitsName;
  /** The one node reading `v`, or the reason there is not exactly one. */
  const soleReader = (v: string, what: string): OnnxNode | string => {
    if (v === logits) return why(`${what} is the model's output`);
    const readers = graph.consumers.get(v) ?? [];
    if (readers.length === 0) return why(`${what} is the model's output`);
    if (readers.length > 1) return why(`${what} feeds ${readers.length} nodes (${readers.map(name).join(', ')})`);
    return readers[0];
  };
  const channels = adapter.values.get(value)?.shape;
  if (!channels || channels.length !== 4) return why(`its output is not a 4-D feature map`);
  let node = soleReader(value, 'it');
  if (typeof node === 'string') return node;
  const pool = node;
  if (pool.opType === 'ReduceMean') {
    const axesInput = pool.inputs[1] ? runtime.constantOf(pool.inputs[1]) : undefined;
    const axesAttr = pool.attrs.axes;
    const axes = axesInput ? [...axesInput.dataSync()] : Array.isArray(axesAttr) ? (axesAttr as number[]) : [];
    const sorted = axes.map((a) => (a < 0 ? a + 4 : a)).sort((a, b) => a - b);
    if (sorted.join() !== '2,3') return why(`${name(pool)} does not average over the spatial axes [2, 3]`);
  } else if (pool.opType !== 'GlobalAveragePool') {
    return why(`it is followed by ${name(pool)}`);
  }
  node = soleReader(pool.outputs[0], name(pool));
  if (typeof node === 'string') return node;
  while (RESHAPES.has(node.opType)) {
    const next: OnnxNode | string = soleReader(node.outputs[0], name(node));
    if (typeof next === 'string') return next;
    node = next;
  }
  const c = channels[1];
  const k = adapter.outputSize;
  let weights: tf.Tensor | undefined;
  if (node.opType === 'Gemm') {
    const b = runtime.constantOf(node.inputs[1]);
    if (!b || b.rank !== 2 || node.attrs.transA === 1) return why(`${name(node)} does not multiply the pooled features by a constant weight`);
    const alpha = typeof node.attrs.alpha === 'number' ? node.attrs.alpha : 1;
    weights = tf.tidy(() => tf.mul(node.attrs.transB === 1 ? tf.transpose(b) : b, alpha));
    if (node.outputs[0] !== logits) {
      tf.dispose(weights);
      return why(`${name(node)} is not the logits (something follows it)`);
    }
  } else if (node.opType === 'MatMul') {
    const b = runtime.constantOf(node.inputs[1]);
    if (!b || b.rank !== 2) return why(`${name(node)} does not multiply the pooled features by a constant weight`);
    if (node.outputs[0] !== logits) {
      const add = soleReader(node.outputs[0], name(node));
      if (typeof add === 'string') return add;
      const other = add.inputs.find((i) => i !== node.outputs[0]);
      if (add.opType !== 'Add' || !other || !runtime.constantOf(other) || add.outputs[0] !== logits) return why(`${name(node)} is followed by ${name(add)} before the logits`);
    }
    weights = tf.clone(b);
  } else {
    return why(`the pool is followed by ${name(node)}, not by a Linear layer (Gemm or MatMul)`);
  }
  if (weights.shape[0] !== c || weights.shape[1] !== k) {
    const shape = weights.shape.join(', ');
    weights.dispose();
    return why(`${name(node)} has a [${shape}] weight, not [${c}, ${k}]`);
  }
  return { weights: weights as tf.Tensor2D };
}

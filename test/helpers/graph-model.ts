/**
 * Writes a small TF.js graph model (GraphDef JSON + weights) by hand: a fused conv with ReLU, a
 * plain Conv2D → BiasAdd → Relu branch, a residual AddV2, a ConcatV2 skip, a spatial Mean, MatMul,
 * BiasAdd, Softmax and an Identity output — the ops a converted Keras CNN is made of. The same
 * network is also given as plain tfjs ops (with an optional offset at one node) as the reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { seededArray } from './tf-test';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const ints = (v: number[]) => ({ list: { i: v.map(String) } });
const FLOAT = { type: 'DT_FLOAT' };

interface Weight { name: string; shape: number[]; data: Float32Array | Int32Array; dtype: 'float32' | 'int32' }

export const GRAPH_INPUT = [8, 8, 3] as const;

export function graphWeights(): Weight[] {
  const f = (name: string, shape: number[], seed: number, scale = 0.5): Weight => ({
    name, shape, dtype: 'float32', data: seededArray(shape.reduce((a, b) => a * b, 1), seed).map((v) => v * scale),
  });
  return [
    f('w1', [3, 3, 3, 4], 1), f('b1', [4], 2, 0.1),
    f('w2', [3, 3, 4, 4], 3), f('b2', [4], 4, 0.1),
    f('w3', [8, 3], 5), f('b3', [3], 6, 0.1),
    { name: 'axis', shape: [], dtype: 'int32', data: new Int32Array([3]) },
    { name: 'mean_axes', shape: [2], dtype: 'int32', data: new Int32Array([1, 2]) },
  ];
}

function node(name: string, op: string, input: string[], attr: Record<string, unknown> = {}) {
  return { name, op, input, attr };
}

function constNode(w: Weight) {
  const dtype = w.dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32';
  return node(w.name, 'Const', [], {
    value: { tensor: { dtype, tensorShape: { dim: w.shape.map((d) => ({ size: String(d) })) } } },
    dtype: { type: dtype },
  });
}

export function writeGraphModel(dir: string): void {
  const weights = graphWeights();
  const conv = { strides: ints([1, 1, 1, 1]), padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') }, dilations: ints([1, 1, 1, 1]), T: FLOAT };
  const nodes = [
    node('x', 'Placeholder', [], { dtype: FLOAT, shape: { shape: { dim: [-1, ...GRAPH_INPUT].map((d) => ({ size: String(d) })) } } }),
    ...weights.map(constNode),
    node('conv1', '_FusedConv2D', ['x', 'w1', 'b1'], { ...conv, num_args: { i: '1' }, epsilon: { f: 0 }, fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu')] } } }),
    node('conv2', 'Conv2D', ['conv1', 'w2'], conv),
    node('bias2', 'BiasAdd', ['conv2', 'b2'], { T: FLOAT, data_format: { s: b64('NHWC') } }),
    node('relu2', 'Relu', ['bias2'], { T: FLOAT }),
    node('add', 'AddV2', ['relu2', 'conv1'], { T: FLOAT }),
    node('cat', 'ConcatV2', ['add', 'conv1', 'axis'], { T: FLOAT, N: { i: '2' }, Tidx: { type: 'DT_INT32' } }),
    node('pool', 'Mean', ['cat', 'mean_axes'], { T: FLOAT, keep_dims: { b: false }, Tidx: { type: 'DT_INT32' } }),
    node('matmul', 'MatMul', ['pool', 'w3'], { T: FLOAT, transpose_a: { b: false }, transpose_b: { b: false } }),
    node('logits', 'BiasAdd', ['matmul', 'b3'], { T: FLOAT, data_format: { s: b64('NHWC') } }),
    node('probs', 'Softmax', ['logits'], { T: FLOAT }),
    node('output', 'Identity', ['probs'], { T: FLOAT }),
  ];
  fs.mkdirSync(dir, { recursive: true });
  const buf = Buffer.concat(weights.map((w) => Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength)));
  fs.writeFileSync(path.join(dir, 'weights.bin'), buf);
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
    format: 'graph-model',
    generatedBy: 'test',
    convertedBy: 'hand',
    modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [{ paths: ['weights.bin'], weights: weights.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
  }));
}

/** The same network in plain tfjs ops; `offset` is added to the output of node `at`. */
export function graphReference(x: tf.Tensor4D, at = '', offset?: tf.Tensor): tf.Tensor2D {
  const w = Object.fromEntries(graphWeights().map((v) => [v.name, tf.tensor(v.data, v.shape, v.dtype)]));
  const o = (name: string, t: tf.Tensor) => (name === at && offset ? tf.add(t, offset) : t);
  const conv1 = o('conv1', tf.relu(tf.add(tf.conv2d(x, w.w1 as tf.Tensor4D, 1, 'same'), w.b1)));
  const relu2 = o('relu2', tf.relu(tf.add(tf.conv2d(conv1 as tf.Tensor4D, w.w2 as tf.Tensor4D, 1, 'same'), w.b2)));
  const add = o('add', tf.add(relu2, conv1));
  const cat = o('cat', tf.concat([add, conv1], 3));
  const pool = tf.mean(cat, [1, 2]);
  return o('logits', tf.add(tf.matMul(pool as tf.Tensor2D, w.w3 as tf.Tensor2D), w.b3)) as tf.Tensor2D;
}

/**
 * Attention in a graph model: a hand-written GraphDef whose image input [2, 3, 4] is read as 6
 * tokens of width 4, with a 2-head attention Softmax ([batch, heads, 6, 6]) and a classifier
 * Softmax ([batch, 3]) reading the attended tokens. The engine keeps the attention Softmax, drops the classifier's, and its
 * capture equals the same computation in plain tfjs ops.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadAttentionModel } from '../../../src/extension/attention/load-attention';
import { UserError } from '../../../src/shared/errors';
import { seededArray, useBackend } from '../../helpers/tf-test';

const FLOAT = { type: 'DT_FLOAT' };
const INT = { type: 'DT_INT32' };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-attention-graph-'));

interface W { name: string; shape: number[]; data: Float32Array | Int32Array; dtype: 'float32' | 'int32' }
const f = (name: string, shape: number[], seed: number): W => ({ name, shape, dtype: 'float32', data: seededArray(shape.reduce((a, b) => a * b, 1), seed) });
const i32 = (name: string, values: number[]): W => ({ name, shape: [values.length], dtype: 'int32', data: Int32Array.from(values) });
const WEIGHTS: W[] = [
  f('wq', [4, 4], 1), f('wk', [4, 4], 2), f('wo', [2, 3], 3),
  i32('tokens_shape', [-1, 6, 4]), i32('heads_shape', [-1, 6, 2, 2]), i32('perm', [0, 2, 1, 3]), i32('mean_axes', [1, 2]),
  { name: 'scale', shape: [], dtype: 'float32', data: Float32Array.of(1 / Math.SQRT2) },
];

function node(name: string, op: string, input: string[], attr: Record<string, unknown> = {}) {
  return { name, op, input, attr };
}

before(async () => {
  await useBackend('cpu');
  const nodes = [
    node('image', 'Placeholder', [], { dtype: FLOAT, shape: { shape: { dim: [-1, 2, 3, 4].map((d) => ({ size: String(d) })) } } }),
    ...WEIGHTS.map((w) => node(w.name, 'Const', [], {
      value: { tensor: { dtype: w.dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32', tensorShape: { dim: w.shape.map((d) => ({ size: String(d) })) } } },
      dtype: w.dtype === 'float32' ? FLOAT : INT,
    })),
    node('tokens', 'Reshape', ['image', 'tokens_shape'], { T: FLOAT, Tshape: INT }),
    node('q', 'BatchMatMulV2', ['tokens', 'wq'], { T: FLOAT, adj_x: { b: false }, adj_y: { b: false } }),
    node('k', 'BatchMatMulV2', ['tokens', 'wk'], { T: FLOAT, adj_x: { b: false }, adj_y: { b: false } }),
    node('qh', 'Reshape', ['q', 'heads_shape'], { T: FLOAT, Tshape: INT }),
    node('kh', 'Reshape', ['k', 'heads_shape'], { T: FLOAT, Tshape: INT }),
    node('qt', 'Transpose', ['qh', 'perm'], { T: FLOAT, Tperm: INT }),
    node('kt', 'Transpose', ['kh', 'perm'], { T: FLOAT, Tperm: INT }),
    node('scores', 'BatchMatMulV2', ['qt', 'kt'], { T: FLOAT, adj_x: { b: false }, adj_y: { b: true } }),
    node('scaled', 'Mul', ['scores', 'scale'], { T: FLOAT }),
    node('attention/probs', 'Softmax', ['scaled'], { T: FLOAT }),
    node('context', 'BatchMatMulV2', ['attention/probs', 'qt'], { T: FLOAT, adj_x: { b: false }, adj_y: { b: false } }),
    node('pooled', 'Mean', ['context', 'mean_axes'], { T: FLOAT, keep_dims: { b: false }, Tidx: INT }),
    node('logits', 'MatMul', ['pooled', 'wo'], { T: FLOAT, transpose_a: { b: false }, transpose_b: { b: false } }),
    node('probs', 'Softmax', ['logits'], { T: FLOAT }),
    node('output', 'Identity', ['probs'], { T: FLOAT }),
  ];
  const weights = WEIGHTS;
  fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat(weights.map((w) => Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength))));
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
    format: 'graph-model', generatedBy: 'test', convertedBy: 'hand',
    modelTopology: { node: nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [{ paths: ['weights.bin'], weights: weights.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
  }));
});

test('a graph model: the [batch, heads, q, k] Softmax is attention, the classifier Softmax is not; the capture equals plain tfjs ops', async () => {
  const model = await loadAttentionModel(dir);
  try {
    assert.equal(model.format, 'graph-model');
    assert.deepEqual(model.layers.map((l) => [l.name, l.heads, l.queryTokens, l.keyTokens, l.cross]), [['attention/probs', 2, 6, 6, false]]);
    assert.match(model.noGradients ?? '', /layers model/);
    const x = tf.tensor4d(seededArray(24, 9), [1, 2, 3, 4]);
    const cap = model.capture([x]);
    const expected = tf.tidy(() => {
      const t = tf.reshape(x, [1, 6, 4]);
      const heads = (w: W) => tf.transpose(tf.reshape(tf.matMul(tf.reshape(t, [6, 4]), tf.tensor2d(w.data as Float32Array, [4, 4])), [1, 6, 2, 2]), [0, 2, 1, 3]);
      return tf.softmax(tf.mul(tf.matMul(heads(WEIGHTS[0]), heads(WEIGHTS[1]), false, true), 1 / Math.SQRT2)).dataSync();
    });
    assert.equal(cap.probabilities[0].length, 2 * 6 * 6);
    cap.probabilities[0].forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5, `entry ${i}: ${v} vs ${expected[i]}`));
    assert.equal(cap.output.length, 3);
    assert.throws(() => model.capture([x], { gradientTarget: 0 }), (e: unknown) => e instanceof UserError);
    x.dispose();
  } finally {
    model.dispose();
  }
});

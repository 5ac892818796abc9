/**
 * The Keras MultiHeadAttention layer for tfjs-layers: its forward pass against a plain-JS
 * reference (self- and cross-attention, masks, scores), Keras weight names, the config round-trip,
 * the Keras topology rewrite of tensor kwargs, and loading Keras-format model.json files with it.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { MultiHeadAttention } from '../../../src/extension/model/layers/multi-head-attention';
import { normalizeKerasTopology, withNormalizedKerasTopology } from '../../../src/extension/model/layers/keras-topology';
import { fsLoadHandler } from '../../../src/extension/model/fs-io';
import { loadModel } from '../../../src/extension/model/load';
import { UserError } from '../../../src/shared/errors';
import { assertClose, assertNoLeak, seededArray, useBackend } from '../../helpers/tf-test';

type W = Map<string, Float32Array>;

/** Gives every weight of a built layer seeded values; returns them by `query/kernel`-style name. */
function seedWeights(layer: tfl.layers.Layer, seed: number): W {
  const values: W = new Map();
  const tensors = layer.weights.map((w, i) => {
    const v = seededArray((w.shape as number[]).reduce((a, b) => a * b, 1), seed + i).map((x) => x * 0.6);
    values.set(w.originalName.slice(layer.name.length + 1), v);
    return tf.tensor(v, w.shape as number[]);
  });
  layer.setWeights(tensors);
  tf.dispose(tensors);
  return values;
}

interface RefOptions {
  heads: number;
  keyDim: number;
  valueDim: number;
  outDim: number;
  causal?: boolean;
  /** [B, T, S], 1 = attend. */
  mask?: Float32Array;
}

/**
 * Multi-head attention with nested loops: q [B, T, Dq], v [B, S, Dv], k [B, S, Dk]. Returns the
 * output [B, T, O] and the scores [B, N, T, S].
 */
function reference(
  q: Float32Array, [B, T, Dq]: number[], v: Float32Array, [, S, Dv]: number[], k: Float32Array, Dk: number, w: W, o: RefOptions,
): { out: Float32Array; scores: Float32Array } {
  const { heads: N, keyDim: H, valueDim: Hv, outDim: O } = o;
  const proj = (x: Float32Array, len: number, D: number, name: string, size: number) => {
    const kern = w.get(`${name}/kernel`)!, bias = w.get(`${name}/bias`);
    const y = new Float32Array(B * len * N * size); // [B, len, N, size]
    for (let b = 0; b < B; b++) for (let t = 0; t < len; t++) for (let n = 0; n < N; n++) for (let h = 0; h < size; h++) {
      let acc = bias ? bias[n * size + h] : 0;
      for (let d = 0; d < D; d++) acc += x[(b * len + t) * D + d] * kern[(d * N + n) * size + h];
      y[((b * len + t) * N + n) * size + h] = acc;
    }
    return y;
  };
  const Q = proj(q, T, Dq, 'query', H), K = proj(k, S, Dk, 'key', H), V = proj(v, S, Dv, 'value', Hv);
  const scores = new Float32Array(B * N * T * S);
  const ctx = new Float32Array(B * T * N * Hv);
  for (let b = 0; b < B; b++) for (let n = 0; n < N; n++) for (let t = 0; t < T; t++) {
    const logits = new Float64Array(S);
    for (let s = 0; s < S; s++) {
      let acc = 0;
      for (let h = 0; h < H; h++) acc += Q[((b * T + t) * N + n) * H + h] * K[((b * S + s) * N + n) * H + h];
      let m = o.mask ? o.mask[(b * T + t) * S + s] : 1;
      if (o.causal && s > t) m = 0;
      logits[s] = acc / Math.sqrt(H) + (1 - m) * -1e9;
    }
    const max = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - max));
    const sum = e.reduce((a, c) => a + c, 0);
    for (let s = 0; s < S; s++) scores[((b * N + n) * T + t) * S + s] = e[s] / sum;
    for (let h = 0; h < Hv; h++) {
      let acc = 0;
      for (let s = 0; s < S; s++) acc += (e[s] / sum) * V[((b * S + s) * N + n) * Hv + h];
      ctx[((b * T + t) * N + n) * Hv + h] = acc;
    }
  }
  const wo = w.get('attention_output/kernel')!, bo = w.get('attention_output/bias');
  const out = new Float32Array(B * T * O);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let c = 0; c < O; c++) {
    let acc = bo ? bo[c] : 0;
    for (let n = 0; n < N; n++) for (let h = 0; h < Hv; h++) acc += ctx[((b * T + t) * N + n) * Hv + h] * wo[(n * Hv + h) * O + c];
    out[(b * T + t) * O + c] = acc;
  }
  return { out, scores };
}

const data = (shape: number[], seed: number) => seededArray(shape.reduce((a, b) => a * b, 1), seed);

for (const backend of ['cpu', 'wasm'] as const) describe(`on ${backend}`, () => {
  before(() => useBackend(backend));

  test('self-attention equals the reference, with Keras weight names, shapes and order', async () => {
    const layer = new MultiHeadAttention({ numHeads: 2, keyDim: 4, name: 'mha_self' });
    const shape = [2, 5, 8];
    const xv = data(shape, 1);
    const x = tf.tensor3d(xv, shape as [number, number, number]);
    tf.dispose(layer.apply(x) as tf.Tensor); // builds
    assert.deepEqual(layer.weights.map((w) => [w.originalName, w.shape]), [
      ['mha_self/query/kernel', [8, 2, 4]], ['mha_self/query/bias', [2, 4]],
      ['mha_self/key/kernel', [8, 2, 4]], ['mha_self/key/bias', [2, 4]],
      ['mha_self/value/kernel', [8, 2, 4]], ['mha_self/value/bias', [2, 4]],
      ['mha_self/attention_output/kernel', [2, 4, 8]], ['mha_self/attention_output/bias', [8]],
    ]);
    const w = seedWeights(layer, 10);
    const ref = reference(xv, shape, xv, shape, xv, 8, w, { heads: 2, keyDim: 4, valueDim: 4, outDim: 8 });
    await assertNoLeak(() => {
      for (const y of [layer.apply(x), layer.apply([x, x]), layer.apply([x, x, x])] as tf.Tensor[]) {
        assert.deepEqual(y.shape, [2, 5, 8]);
        assertClose(y.dataSync(), ref.out, 1e-5, 'self-attention output');
        y.dispose();
      }
    });
    x.dispose();
  });

  test('cross-attention with other lengths, value_dim ≠ key_dim, output_shape and no bias', () => {
    for (const useBias of [true, false]) {
      const layer = new MultiHeadAttention({ numHeads: 3, keyDim: 4, valueDim: 2, outputShape: 5, useBias, name: `mha_cross_${useBias}` });
      const [qs, vs, ks] = [[2, 3, 6], [2, 7, 5], [2, 7, 4]];
      const [qv, vv, kv] = [data(qs, 2), data(vs, 3), data(ks, 4)];
      const [q, v, k] = [tf.tensor(qv, qs), tf.tensor(vv, vs), tf.tensor(kv, ks)];
      tf.dispose(layer.apply([q, v, k]) as tf.Tensor);
      assert.equal(layer.weights.length, useBias ? 8 : 4);
      assert.deepEqual(layer.weights.map((w) => w.shape), useBias
        ? [[6, 3, 4], [3, 4], [4, 3, 4], [3, 4], [5, 3, 2], [3, 2], [3, 2, 5], [5]]
        : [[6, 3, 4], [4, 3, 4], [5, 3, 2], [3, 2, 5]]);
      const w = seedWeights(layer, 20);
      const ref = reference(qv, qs, vv, vs, kv, 4, w, { heads: 3, keyDim: 4, valueDim: 2, outDim: 5 });
      const y = layer.apply([q, v, k]) as tf.Tensor;
      assert.deepEqual(y.shape, [2, 3, 5]);
      assertClose(y.dataSync(), ref.out, 1e-5, `cross-attention output (bias ${useBias})`);
      tf.dispose([q, v, k, y]);
    }
  });

  test('attention scores: rows sum to 1 and equal the reference softmax; the causal mask zeroes the upper triangle', () => {
    const layer = new MultiHeadAttention({ numHeads: 2, keyDim: 3, name: 'mha_scores' });
    const shape = [2, 4, 6];
    const xv = data(shape, 5);
    const x = tf.tensor(xv, shape);
    tf.dispose(layer.apply(x) as tf.Tensor);
    const w = seedWeights(layer, 30);
    for (const causal of [false, true]) {
      const ref = reference(xv, shape, xv, shape, xv, 6, w, { heads: 2, keyDim: 3, valueDim: 3, outDim: 6, causal });
      const [y, scores] = layer.apply(x, { returnAttentionScores: true, useCausalMask: causal }) as tf.Tensor[];
      assert.deepEqual(scores.shape, [2, 2, 4, 4]);
      assertClose(y.dataSync(), ref.out, 1e-5, 'output');
      assertClose(scores.dataSync(), ref.scores, 1e-5, 'scores');
      const s = scores.arraySync() as number[][][][];
      for (const row of s.flat(2)) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      if (causal) {
        for (const m of s.flat(1)) for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) assert.ok(m[i][j] < 1e-7, `scores[${i}][${j}] = ${m[i][j]}`);
      }
      // Snake-case kwargs and callWithScores give the same.
      const [y2, s2] = layer.apply(x, { return_attention_scores: true, use_causal_mask: causal }) as tf.Tensor[];
      assertClose(s2.dataSync(), ref.scores, 1e-5, 'scores (snake_case kwargs)');
      if (!causal) {
        const [y3, s3] = tf.tidy(() => layer.callWithScores(x));
        assertClose(y3.dataSync(), ref.out, 1e-5, 'callWithScores output');
        assertClose(s3.dataSync(), ref.scores, 1e-5, 'callWithScores scores');
        tf.dispose([y3, s3]);
      }
      tf.dispose([y, scores, y2, s2]);
    }
    x.dispose();
  });

  test('an attention mask (kwarg, 4th input or callWithScores) masks like Keras', () => {
    const layer = new MultiHeadAttention({ numHeads: 2, keyDim: 3, valueDim: 4, name: 'mha_mask' });
    const [qs, vs] = [[2, 3, 5], [2, 4, 5]];
    const [qv, vv] = [data(qs, 6), data(vs, 7)];
    const [q, v] = [tf.tensor(qv, qs), tf.tensor(vv, vs)];
    tf.dispose(layer.apply([q, v]) as tf.Tensor);
    const w = seedWeights(layer, 40);
    const maskv = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => (i % 3 === 1 ? 0 : 1));
    const mask = tf.tensor(maskv, [2, 3, 4], 'bool');
    const ref = reference(qv, qs, vv, vs, vv, 5, w, { heads: 2, keyDim: 3, valueDim: 4, outDim: 5, mask: maskv });
    const [y1, s1] = layer.apply([q, v], { attentionMask: mask, returnAttentionScores: true }) as tf.Tensor[];
    const y2 = layer.apply([q, v, v, mask]) as tf.Tensor;
    const [y3, s3] = layer.callWithScores(q, v, undefined, mask);
    for (const [y, what] of [[y1, 'kwarg'], [y2, '4th input'], [y3, 'callWithScores']] as const) assertClose(y.dataSync(), ref.out, 1e-5, `output (${what})`);
    for (const s of [s1, s3]) assertClose(s.dataSync(), ref.scores, 1e-5, 'masked scores');
    const sv = s1.dataSync();
    maskv.forEach((m, i) => {
      if (m === 0) for (let n = 0; n < 2; n++) {
        const [b, rest] = [Math.floor(i / 12), i % 12];
        assert.ok(sv[(b * 2 + n) * 12 + rest] < 1e-7);
      }
    });
    tf.dispose([q, v, mask, y1, s1, y2, y3, s3]);
  });
});

describe('attention axes', () => {
  before(() => useBackend('cpu'));

  test('attention_axes [1] on 3-D inputs equals the default; 4-D inputs attend over the flattened or the chosen axes', () => {
    const x3 = tf.tensor(data([2, 6, 4], 8), [2, 6, 4]);
    const byDefault = new MultiHeadAttention({ numHeads: 2, keyDim: 3, name: 'mha_axes_default' });
    const axis1 = new MultiHeadAttention({ numHeads: 2, keyDim: 3, attentionAxes: [1], name: 'mha_axes_1' });
    tf.dispose([byDefault.apply(x3), axis1.apply(x3)] as tf.Tensor[]);
    seedWeights(byDefault, 50);
    axis1.setWeights(byDefault.getWeights());
    const [a, b] = [byDefault.apply(x3), axis1.apply(x3)] as tf.Tensor[];
    assertClose(b.dataSync(), a.dataSync(), 1e-6, 'attention_axes [1]');

    // [2, 2, 3, 4] with the default axes (1, 2) is the [2, 6, 4] sequence, reshaped.
    const x4 = tf.reshape(x3, [2, 2, 3, 4]);
    const [y4, s4] = byDefault.apply(x4, { returnAttentionScores: true }) as tf.Tensor[];
    assert.deepEqual(y4.shape, [2, 2, 3, 4]);
    assert.deepEqual(s4.shape, [2, 2, 2, 3, 2, 3]);
    assertClose(y4.dataSync(), a.dataSync(), 1e-5, '4-D default axes');
    const [, s3] = byDefault.apply(x3, { returnAttentionScores: true }) as tf.Tensor[];
    assertClose(s4.dataSync(), s3.dataSync(), 1e-5, '4-D default-axes scores');

    // attention_axes [2]: each row of axis 1 is a separate sequence of length 3.
    const axis2 = new MultiHeadAttention({ numHeads: 2, keyDim: 3, attentionAxes: 2, name: 'mha_axes_2' });
    tf.dispose(axis2.apply(x4) as tf.Tensor);
    axis2.setWeights(byDefault.getWeights());
    const [y2, s2] = axis2.apply(x4, { returnAttentionScores: true }) as tf.Tensor[];
    assert.deepEqual(s2.shape, [2, 2, 2, 3, 3]);
    const rows = tf.reshape(x4, [4, 3, 4]);
    const [yr, sr] = byDefault.apply(rows, { returnAttentionScores: true }) as tf.Tensor[];
    assertClose(y2.dataSync(), yr.dataSync(), 1e-5, 'attention_axes [2] output');
    assertClose(s2.dataSync(), sr.dataSync(), 1e-5, 'attention_axes [2] scores');
    assert.deepEqual((axis2.getConfig() as { attentionAxes: number[] }).attentionAxes, [2]);
    tf.dispose([x3, a, b, x4, y4, s4, s3, y2, s2, rows, yr, sr]);
  });

  test('unsupported attention_axes give a clear error', () => {
    const x = tf.zeros([1, 3, 4]);
    for (const axes of [[0], [2], [-1], [1, 1]]) {
      const layer = new MultiHeadAttention({ numHeads: 1, keyDim: 2, attentionAxes: axes });
      assert.throws(() => layer.apply(x), /attention_axes .* is not supported for 3-D inputs/);
    }
    assert.throws(() => new MultiHeadAttention({ numHeads: 1, keyDim: 2 }).apply(tf.zeros([2, 4])), /rank 3 or more/);
    x.dispose();
  });
});

// ---------------------------------------------------------------------------------------------
// Keras-format configs and model.json files.

const GLOROT = { class_name: 'GlorotUniform', config: { seed: null } };
const ZEROS = { class_name: 'Zeros', config: {} };

/** An MHA layer config as tf.keras 2.x `get_config` writes it (after the layer was built). */
function kerasMhaConfig(name: string, seq: number, dim: number) {
  return {
    name, trainable: true, dtype: 'float32',
    num_heads: 2, key_dim: 4, value_dim: 4, dropout: 0.0, use_bias: true, output_shape: null, attention_axes: [1],
    kernel_initializer: GLOROT, bias_initializer: ZEROS,
    kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
    query_shape: [null, seq, dim], key_shape: [null, seq, dim], value_shape: [null, seq, dim],
  };
}

const layerEntry = (className: string, config: Record<string, unknown>, inbound: unknown[]) => ({
  class_name: className, config, name: config.name, inbound_nodes: inbound,
});

const denseConfig = (name: string, units: number, activation: string) => ({
  name, trainable: true, dtype: 'float32', units, activation, use_bias: true, kernel_initializer: GLOROT, bias_initializer: ZEROS,
  kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
});

/**
 * A tf.keras 2-style functional model: Input → [Reshape] → MultiHeadAttention called as mha(x, x)
 * (serialised with the value in the node's kwargs) → GlobalAveragePooling1D → Dense(3).
 */
function kerasTopology(opts: { image: boolean; causal: boolean; activation: string }) {
  const layers: unknown[] = [
    layerEntry('InputLayer', { batch_input_shape: opts.image ? [null, 5, 8, 1] : [null, 5, 8], dtype: 'float32', sparse: false, ragged: false, name: 'input_1' }, []),
  ];
  let src = 'input_1';
  if (opts.image) {
    layers.push(layerEntry('Reshape', { name: 'reshape', trainable: true, dtype: 'float32', target_shape: [5, 8] }, [[['input_1', 0, 0, {}]]]));
    src = 'reshape';
  }
  const kwargs: Record<string, unknown> = { value: [src, 0, 0] };
  if (opts.causal) kwargs.use_causal_mask = true;
  layers.push(
    layerEntry('MultiHeadAttention', kerasMhaConfig('multi_head_attention', 5, 8), [[[src, 0, 0, kwargs]]]),
    layerEntry('GlobalAveragePooling1D', { name: 'global_average_pooling1d', trainable: true, dtype: 'float32', data_format: 'channels_last', keepdims: false }, [[['multi_head_attention', 0, 0, {}]]]),
    layerEntry('Dense', denseConfig('dense', 3, opts.activation), [[['global_average_pooling1d', 0, 0, {}]]]),
  );
  return {
    keras_version: '2.12.0', backend: 'tensorflow',
    model_config: { class_name: 'Functional', config: { name: 'model', trainable: true, layers, input_layers: [['input_1', 0, 0]], output_layers: [['dense', 0, 0]] } },
  };
}

const MHA_WEIGHTS: [string, number[]][] = [
  ['query/kernel', [8, 2, 4]], ['query/bias', [2, 4]], ['key/kernel', [8, 2, 4]], ['key/bias', [2, 4]],
  ['value/kernel', [8, 2, 4]], ['value/bias', [2, 4]], ['attention_output/kernel', [2, 4, 8]], ['attention_output/bias', [8]],
];

/** Writes model.json + one weight shard (Keras weight names) to a temp folder; returns the file and weights. */
function writeKerasModel(opts: { image: boolean; causal: boolean; activation: string }): { file: string; w: W; dense: W } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-mha-'));
  const specs: { name: string; shape: number[]; dtype: 'float32' }[] = [];
  const parts: Float32Array[] = [];
  const w: W = new Map(), dense: W = new Map();
  const add = (name: string, shape: number[], seed: number, into: W, key: string) => {
    const v = data(shape, seed).map((x) => x * 0.6);
    specs.push({ name, shape, dtype: 'float32' });
    parts.push(v);
    into.set(key, v);
  };
  MHA_WEIGHTS.forEach(([n, shape], i) => add(`multi_head_attention/${n}`, shape, 60 + i, w, n));
  add('dense/kernel', [8, 3], 70, dense, 'kernel');
  add('dense/bias', [3], 71, dense, 'bias');
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) { all.set(p, offset); offset += p.length; }
  fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), Buffer.from(all.buffer));
  const json = {
    format: 'layers-model', generatedBy: 'keras v2.12.0', convertedBy: 'TensorFlow.js Converter v4.4.0',
    modelTopology: kerasTopology(opts),
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: specs }],
  };
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(file, JSON.stringify(json));
  return { file, w, dense };
}

/** The reference model: mean over the sequence of the attention output, then Dense(3) logits. */
function referenceLogits(xv: Float32Array, batch: number, w: W, dense: W, causal: boolean): Float32Array {
  const shape = [batch, 5, 8];
  const { out } = reference(xv, shape, xv, shape, xv, 8, w, { heads: 2, keyDim: 4, valueDim: 4, outDim: 8, causal });
  const logits = new Float32Array(batch * 3);
  for (let b = 0; b < batch; b++) for (let c = 0; c < 3; c++) {
    let acc = dense.get('bias')![c];
    for (let d = 0; d < 8; d++) {
      let mean = 0;
      for (let t = 0; t < 5; t++) mean += out[(b * 5 + t) * 8 + d] / 5;
      acc += mean * dense.get('kernel')![d * 3 + c];
    }
    logits[b * 3 + c] = acc;
  }
  return logits;
}

describe('Keras configs and models', () => {
  before(() => useBackend('cpu'));

  test('getConfig → fromConfig gives the same config and the same outputs', () => {
    const layer = new MultiHeadAttention({ numHeads: 2, keyDim: 3, valueDim: 5, outputShape: [4], kernelInitializer: 'heNormal', name: 'mha_cfg' });
    const x = tf.tensor(data([1, 4, 6], 9), [1, 4, 6]);
    tf.dispose(layer.apply(x) as tf.Tensor);
    seedWeights(layer, 80);
    const config = layer.getConfig();
    assert.equal(config.numHeads, 2);
    assert.equal(config.valueDim, 5);
    assert.deepEqual(config.outputShape, [4]);
    assert.equal(config.attentionAxes, null);
    assert.deepEqual(config.queryShape, [1, 4, 6]);
    assert.deepEqual(config.kernelInitializer, { className: 'HeNormal', config: { seed: null } });
    assert.deepEqual(config.biasInitializer, { className: 'Zeros', config: {} });
    const copy = MultiHeadAttention.fromConfig(MultiHeadAttention, JSON.parse(JSON.stringify(config))) as MultiHeadAttention;
    assert.deepEqual(copy.getConfig(), config);
    tf.dispose(copy.apply(x) as tf.Tensor);
    copy.setWeights(layer.getWeights());
    assert.deepEqual(copy.getConfig(), config);
    const [a, b] = [layer.apply(x), copy.apply(x)] as tf.Tensor[];
    assertClose(b.dataSync(), a.dataSync(), 1e-7, 'outputs after the round-trip');
    assert.equal(new MultiHeadAttention({ numHeads: 1, keyDim: 2 }).getConfig().valueDim, 2, 'value_dim null → key_dim');
    tf.dispose([x, a, b]);
  });

  test("a Keras (snake_case) config deserialises through tfjs-layers' model deserialisation and serialises back unchanged", async () => {
    const topology = kerasTopology({ image: false, causal: false, activation: 'linear' });
    const model = await tfl.models.modelFromJSON(normalizeKerasTopology(topology) as tfl.ModelAndWeightsConfig);
    const mha = model.getLayer('multi_head_attention');
    assert.ok(mha instanceof MultiHeadAttention);
    const c = mha.getConfig();
    assert.equal(c.numHeads, 2);
    assert.equal(c.keyDim, 4);
    assert.deepEqual(c.kernelInitializer, { className: 'GlorotUniform', config: { seed: null } });
    assert.deepEqual(mha.weights.map((w) => w.originalName), MHA_WEIGHTS.map(([n]) => `multi_head_attention/${n}`));
    const back = model.toJSON(null, false) as unknown as { config: { layers: { name: string; config: unknown; inbound_nodes: unknown }[] } };
    const entry = back.config.layers.find((l) => l.name === 'multi_head_attention')!;
    assert.deepEqual(entry.config, kerasMhaConfig('multi_head_attention', 5, 8));
    assert.deepEqual(entry.inbound_nodes, [[['input_1', 0, 0, {}], ['input_1', 0, 0, {}]]]);
    model.dispose();
  });

  test('a Keras cross-attention call with value and attention_mask kwargs from other inputs is wired as Keras does', async () => {
    const input = (name: string, shape: number[]) => layerEntry('InputLayer', { batch_input_shape: [null, ...shape], dtype: 'float32', sparse: false, ragged: false, name }, []);
    const config = { ...kerasMhaConfig('mha', 3, 4), query_shape: [null, 3, 4], value_shape: [null, 5, 6], key_shape: [null, 5, 6] };
    const topology = {
      class_name: 'Functional',
      config: {
        name: 'cross', trainable: true,
        layers: [
          input('q', [3, 4]), input('v', [5, 6]), input('m', [3, 5]),
          layerEntry('MultiHeadAttention', config, [[['q', 0, 0, { value: ['v', 0, 0], attention_mask: ['m', 0, 0] }]]]),
        ],
        input_layers: [['q', 0, 0], ['v', 0, 0], ['m', 0, 0]], output_layers: [['mha', 0, 0]],
      },
    };
    const model = await tfl.models.modelFromJSON(normalizeKerasTopology(topology) as tfl.ModelAndWeightsConfig);
    const mha = model.getLayer('mha');
    assert.deepEqual(mha.weights.map((w) => w.shape), [[4, 2, 4], [2, 4], [6, 2, 4], [2, 4], [6, 2, 4], [2, 4], [2, 4, 4], [4]]);
    const w = seedWeights(mha, 90);
    const [qv, vv] = [data([2, 3, 4], 13), data([2, 5, 6], 14)];
    const maskv = Float32Array.from({ length: 2 * 3 * 5 }, (_, i) => (i % 4 === 2 ? 0 : 1));
    const ref = reference(qv, [2, 3, 4], vv, [2, 5, 6], vv, 6, w, { heads: 2, keyDim: 4, valueDim: 4, outDim: 4, mask: maskv });
    const y = tf.tidy(() => (model.predict([tf.tensor(qv, [2, 3, 4]), tf.tensor(vv, [2, 5, 6]), tf.tensor(maskv, [2, 3, 5])]) as tf.Tensor).dataSync());
    assertClose(y, ref.out, 1e-5, 'cross-attention model output');
    model.dispose();
  });

  test('a Keras model.json with [batch, seq, dim] input loads through the fs handler with the topology normalised', async () => {
    const { file, w, dense } = writeKerasModel({ image: false, causal: false, activation: 'linear' });
    // Without the rewrite, tfjs-layers cannot wire the value kwarg.
    await assert.rejects(tfl.loadLayersModel(fsLoadHandler(file)), /its value kwarg is \["input1",0,0\], not a tensor/);
    const model = await tfl.loadLayersModel(withNormalizedKerasTopology(fsLoadHandler(file)), { strict: true });
    const xv = data([2, 5, 8], 11);
    const y = tf.tidy(() => (model.predict(tf.tensor(xv, [2, 5, 8])) as tf.Tensor).dataSync());
    assertClose(y, referenceLogits(xv, 2, w, dense, false), 1e-5, 'model output');
    model.dispose();
    // The project's loader normalises and registers the layer too, but its adapter takes image inputs only.
    await assert.rejects(loadModel(file), (e: unknown) => e instanceof UserError && /takes a rank-3 tensor \[\?, 5, 8\], not an image \[batch, height, width, channels\]/.test(e.message));
  });

  test('an image-input Keras model with a causal MultiHeadAttention loads through loadModel and the adapter computes it', async () => {
    const { file, w, dense } = writeKerasModel({ image: true, causal: true, activation: 'softmax' });
    const loaded = await loadModel(file);
    assert.equal(loaded.format, 'tfjs-layers');
    assert.deepEqual(loaded.adapter.inputShape, [5, 8, 1]);
    assert.equal(loaded.adapter.headActivation, 'softmax');
    assert.ok(loaded.adapter.layers.some((l) => l.name === 'multi_head_attention' && l.className === 'MultiHeadAttention'));
    const xv = data([2, 5, 8], 12);
    const x = tf.tensor4d(xv, [2, 5, 8, 1]);
    const ref = referenceLogits(xv, 2, w, dense, true);
    const logits = loaded.adapter.logits(x);
    assertClose(logits.dataSync(), ref, 1e-5, 'adapter logits (causal)');
    assert.ok(referenceLogits(xv, 2, w, dense, false).some((v, i) => Math.abs(v - ref[i]) > 1e-3), 'the causal mask matters here');
    // tfjs-layers' own predict runs the recorded use_causal_mask too.
    const model = (loaded.adapter as unknown as { model: tfl.LayersModel }).model;
    const probs = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
    assertClose(probs, tf.tidy(() => tf.softmax(tf.tensor2d(ref, [2, 3])).dataSync()), 1e-5, 'predict');
    // Gradients flow through the layer.
    const { grad } = loaded.adapter.inputGradient(x, { index: 1, space: 'logit' });
    assert.deepEqual(grad.shape, [2, 5, 8, 1]);
    assert.ok(Array.from(grad.dataSync()).some((g) => g !== 0));
    tf.dispose([x, logits, grad]);
    loaded.adapter.dispose();
  });
});

describe('normalizeKerasTopology', () => {
  const mha = (inbound: unknown[]) => ({ class_name: 'MultiHeadAttention', config: { name: 'mha' }, name: 'mha', inbound_nodes: inbound });
  const wrap = (...layers: unknown[]) => ({ model_config: { class_name: 'Functional', config: { name: 'm', layers } } });
  const nodesOf = (t: unknown, i = 0) => (t as ReturnType<typeof wrap>).model_config.config.layers[i] as { inbound_nodes: unknown };

  test('value only: [query, value] positional inputs', () => {
    const input = wrap(mha([[['ln1', 0, 0, { value: ['ln1', 0, 0] }]]]));
    const before = JSON.stringify(input);
    const out = normalizeKerasTopology(input);
    assert.deepEqual(nodesOf(out).inbound_nodes, [[['ln1', 0, 0, {}], ['ln1', 0, 0, {}]]]);
    assert.equal(JSON.stringify(input), before, 'the input is not modified');
  });

  test('value and key: [query, value, key]; boolean kwargs are kept', () => {
    const out = normalizeKerasTopology(wrap(mha([[['q', 0, 0, { value: ['v', 1, 0], key: ['k', 0, 2], use_causal_mask: true, return_attention_scores: false }]]])));
    const kw = { use_causal_mask: true, return_attention_scores: false };
    assert.deepEqual(nodesOf(out).inbound_nodes, [[['q', 0, 0, kw], ['v', 1, 0, kw], ['k', 0, 2, kw]]]);
  });

  test('an attention_mask reference becomes the 4th input; null kwargs are dropped; several nodes are rewritten', () => {
    const out = normalizeKerasTopology(wrap(mha([
      [['q', 0, 0, { value: ['v', 0, 0], key: null, attention_mask: ['m', 0, 0] }]],
      [['q2', 0, 0, { value: ['q2', 0, 0], return_attention_scores: true }]],
    ])));
    assert.deepEqual(nodesOf(out).inbound_nodes, [
      [['q', 0, 0, {}], ['v', 0, 0, {}], ['v', 0, 0, {}], ['m', 0, 0, {}]],
      [['q2', 0, 0, { return_attention_scores: true }], ['q2', 0, 0, { return_attention_scores: true }]],
    ]);
  });

  test('other layers, already positional nodes and nested models', () => {
    const add = { class_name: 'Add', config: { name: 'add' }, name: 'add', inbound_nodes: [[['a', 0, 0, { value: ['b', 0, 0] }], ['b', 0, 0, {}]]] };
    const positional = mha([[['q', 0, 0, {}], ['v', 0, 0, {}]]]);
    const nested = { class_name: 'Functional', config: { name: 'inner', layers: [mha([[['x', 0, 0, { value: ['y', 0, 0] }]]])] }, name: 'inner', inbound_nodes: [] };
    const input = wrap(add, positional, nested);
    const out = normalizeKerasTopology(input) as ReturnType<typeof wrap>;
    assert.deepEqual(out.model_config.config.layers[0], add);
    assert.deepEqual(out.model_config.config.layers[1], positional);
    const inner = (out.model_config.config.layers[2] as typeof nested).config.layers[0];
    assert.deepEqual(inner.inbound_nodes, [[['x', 0, 0, {}], ['y', 0, 0, {}]]]);
    assert.notEqual(out.model_config.config.layers[0], add, 'a copy');
    assert.equal(normalizeKerasTopology(undefined), undefined);
  });

  test('value given as a constant is a UserError', () => {
    assert.throws(() => normalizeKerasTopology(wrap(mha([[['q', 0, 0, { value: [[1, 2], [3, 4]] }]]]))), (e: unknown) => e instanceof UserError && /value as a constant/.test(e.message));
  });
});

/**
 * The vit-keras layers (ClassToken, AddPositionEmbs, ExtractToken): shapes, values, configs and a
 * save → loadModel round trip. Then known answers on the attention demo models
 * (demo/attention-fixture.ts), with the attention probabilities captured by the attention engine
 * (loadAttentionModel; checked against the MultiHeadAttention layers' probabilitiesHook in a
 * plain forward pass): the tiny ViT, whose class is decided by one patch, has attention rollout
 * peaking on that patch; the token model, which looks for the word "needle", has its CLS token
 * attend most to it in the last layer.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { AddPositionEmbs, ClassToken, ExtractToken } from '../../../src/extension/model/layers/vit-layers';
import { MultiHeadAttention } from '../../../src/extension/model/layers/multi-head-attention';
import { fsLoadHandler, fsSaveHandler } from '../../../src/extension/model/fs-io';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import type { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import type { AttentionModel } from '../../../src/extension/attention/attention-model';
import { loadAttentionModel } from '../../../src/extension/attention/load-attention';
import { rollout } from '../../../src/extension/attention/rollout';
import { clsRow, patchGrid } from '../../../src/extension/attention/token-maps';
import { toUnit } from '../../../demo/synthetic';
import {
  makeTokenSequence, makeVitBatch, makeVitImage, MARKER_CLASSES, MARKER_ID, mulberry32, TOKEN_CLASSES, TOKEN_SEQ_LENGTH, TOKEN_VOCAB,
  VIT_GRID, VIT_INPUT_SIZE, type VitImage,
} from '../../../demo/attention-data';
import { assertClose, assertNoLeak, seededArray, useBackend } from '../../helpers/tf-test';

const ROOT = path.resolve(__dirname, '../../../..');
const VIT = path.join(ROOT, 'demo', 'models', 'tiny-vit');
const TOKENS = path.join(ROOT, 'demo', 'models', 'token-marker');
const VIT_IMAGES = path.join(ROOT, 'demo', 'vit-images');

before(async () => {
  await useBackend('wasm');
});

const argmax = (a: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
};

/** The model's MultiHeadAttention layers, in model order. */
function attentionLayers(model: tfl.LayersModel): MultiHeadAttention[] {
  return model.layers.filter((l): l is MultiHeadAttention => l instanceof MultiHeadAttention);
}

/**
 * One forward pass (`forward`, batch 1) with a probabilities hook on each attention layer: each
 * layer's probabilities [heads, q, k], copied inside the hook (the layer frees them after use),
 * and the model's output.
 */
function hookedAttention(model: tfl.LayersModel, forward: () => tf.Tensor): { probabilities: Float32Array[]; output: Float32Array } {
  const layers = attentionLayers(model);
  const seen: Float32Array[] = [];
  try {
    layers.forEach((l, i) => {
      l.probabilitiesHook = (p) => {
        assert.equal(p.shape[0], 1);
        seen[i] = Float32Array.from(p.dataSync() as Float32Array);
        return p;
      };
    });
    const out = tf.tidy(forward);
    const output = Float32Array.from(out.dataSync() as Float32Array);
    out.dispose();
    assert.equal(seen.filter((a) => a).length, layers.length, 'every attention layer ran');
    return { probabilities: seen, output };
  } finally {
    layers.forEach((l) => { l.probabilitiesHook = undefined; });
  }
}

/** A registered class rebuilt from its config, as model loading does. */
function fromConfig<T extends serialization.Serializable>(className: string, config: serialization.ConfigDict): T {
  const [cls, make] = serialization.SerializationMap.getMap().classNameMap[className];
  return make(cls, config) as T;
}

describe('vit-keras layers', () => {
  test('ClassToken prepends its learned token: [b, n, d] → [b, n + 1, d], weight cls [1, 1, d]', async () => {
    const layer = new ClassToken({ name: 'class_token' });
    assert.deepEqual(layer.computeOutputShape([null, 5, 4]), [null, 6, 4]);
    assert.deepEqual(layer.computeOutputShape([2, null, 4]), [2, null, 4]);
    const x = tf.tensor3d(seededArray(2 * 3 * 4, 1), [2, 3, 4]);
    tf.dispose(layer.apply(x) as tf.Tensor); // builds it
    assert.deepEqual(layer.weights.map((w) => [w.originalName, w.shape]), [['class_token/cls', [1, 1, 4]]]);
    const cls = seededArray(4, 2);
    layer.setWeights([tf.tensor3d(cls, [1, 1, 4])]);
    const v = await assertNoLeak(() => {
      const out = layer.apply(x) as tf.Tensor;
      assert.deepEqual(out.shape, [2, 4, 4]);
      const a = out.arraySync() as number[][][];
      out.dispose();
      return a;
    });
    const xs = x.arraySync();
    for (let b = 0; b < 2; b++) {
      assertClose(v[b][0], cls, 1e-7, `batch ${b} token 0`);
      for (let t = 0; t < 3; t++) assertClose(v[b][t + 1], xs[b][t], 1e-7, `batch ${b} token ${t + 1}`);
    }
    x.dispose();
  });

  test('AddPositionEmbs adds its learned [1, n, d] pos_embedding and keeps the shape', async () => {
    const layer = new AddPositionEmbs({ name: 'pos' });
    assert.deepEqual(layer.computeOutputShape([null, 3, 4]), [null, 3, 4]);
    const x = tf.tensor3d(seededArray(2 * 3 * 4, 3), [2, 3, 4]);
    tf.dispose(layer.apply(x) as tf.Tensor); // builds it
    assert.deepEqual(layer.weights.map((w) => [w.originalName, w.shape]), [['pos/pos_embedding', [1, 3, 4]]]);
    const pe = seededArray(12, 4);
    layer.setWeights([tf.tensor3d(pe, [1, 3, 4])]);
    const v = await assertNoLeak(() => {
      const out = layer.apply(x) as tf.Tensor;
      assert.deepEqual(out.shape, [2, 3, 4]);
      const a = Float32Array.from(out.dataSync());
      out.dispose();
      return a;
    });
    const xs = x.dataSync();
    for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i] - (xs[i] + pe[i % 12])) < 1e-6, `value ${i}`);
    assert.throws(() => new AddPositionEmbs({ name: 'p2' }).build([null, null, 4]), /sequence length must be known/);
    assert.throws(() => new AddPositionEmbs({ name: 'p3' }).build([null, 4]), /expects a sequence/);
    x.dispose();
  });

  test('ExtractToken takes token `index` (negative from the end): [b, n, d] → [b, d]', async () => {
    const x = tf.tensor3d(seededArray(2 * 5 * 3, 5), [2, 5, 3]);
    const xs = x.arraySync();
    for (const [index, at] of [[0, 0], [2, 2], [-1, 4]]) {
      const layer = new ExtractToken({ name: `take${at}`, index });
      assert.deepEqual(layer.computeOutputShape([null, 5, 3]), [null, 3]);
      const v = await assertNoLeak(() => {
        const out = layer.apply(x) as tf.Tensor;
        assert.deepEqual(out.shape, [2, 3]);
        const a = out.arraySync() as number[][];
        out.dispose();
        return a;
      });
      for (let b = 0; b < 2; b++) assert.deepEqual(v[b], xs[b][at]);
    }
    assert.equal(new ExtractToken().index, 0);
    assert.throws(() => new ExtractToken({ index: 5 }).computeOutputShape([null, 5, 3]), /outside a sequence of 5 tokens/);
    assert.throws(() => new ExtractToken({ index: 1.5 }), /must be an integer/);
    x.dispose();
  });

  test('configs round-trip, and vit-keras configs (base keys only) load', () => {
    const layers = [new ClassToken({ name: 'class_token' }), new AddPositionEmbs({ name: 'Transformer/posembed_input' }), new ExtractToken({ name: 'cls', index: -1 })];
    for (const layer of layers) {
      const config = layer.getConfig();
      assert.equal(config.dtype, 'float32');
      const again = fromConfig<tfl.layers.Layer>(layer.getClassName(), config);
      assert.equal(again.getClassName(), layer.getClassName());
      assert.deepEqual(again.getConfig(), config);
    }
    assert.equal(layers[2].getConfig().index, -1);
    // What vit-keras writes: the base config only (its ExtractToken stand-in is a Lambda).
    const keras = fromConfig<ClassToken>('ClassToken', { name: 'class_token', trainable: true, dtype: 'float32' });
    assert.equal(keras.name, 'class_token');
    assert.equal(fromConfig<ExtractToken>('ExtractToken', { name: 'cls', trainable: true, dtype: 'float32' }).index, 0);
  });

  test('a model with the three layers saves and loads through loadModel with the same logits', async () => {
    const input = tfl.input({ name: 'image', shape: [8, 8, 3] });
    let x = tfl.layers.conv2d({ name: 'embed', filters: 6, kernelSize: 4, strides: 4 }).apply(input) as tfl.SymbolicTensor;
    x = tfl.layers.reshape({ name: 'tokens', targetShape: [4, 6] }).apply(x) as tfl.SymbolicTensor;
    x = new ClassToken({ name: 'class_token' }).apply(x) as tfl.SymbolicTensor;
    x = new AddPositionEmbs({ name: 'pos_embed' }).apply(x) as tfl.SymbolicTensor;
    x = new ExtractToken({ name: 'cls', index: 0 }).apply(x) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ name: 'predictions', units: 3, activation: 'softmax' }).apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    let seed = 10;
    for (const layer of model.layers) {
      const ws = layer.getWeights();
      if (ws.length > 0) layer.setWeights(ws.map((w) => tf.tensor(seededArray(w.size, seed++), w.shape)));
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-vit-layers-'));
    await model.save(fsSaveHandler(dir));
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const classes = (json.modelTopology.config.layers as { class_name: string }[]).map((l) => l.class_name);
    assert.deepEqual(classes.slice(3, 6), ['ClassToken', 'AddPositionEmbs', 'ExtractToken']);
    const names = (json.weightsManifest[0].weights as { name: string }[]).map((w) => w.name);
    assert.ok(names.includes('class_token/cls') && names.includes('pos_embed/pos_embedding'), names.join(', '));

    const loaded = await loadModel(dir);
    try {
      const img = tf.tensor4d(seededArray(2 * 8 * 8 * 3, 99), [2, 8, 8, 3]);
      const want = model.predict(img) as tf.Tensor;
      const logits = loaded.adapter.logits(img);
      const probs = tf.softmax(logits);
      assertClose(probs.dataSync(), want.dataSync(), 1e-5, 'softmax(logits) vs predict');
      tf.dispose([img, want, logits, probs]);
    } finally {
      loaded.adapter.dispose();
      model.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the tiny ViT demo model', () => {
  let vit: LoadedModel;
  let attention: AttentionModel;

  before(async () => {
    vit = await loadModel(VIT);
    attention = await loadAttentionModel(VIT);
  });

  after(() => {
    vit?.adapter.dispose();
    attention?.dispose();
  });

  const imageTensor = (im: VitImage) => tf.tensor4d(toUnit(im.pixels), [1, VIT_INPUT_SIZE, VIT_INPUT_SIZE, 3]);

  /**
   * The rollout map (mean fusion, nothing discarded) from the CLS token over the 4×4 patch grid,
   * of the attention the engine captures, and the class probabilities.
   */
  function rolloutMap(im: VitImage): { map: Float32Array; probs: Float32Array } {
    const x = imageTensor(im);
    try {
      const cap = attention.capture([x]);
      const { heads, queryTokens: tokens } = attention.layers[0];
      const r = rollout({ layers: cap.probabilities, heads, tokens }, { fusion: 'mean', discardRatio: 0 });
      const grid = patchGrid(clsRow(r, tokens, { cls: true }), attention.patches!.grid);
      return { map: grid.data, probs: cap.output };
    } finally {
      x.dispose();
    }
  }

  test('it loads as an image model with its labels, preprocessing, and patch grid', () => {
    assert.deepEqual(vit.labels, [...MARKER_CLASSES]);
    assert.equal(vit.preprocess, 'unit');
    assert.deepEqual(vit.warnings, []);
    assert.deepEqual(vit.adapter.inputShape, [VIT_INPUT_SIZE, VIT_INPUT_SIZE, 3]);
    assert.equal(vit.adapter.headActivation, 'softmax');
    const meta = JSON.parse(fs.readFileSync(path.join(VIT, 'metadata.json'), 'utf8'));
    assert.deepEqual(meta.patchGrid, [VIT_GRID, VIT_GRID]);
    assert.equal(meta.clsToken, true);
    assert.deepEqual(meta.inputSize, [VIT_INPUT_SIZE, VIT_INPUT_SIZE]);
    assert.deepEqual(attention.patches, { grid: [VIT_GRID, VIT_GRID], cls: true });
    assert.equal(attention.layers.length, 2);
    for (const l of attention.layers) {
      assert.equal(l.queryTokens, VIT_GRID * VIT_GRID + 1);
      assert.equal(l.cross, false);
    }
  });

  test("the engine captures the attention the layers' hooks see in the adapter's forward pass, and the same output", () => {
    const model = (vit.adapter as LayersModelAdapter).model;
    const rng = mulberry32(2718);
    for (let i = 0; i < 3; i++) {
      const x = imageTensor(makeVitImage(rng));
      const hooked = hookedAttention(model, () => vit.adapter.probabilities(x));
      const cap = attention.capture([x]);
      x.dispose();
      assert.equal(cap.probabilities.length, 2);
      cap.probabilities.forEach((p, l) => assertClose(p, hooked.probabilities[l], 1e-5, `layer ${l}`));
      assertClose(cap.output, hooked.output, 1e-5, 'output');
    }
  });

  test("the adapter's logits are tfjs' own: softmax(logits) = predict, logits = the head's dense layer", async () => {
    const model = (vit.adapter as LayersModelAdapter).model;
    const batch = makeVitBatch(mulberry32(4242), 8);
    const x = tf.tensor4d(toUnit(batch.pixels), [8, VIT_INPUT_SIZE, VIT_INPUT_SIZE, 3]);
    const logits = vit.adapter.logits(x);
    const predicted = model.predict(x) as tf.Tensor;
    const features = tfl.model({ inputs: model.inputs, outputs: model.getLayer('cls').output as tfl.SymbolicTensor }).predict(x) as tf.Tensor2D;
    const [kernel, bias] = model.getLayer('predictions').getWeights();
    const dense = tf.add(tf.matMul(features, kernel as tf.Tensor2D), bias);
    const probs = tf.softmax(logits);
    assertClose(logits.dataSync(), dense.dataSync(), 1e-5, 'logits');
    assertClose(probs.dataSync(), predicted.dataSync(), 1e-5, 'probabilities');
    tf.dispose([x, logits, predicted, features, dense, probs]);
  });

  test('it classifies ≥ 97% of 300 fresh images right', async (t) => {
    const batch = makeVitBatch(mulberry32(31337), 300);
    let ok = 0;
    await assertNoLeak(() => {
      for (let i = 0; i < 300; i += 100) {
        const n = VIT_INPUT_SIZE * VIT_INPUT_SIZE * 3;
        const x = tf.tensor4d(toUnit(batch.pixels.subarray(i * n, (i + 100) * n)), [100, VIT_INPUT_SIZE, VIT_INPUT_SIZE, 3]);
        const pred = tf.tidy(() => tf.argMax(vit.adapter.probabilities(x), 1).dataSync());
        x.dispose();
        pred.forEach((p, k) => { if (p === batch.labels[i + k]) ok++; });
      }
    });
    t.diagnostic(`accuracy ${ok}/300`);
    assert.ok(ok >= 291, `accuracy ${ok}/300`);
  });

  test('attention rollout from the CLS token peaks on the deciding patch in ≥ 90 of 100 fresh images', (t) => {
    const rng = mulberry32(8675309); // a stream the fixture script never used
    let hits = 0;
    let correct = 0;
    for (let i = 0; i < 100; i++) {
      const im = makeVitImage(rng);
      const { map, probs } = rolloutMap(im);
      if (argmax(map) === im.patch) hits++;
      if (argmax(probs) === im.label) correct++;
    }
    t.diagnostic(`rollout peak on the deciding patch in ${hits}/100 images; ${correct}/100 classified right`);
    assert.ok(correct >= 95, `accuracy ${correct}/100`);
    assert.ok(hits >= 90, `rollout peak on the deciding patch in ${hits}/100 images`);
  });

  test('the sample images: the right class, and the rollout peak on the patch patches.json names', async () => {
    const index = JSON.parse(fs.readFileSync(path.join(VIT_IMAGES, 'patches.json'), 'utf8')) as Record<string, { label: string; patch: number; row: number; col: number }>;
    const files = Object.keys(index);
    assert.ok(files.length >= 4 && files.length <= 6, `${files.length} sample images`);
    assert.deepEqual([...new Set(files.map((f) => index[f].label))].sort(), [...MARKER_CLASSES].sort());
    for (const file of files) {
      const { data, info } = await sharp(path.join(VIT_IMAGES, file)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual([info.width, info.height, info.channels], [VIT_INPUT_SIZE, VIT_INPUT_SIZE, 3]);
      const entry = index[file];
      assert.equal(entry.patch, entry.row * VIT_GRID + entry.col);
      const im: VitImage = { pixels: new Uint8Array(data), label: MARKER_CLASSES.indexOf(entry.label as (typeof MARKER_CLASSES)[number]), patch: entry.patch, box: { x: 0, y: 0, w: 0, h: 0 }, distractors: [] };
      const { map, probs } = rolloutMap(im);
      assert.equal(MARKER_CLASSES[argmax(probs)], entry.label, `${file}: predicted class`);
      assert.equal(argmax(map), entry.patch, `${file}: rollout peak`);
    }
  });
});

describe('the token demo model', () => {
  let model: tfl.LayersModel;
  let attention: AttentionModel;

  before(async () => {
    model = await tfl.loadLayersModel(fsLoadHandler(TOKENS));
    attention = await loadAttentionModel(TOKENS);
  });

  after(() => {
    model?.dispose();
    attention?.dispose();
  });

  /** The CLS token's attention in the last layer, mean over heads, and the class probabilities. */
  function lastLayerCls(ids: Int32Array): { row: Float64Array; probs: Float32Array } {
    const x = tf.tensor2d(ids, [1, TOKEN_SEQ_LENGTH], 'int32');
    try {
      const cap = attention.capture([x]);
      const { heads, queryTokens: n } = attention.layers[attention.layers.length - 1];
      const last = cap.probabilities[cap.probabilities.length - 1];
      const row = new Float64Array(n);
      for (let h = 0; h < heads; h++) for (let j = 0; j < n; j++) row[j] += last[h * n * n + j] / heads;
      return { row, probs: cap.output };
    } finally {
      x.dispose();
    }
  }

  test('it is a token model with its vocabulary, labels and example', () => {
    assert.deepEqual(attention.labels, [...TOKEN_CLASSES]);
    assert.equal(attention.inputs.length, 1);
    const input = attention.inputs[0];
    assert.equal(input.kind, 'tokens');
    if (input.kind !== 'tokens') return;
    assert.equal(input.length, TOKEN_SEQ_LENGTH);
    assert.deepEqual(input.vocab, [...TOKEN_VOCAB]);
    assert.ok(input.example?.split(' ').includes('needle'), `example: ${input.example}`);
    assert.equal(attention.patches, undefined);
    assert.deepEqual(attention.layers.map((l) => [l.heads, l.queryTokens, l.keyTokens, l.cross]), [[2, TOKEN_SEQ_LENGTH, TOKEN_SEQ_LENGTH, false]]);
    assert.equal(attentionLayers(model).length, 1);
  });

  test("the engine captures what the hooks see in tfjs' own forward pass", () => {
    const rng = mulberry32(2719);
    for (let i = 0; i < 3; i++) {
      const x = tf.tensor2d(makeTokenSequence(rng).ids, [1, TOKEN_SEQ_LENGTH], 'int32');
      const hooked = hookedAttention(model, () => model.predict(x) as tf.Tensor);
      const cap = attention.capture([x]);
      x.dispose();
      assert.equal(cap.probabilities.length, 1);
      assertClose(cap.probabilities[0], hooked.probabilities[0], 1e-5, 'attention');
      assertClose(cap.output, hooked.output, 1e-5, 'output');
    }
  });

  test('the loader says plainly that the token model is not an image model', async () => {
    await assert.rejects(loadModel(TOKENS), /takes token ids .*not an image .*Show Attention/);
  });

  test('with "needle" in the sequence, the CLS token attends most to it in the last layer (≥ 90 of 100), and the model says present', (t) => {
    const rng = mulberry32(5550123); // a stream the fixture script never used
    let hits = 0;
    let present = 0;
    for (let i = 0; i < 100; i++) {
      const s = makeTokenSequence(rng, { present: true });
      assert.equal(s.ids[s.markerIndex], MARKER_ID);
      const { row, probs } = lastLayerCls(s.ids);
      if (argmax(row) === s.markerIndex) hits++;
      if (argmax(probs) === 1) present++;
    }
    t.diagnostic(`largest CLS attention on the marker in ${hits}/100 sequences; ${present}/100 called present`);
    assert.ok(present >= 98, `called present: ${present}/100`);
    assert.ok(hits >= 90, `largest CLS attention on the marker: ${hits}/100`);
  });

  test('without "needle" the model says absent', () => {
    const rng = mulberry32(5550124);
    let absent = 0;
    for (let i = 0; i < 100; i++) {
      const { probs } = lastLayerCls(makeTokenSequence(rng, { present: false }).ids);
      if (argmax(probs) === 0) absent++;
    }
    assert.ok(absent >= 98, `called absent: ${absent}/100`);
  });

  test("the metadata's example sentence: present, and the most attended token is the needle", () => {
    const input = attention.inputs[0];
    assert.equal(input.kind, 'tokens');
    if (input.kind !== 'tokens') return;
    const words = input.example!.split(' ');
    assert.equal(words.length, TOKEN_SEQ_LENGTH);
    const ids = Int32Array.from(words, (w) => TOKEN_VOCAB.indexOf(w));
    const { row, probs } = lastLayerCls(ids);
    assert.equal(argmax(probs), 1);
    assert.equal(words[argmax(row)], 'needle');
  });
});

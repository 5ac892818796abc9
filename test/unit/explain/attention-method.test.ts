/**
 * Attention rollout and gradient-weighted rollout as explanation methods, on a tiny random-weight
 * ViT built here (16×16 image → 4×4 patches → 2 × self-attention, no CLS token): their maps
 * against the rollout math applied by hand to independently captured attention and gradients,
 * what applies to which model, the sanity cascade through the attention layers (with bit-exact
 * restoration) and tensor leaks.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { MultiHeadAttention } from '../../../src/extension/model/layers/multi-head-attention';
import { AddPositionEmbs, ClassToken, ExtractToken } from '../../../src/extension/model/layers/vit-layers';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import { EXPLAINERS, explainerById, whyNotApplicable } from '../../../src/extension/explain/registry';
import { explainImage } from '../../../src/extension/explain/explain-image';
import type { ExplanationMap } from '../../../src/extension/explain/explainer';
import { gradRollout, rollout } from '../../../src/extension/attention/rollout';
import { clsRow, inferPatchGrid, patchGrid } from '../../../src/extension/attention/token-maps';
import type { HeadFusion } from '../../../src/extension/attention/types';
import { runSanityCheck } from '../../../src/extension/sanity/run-sanity';
import { randomizableBlocks } from '../../../src/extension/model/layers-randomizer';
import { UserError } from '../../../src/shared/errors';
import { writeGraphModel } from '../../helpers/graph-model';
import { assertClose, assertNoLeak, seededArray, useBackend } from '../../helpers/tf-test';
import { seedTransformerWeights } from '../../helpers/models';

const ROOT = path.resolve(__dirname, '../../../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-attention-method-'));
const images: string[] = [];
const HEADS = 2;
const TOKENS = 16;

before(async () => {
  await useBackend('cpu');
  for (const [i, [w, h]] of [[16, 16], [20, 24]].entries()) {
    const px = Buffer.from(seededArray(w * h * 3, 70 + i).map((v) => Math.round(((v + 1) / 2) * 255)));
    const file = path.join(dir, `noise-${i}.png`);
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
    images.push(file);
  }
});

/**
 * Input 16×16×3 → Conv2D 4×4 stride 4 (the patch embedding) → Reshape [16, 8] → 2 × (self-
 * attention, 2 heads of key_dim 4, + residual Add + LayerNormalization) → GAP 1D → Dense softmax 3.
 */
export function tinyVit(seed = 5): tfl.LayersModel {
  const input = tfl.input({ shape: [16, 16, 3], name: 'image' });
  let x = tfl.layers.conv2d({ filters: 8, kernelSize: 4, strides: 4, name: 'patches' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.reshape({ targetShape: [TOKENS, 8], name: 'tokens' }).apply(x) as tfl.SymbolicTensor;
  for (const i of [1, 2]) {
    const attended = new MultiHeadAttention({ numHeads: HEADS, keyDim: 4, name: `mha${i}` }).apply([x, x]) as tfl.SymbolicTensor;
    x = tfl.layers.add({ name: `add${i}` }).apply([x, attended]) as tfl.SymbolicTensor;
    x = tfl.layers.layerNormalization({ name: `ln${i}` }).apply(x) as tfl.SymbolicTensor;
  }
  x = tfl.layers.globalAveragePooling1d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'pred' }).apply(x) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out, name: 'tiny_vit' });
  seedTransformerWeights(model, seed);
  return model;
}

/** The vit-keras layout: patches → ClassToken → AddPositionEmbs → self-attention → ExtractToken (CLS) → Dense. */
function clsVit(seed = 21): tfl.LayersModel {
  const input = tfl.input({ shape: [16, 16, 3], name: 'image' });
  let x = tfl.layers.conv2d({ filters: 8, kernelSize: 4, strides: 4, name: 'patches' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.reshape({ targetShape: [TOKENS, 8], name: 'tokens' }).apply(x) as tfl.SymbolicTensor;
  x = new ClassToken({ name: 'class_token' }).apply(x) as tfl.SymbolicTensor;
  x = new AddPositionEmbs({ name: 'pos_embs' }).apply(x) as tfl.SymbolicTensor;
  for (const i of [1, 2]) {
    const attended = new MultiHeadAttention({ numHeads: HEADS, keyDim: 4, name: `mha${i}` }).apply([x, x]) as tfl.SymbolicTensor;
    x = tfl.layers.add({ name: `add${i}` }).apply([x, attended]) as tfl.SymbolicTensor;
  }
  x = new ExtractToken({ name: 'cls' }).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'pred' }).apply(x) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out, name: 'cls_vit' });
  seedTransformerWeights(model, seed);
  return model;
}

function attentionLayers(model: tfl.LayersModel): MultiHeadAttention[] {
  return model.layers.filter((l): l is MultiHeadAttention => l instanceof MultiHeadAttention);
}

/**
 * The tiny ViT's logits, layer by layer (apart from the adapter's program and the attention
 * engine). Not model.predict / model.apply: tfjs-layers' executor disposes a tensor fed twice to
 * one layer, as in mha.apply([x, x]), one use too early.
 */
function logitsByHand(model: tfl.LayersModel, x: tf.Tensor): tf.Tensor2D {
  const layer = (name: string) => model.getLayer(name);
  let h = layer('tokens').apply(layer('patches').apply(x)) as tf.Tensor;
  for (const i of [1, 2]) {
    const attended = layer(`mha${i}`).apply([h, h]) as tf.Tensor;
    h = layer(`ln${i}`).apply(layer(`add${i}`).apply([h, attended])) as tf.Tensor;
  }
  const [kernel, bias] = layer('pred').getWeights();
  return tf.add(tf.matMul(layer('gap').apply(h) as tf.Tensor2D, kernel as tf.Tensor2D), bias);
}

/** The attention probabilities of a forward pass (`run`), read through the hooks. */
function capturedProbabilitiesOf(model: tfl.LayersModel, x: tf.Tensor, run: () => void): Float32Array[] {
  const mha = attentionLayers(model);
  const seen: Float32Array[] = [];
  try {
    mha.forEach((l, i) => { l.probabilitiesHook = (p) => ((seen[i] = Float32Array.from(p.dataSync() as Float32Array)), p); });
    tf.tidy(run);
  } finally {
    mha.forEach((l) => { l.probabilitiesHook = undefined; });
  }
  return seen;
}

/** The tiny ViT's attention probabilities of the forward pass by hand. */
function capturedProbabilities(model: tfl.LayersModel, x: tf.Tensor): Float32Array[] {
  return capturedProbabilitiesOf(model, x, () => { logitsByHand(model, x); });
}

/**
 * d score / d attention probabilities by tf.grads over the forward pass by hand, with zeros
 * added to each layer's probabilities through its hook. `space` probability: the softmax of the logits.
 */
function independentGradients(model: tfl.LayersModel, x: tf.Tensor, target: number, space: 'logit' | 'probability'): Float32Array[] {
  const mha = attentionLayers(model);
  const zeros = mha.map(() => tf.zeros([1, HEADS, TOKENS, TOKENS]));
  try {
    const grads = tf.tidy(() => tf.grads((...zs: tf.Tensor[]) => {
      mha.forEach((l, i) => { l.probabilitiesHook = (p) => tf.add(p, zs[i]); });
      const logits = logitsByHand(model, x);
      const scores = space === 'logit' ? logits : tf.softmax(logits);
      return tf.sum(tf.slice(scores, [0, target], [1, 1]));
    })(zeros));
    const out = grads.map((g) => Float32Array.from(g.dataSync() as Float32Array));
    tf.dispose(grads);
    return out;
  } finally {
    mha.forEach((l) => { l.probabilitiesHook = undefined; });
    tf.dispose(zeros);
  }
}

const GRID = inferPatchGrid(TOKENS, [16, 16])!;

function input(seed: number): tf.Tensor4D {
  return tf.tensor4d(seededArray(16 * 16 * 3, seed).map((v) => (v + 1) / 2), [1, 16, 16, 3]);
}

test('the patch grid of the tiny ViT is inferred as 4×4 without a CLS token', () => {
  assert.deepEqual(GRID, { grid: [4, 4], cls: false });
});

test('the attention methods are registered in their own family, with fusion and discard ratio parameters', () => {
  const r = explainerById('rollout');
  const g = explainerById('gradrollout');
  assert.equal(r.label, 'Attention rollout');
  assert.equal(g.label, 'Gradient-weighted rollout');
  assert.deepEqual([r.family, g.family], ['attention', 'attention']);
  assert.ok(r.needs.attention && g.needs.attention);
  assert.deepEqual(r.params.map((p) => p.key), ['fusion', 'discardRatio']);
  assert.deepEqual(g.params.map((p) => p.key), ['discardRatio']);
  assert.deepEqual(r.params[0].choices, ['mean', 'max', 'min']);
  assert.deepEqual([r.params[1].default, r.params[1].min, r.params[1].max], [0, 0, 0.99]);
  assert.deepEqual(EXPLAINERS.slice(-2).map((e) => e.id), ['rollout', 'gradrollout']);
});

test("rollout's map is rollout() → mean row → patch grid of the hook-captured attention, for every fusion and discard ratio", async () => {
  const model = tinyVit();
  const adapter = new LayersModelAdapter(model);
  const x = input(3);
  try {
    const probabilities = capturedProbabilities(model, x);
    assert.equal(probabilities.length, 2);
    const method = explainerById('rollout');
    for (const fusion of ['mean', 'max', 'min'] as HeadFusion[]) {
      for (const discardRatio of [0, 0.5, 0.9]) {
        const map = await assertNoLeak(() => method.explain({ adapter, input: x, target: { index: 0, space: 'logit' }, params: { fusion, discardRatio } }));
        const r = rollout({ layers: probabilities, heads: HEADS, tokens: TOKENS }, { fusion, discardRatio, keepToken: 0 });
        const expected = patchGrid(clsRow(r, TOKENS, { cls: false }), GRID.grid);
        assert.deepEqual([map.height, map.width], [4, 4]);
        assertClose(map.data, expected.data, 1e-5, `${fusion}, discard ${discardRatio}`);
        assert.ok(Math.abs(map.data.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'the mean row of a row-stochastic matrix sums to 1');
      }
    }
    // Defaults: mean fusion, nothing discarded.
    const byDefault = await method.explain({ adapter, input: x, target: { index: 0, space: 'logit' } });
    const r = rollout({ layers: probabilities, heads: HEADS, tokens: TOKENS }, { fusion: 'mean', keepToken: 0 });
    assertClose(byDefault.data, clsRow(r, TOKENS, { cls: false }), 1e-5, 'defaults');
    await assert.rejects(method.explain({ adapter, input: x, target: { index: 0, space: 'logit' }, params: { discardRatio: 1 } }), UserError);
  } finally {
    x.dispose();
    adapter.dispose();
  }
});

test("grad-rollout's map is gradRollout() with gradients of the target from an independent tf.grads, logit and probability", async () => {
  const model = tinyVit(9);
  const adapter = new LayersModelAdapter(model);
  const x = input(4);
  try {
    const probabilities = capturedProbabilities(model, x);
    const method = explainerById('gradrollout');
    const stack = { layers: probabilities, heads: HEADS, tokens: TOKENS };
    const maps: ExplanationMap[] = [];
    for (const target of [0, 2]) {
      for (const space of ['logit', 'probability'] as const) {
        for (const discardRatio of [0, 0.6]) {
          const map = await assertNoLeak(() => method.explain({ adapter, input: x, target: { index: target, space }, params: { discardRatio } }));
          const grads = independentGradients(model, x, target, space);
          const expected = patchGrid(clsRow(gradRollout(stack, grads, { discardRatio, keepToken: 0 }), TOKENS, { cls: false }), GRID.grid);
          assertClose(map.data, expected.data, 1e-4, `class ${target} ${space}, discard ${discardRatio}`);
          if (discardRatio === 0) maps.push(map);
        }
      }
    }
    // Class-specific: the two classes (and the two spaces) give different maps.
    assert.notDeepEqual(Array.from(maps[0].data), Array.from(maps[2].data));
    assert.notDeepEqual(Array.from(maps[0].data), Array.from(maps[1].data));
    await assert.rejects(method.explain({ adapter, input: x, target: { index: 3, space: 'logit' } }), /out of range/);
    // The hooks are gone afterwards: a plain forward pass is unchanged.
    assert.ok(attentionLayers(model).every((l) => l.probabilitiesHook === undefined));
  } finally {
    x.dispose();
    adapter.dispose();
  }
});

test('whyNotApplicable: the reason on the demo CNN, undefined on the ViT; explain-image runs both methods', async () => {
  const cnn = await loadModel(path.join(ROOT, 'demo/models/shapes'));
  const vit: LoadedModel = { adapter: new LayersModelAdapter(tinyVit()), file: 'vit/model.json', name: 'vit', format: 'tfjs-layers', formatLabel: 'TensorFlow.js layers model', warnings: [] };
  try {
    for (const id of ['rollout', 'gradrollout']) {
      const e = explainerById(id);
      const why = await assertNoLeak(() => whyNotApplicable(e, cnn.adapter));
      assert.equal(why, `${e.label} needs MultiHeadAttention layers over image patches; this model has none`);
      assert.equal(whyNotApplicable(e, vit.adapter), undefined);
    }
    // CAM-family methods still apply to the ViT's patch embedding (a spatial Conv2D output).
    assert.equal(whyNotApplicable(explainerById('gradcam'), vit.adapter), undefined);
    await assert.rejects(
      explainImage({ model: cnn, imageFile: images[0], methods: [explainerById('rollout')], target: 'top', preprocess: 'unit' }),
      (e: unknown) => e instanceof UserError && /this model has none/.test(e.message),
    );
    const r = await assertNoLeak(() => explainImage({ model: vit, imageFile: images[1], methods: [explainerById('rollout'), explainerById('gradrollout')], target: 'top', preprocess: 'unit' }));
    for (const m of r.maps) {
      assert.deepEqual([m.map.height, m.map.width], [4, 4]);
      assert.deepEqual(m.shape, [16, 16]);
      assert.ok(m.upsampled.every((v) => Number.isFinite(v) && v >= 0));
    }
  } finally {
    cnn.adapter.dispose();
    vit.adapter.dispose();
  }
});

test('the sanity cascade with rollout randomizes the attention layers, sees their new weights, and restores them bit for bit', async () => {
  const m = tinyVit(11);
  const model: LoadedModel = { adapter: new LayersModelAdapter(m), file: 'vit/model.json', name: 'vit', format: 'tfjs-layers', formatLabel: 'TensorFlow.js layers model', warnings: [] };
  const bits = (t: tf.Tensor) => Buffer.from((t.dataSync() as Float32Array).slice().buffer);
  const original = m.weights.map((w) => bits(w.read()));
  const blocks = randomizableBlocks(m);
  assert.deepEqual(blocks.map((b) => b.name), ['pred', 'ln2', 'mha2', 'ln1', 'mha1', 'patches']);
  assert.deepEqual(blocks.map((b) => b.layers.map((l) => l.name)), [['pred'], ['ln2'], ['mha2'], ['ln1'], ['mha1'], ['patches']]);
  let checkedInit = false;
  try {
    const r = await assertNoLeak(() => runSanityCheck({
      model, images, methods: [explainerById('rollout')], mode: 'cascading', seed: 3, target: 'top', preprocess: 'unit',
      onMap: (e) => {
        assert.deepEqual([e.height, e.width], [16, 16]);
        if (e.step !== 3 || checkedInit) return;
        checkedInit = true;
        // mha2 re-initialised with its own initializers: glorotUniform kernels, zero biases.
        const mha2 = m.getLayer('mha2');
        assert.equal(mha2.weights.length, 8);
        for (const w of mha2.weights) {
          const v = w.read().dataSync();
          if (w.originalName.endsWith('bias')) assert.ok(v.every((x) => x === 0), `${w.originalName} zero`);
          else {
            const s = w.shape as number[];
            const receptive = s.slice(0, -2).reduce((a, b) => a * b, 1);
            const limit = Math.sqrt(6 / ((s[s.length - 2] + s[s.length - 1]) * receptive));
            assert.ok(v.every((x) => Math.abs(x) <= limit), `${w.originalName} within ±${limit}`);
            assert.ok(!bits(w.read()).equals(original[m.weights.indexOf(w)]), `${w.originalName} changed`);
          }
        }
        // ln2 (randomized one step earlier): gamma 1, beta 0.
        const [gamma, beta] = m.getLayer('ln2').getWeights();
        assert.ok(gamma.dataSync().every((x) => x === 1) && beta.dataSync().every((x) => x === 0));
        // mha1 not yet.
        for (const w of m.getLayer('mha1').weights) assert.ok(bits(w.read()).equals(original[m.weights.indexOf(w)]), `${w.originalName} untouched`);
      },
    }));
    assert.ok(checkedInit);
    assert.deepEqual(r.steps.map((s) => s.layer), [null, 'pred', 'ln2', 'mha2', 'ln1', 'mha1', 'patches']);
    assert.deepEqual(r.steps[5].randomized, ['pred', 'ln2', 'mha2', 'ln1', 'mha1']);
    for (const img of r.images) {
      const sims = img.methods[0].similarities;
      assert.equal(sims.length, 7);
      // The head and the last LayerNormalization come after every attention layer: the rollout cannot change.
      for (const s of [1, 2]) assert.ok(Math.abs(sims[s].spearman - 1) < 1e-9 && Math.abs(sims[s].ssim - 1) < 1e-6, `step ${s} unchanged`);
      // Re-initialising the last attention layer changes the map: the cached wrapper reads the new weights.
      assert.ok(sims[3].ssim < 0.999, `step 3 ssim ${sims[3].ssim}`);
    }
    m.weights.forEach((w, i) => assert.ok(bits(w.read()).equals(original[i]), `${w.name} not restored bit for bit`));
  } finally {
    model.adapter.dispose();
  }
});

test('a vit-keras layout with a CLS token: the CLS row over a 4×4 grid, and ClassToken / AddPositionEmbs are randomizable blocks', async () => {
  const m = clsVit();
  const adapter = new LayersModelAdapter(m);
  const x = input(8);
  try {
    const probabilities = capturedProbabilitiesOf(m, x, () => { tf.dispose(adapter.logits(x)); });
    assert.equal(probabilities[0].length, HEADS * 17 * 17);
    const map = await assertNoLeak(() => explainerById('rollout').explain({ adapter, input: x, target: { index: 0, space: 'logit' }, params: { fusion: 'max' } }));
    const r = rollout({ layers: probabilities, heads: HEADS, tokens: 17 }, { fusion: 'max', keepToken: 0 });
    assert.deepEqual([map.height, map.width], [4, 4]);
    assertClose(map.data, clsRow(r, 17, { cls: true }), 1e-5, 'CLS row');
    const blocks = randomizableBlocks(m);
    assert.deepEqual(blocks.map((b) => b.name), ['pred', 'mha2', 'mha1', 'pos_embs', 'class_token', 'patches']);
    const model: LoadedModel = { adapter, file: 'cls-vit/model.json', name: 'cls-vit', format: 'tfjs-layers', formatLabel: 'TensorFlow.js layers model', warnings: [] };
    const before = m.weights.map((w) => Array.from(w.read().dataSync()));
    let seen = false;
    await runSanityCheck({
      model, images: [images[0]], methods: [explainerById('gradrollout')], mode: 'independent', seed: 2, target: 0, preprocess: 'unit',
      onMap: (e) => {
        if (e.step !== 4) return;
        seen = true;
        // pos_embs alone is re-initialised: a truncated normal with the trained weight's mean and spread (within 2 σ).
        const w = m.getLayer('pos_embs').weights[0];
        const fresh = Array.from(w.read().dataSync());
        const old = before[m.weights.indexOf(w)];
        const mean = old.reduce((a, b) => a + b, 0) / old.length;
        const sd = Math.sqrt(old.reduce((a, b) => a + (b - mean) ** 2, 0) / old.length);
        assert.notDeepEqual(fresh, old);
        assert.ok(fresh.every((v) => Math.abs(v - mean) <= 2 * sd + 1e-6), 'within two standard deviations');
        assert.deepEqual(Array.from(m.getLayer('class_token').weights[0].read().dataSync()), before[m.weights.indexOf(m.getLayer('class_token').weights[0])]);
      },
    });
    assert.ok(seen);
    m.weights.forEach((w, i) => assert.deepEqual(Array.from(w.read().dataSync()), before[i], `${w.name} restored`));
  } finally {
    x.dispose();
    adapter.dispose();
  }
});

test('graph models: the attention methods say they need a layers model', async () => {
  const graphDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-attention-graph-'));
  writeGraphModel(graphDir);
  const graph = await loadModel(graphDir);
  try {
    assert.match(whyNotApplicable(explainerById('rollout'), graph.adapter) ?? '', /^Attention rollout needs MultiHeadAttention layers of a layers model; this is a graph model/);
    assert.match(whyNotApplicable(explainerById('gradrollout'), graph.adapter) ?? '', /^Gradient-weighted rollout needs .* graph model/);
  } finally {
    graph.adapter.dispose();
  }
});

const TINY_VIT = path.join(ROOT, 'demo/models/tiny-vit');
const VIT_SAMPLES = path.join(ROOT, 'demo/vit-images/patches.json');

test('demo tiny-vit: both methods apply, and the rollout peaks on the patch that decides the class', { skip: !(fs.existsSync(path.join(TINY_VIT, 'model.json')) && fs.existsSync(VIT_SAMPLES)) && 'demo/models/tiny-vit or demo/vit-images is not there' }, async () => {
  const model = await loadModel(TINY_VIT);
  try {
    for (const id of ['rollout', 'gradrollout']) assert.equal(whyNotApplicable(explainerById(id), model.adapter), undefined, id);
    const samples = Object.entries(JSON.parse(fs.readFileSync(VIT_SAMPLES, 'utf8')) as Record<string, { label: string; patch: number }>);
    for (const [file, info] of samples) {
      const r = await assertNoLeak(() => explainImage({
        model, imageFile: path.join(path.dirname(VIT_SAMPLES), file), methods: [explainerById('rollout'), explainerById('gradrollout')], target: 'top', preprocess: model.preprocess ?? 'unit',
      }));
      assert.equal(r.target.label, info.label, file);
      const rolloutMap = r.maps[0].map;
      assert.equal(rolloutMap.data.indexOf(Math.max(...rolloutMap.data)), info.patch, `${file}: rollout peak`);
      assert.ok(r.maps[1].map.data.every((v) => Number.isFinite(v) && v >= 0));
    }
  } finally {
    model.adapter.dispose();
  }
});

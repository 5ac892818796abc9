/**
 * Adebayo et al. 2018's model-randomization finding on the trained demo model (wasm backend, the
 * seven demo PNGs, seed 0), Spearman rank correlation of the raw maps with the trained model's.
 *
 * What reproduces: after the full cascade, Gradient's and Grad-CAM's maps are unrelated to the
 * trained model's (≈ 0), and Guided Backprop's stay close to the original while the layers above
 * the first stage are random (0.93 → 0.75 over the top five of the ten blocks).
 *
 * What does not: the paper's Guided Backprop maps stay similar through the whole cascade; here
 * they fall to ≈ 0.06 once the last three blocks go (block1_conv2 0.53, block1_conv1 0.41, conv1
 * 0.06). The cause is the first layer: re-initialising conv1 alone (independent mode) takes them
 * to ≈ 0.06 too, whatever its batch norm holds. conv1 has only 8 filters of 4×4 at stride 2; with
 * random filters the backward pass paints their period-2 tiling over the map, which dominates
 * the ranking (the shape stays faintly visible under it). The test asserts the measured behaviour
 * and does not claim the paper's full-cascade result for Guided Backprop.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { explainerById } from '../../../src/extension/explain/registry';
import { runSanityCheck } from '../../../src/extension/sanity/run-sanity';
import type { SanityResult } from '../../../src/extension/sanity/types';
import { useBackend } from '../../helpers/tf-test';

const ROOT = path.resolve(__dirname, '../../../..');
const IMAGES = fs.readdirSync(path.join(ROOT, 'demo', 'images')).filter((f) => f.endsWith('.png')).sort().map((f) => path.join(ROOT, 'demo', 'images', f));
const METHODS = ['gradient', 'gradcam', 'guidedbp'].map(explainerById);
let model: LoadedModel;

before(async () => {
  await useBackend('wasm');
  model = await loadModel(path.join(ROOT, 'demo', 'models', 'shapes'));
});

/** Mean Spearman over the images, per method, per step. */
const table = (r: SanityResult) => Object.fromEntries(r.summary.map((s) => [s.method, s.mean.map((m) => m.spearman)]));
const show = (r: SanityResult) =>
  r.steps.map((s, k) => `${(s.layer ?? 'original').padEnd(14)} ${r.summary.map((m) => `${m.method} ${m.mean[k].spearman.toFixed(2)}`).join('  ')}`).join('\n');

test('full cascade: Gradient and Grad-CAM decorrelate; Guided Backprop holds while the top half is random', async (t) => {
  const weights = (model.adapter as LayersModelAdapter).model.weights;
  const before = weights.map((w) => Buffer.from((w.read().dataSync() as Float32Array).slice().buffer));
  const tensors = tf.memory().numTensors;
  const r = await runSanityCheck({ model, images: IMAGES, methods: METHODS, mode: 'cascading', seed: 0, target: 'top', preprocess: 'unit' });
  t.diagnostic(`\n${show(r)}`);
  assert.equal(tf.memory().numTensors, tensors, 'numTensors');
  weights.forEach((w, i) => assert.ok(Buffer.from((w.read().dataSync() as Float32Array).slice().buffer).equals(before[i]), `${w.name} restored`));
  assert.deepEqual(r.steps.map((s) => s.layer), [
    null, 'predictions', 'last_conv', 'block3_conv2', 'block3_conv1', 'block2_conv2', 'block2_conv1', 'down1', 'block1_conv2', 'block1_conv1', 'conv1',
  ]);
  const s = table(r);
  const last = r.steps.length - 1;
  assert.ok(Math.abs(s.gradient[last]) < 0.3, `gradient after the full cascade: ${s.gradient[last]}`);
  assert.ok(Math.abs(s.gradcam[last]) < 0.3, `gradcam after the full cascade: ${s.gradcam[last]}`);
  for (let k = 1; k <= 5; k++) assert.ok(s.guidedbp[k] > 0.5, `guidedbp at step ${k} (${r.steps[k].layer}): ${s.guidedbp[k]}`);
  assert.deepEqual(r.summary.filter((x) => x.method !== 'guidedbp').map((x) => x.verdict), ['passes', 'passes']);
});

test('independent: Guided Backprop is insensitive to single layers except the first, which alone decorrelates it', async (t) => {
  const r = await runSanityCheck({ model, images: IMAGES, methods: [explainerById('guidedbp')], mode: 'independent', seed: 0, target: 'top', preprocess: 'unit' });
  t.diagnostic(`\n${show(r)}`);
  const gbp = table(r).guidedbp;
  const conv1 = r.steps.findIndex((s) => s.layer === 'conv1');
  assert.equal(conv1, r.steps.length - 1);
  assert.ok(gbp[conv1] < 0.3, `conv1 alone: ${gbp[conv1]}`);
  const others = gbp.slice(1, conv1);
  const mean = others.reduce((a, v) => a + v, 0) / others.length;
  assert.ok(mean > 0.5, `mean over the other single layers: ${mean}`);
});

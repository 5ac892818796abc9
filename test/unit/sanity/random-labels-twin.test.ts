/**
 * Known answers on the demo model's data-randomization twin (demo/models/shapes-random-labels,
 * Adebayo et al. 2018): the same network trained on the same images with permuted labels. It has
 * the shapes model's layers, but classifies fresh images at chance while the shapes model gets
 * them right.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import { makeShapeBatch, mulberry32, SHAPE_CLASSES } from '../../../demo/synthetic';
import { permuteLabels } from '../../../demo/make-fixtures';
import { useBackend } from '../../helpers/tf-test';

const ROOT = path.resolve(__dirname, '../../../..');
const MAIN = path.join(ROOT, 'demo', 'models', 'shapes');
const TWIN = path.join(ROOT, 'demo', 'models', 'shapes-random-labels');
let main: LoadedModel;
let twin: LoadedModel;

before(async () => {
  await useBackend('wasm');
  main = await loadModel(MAIN);
  twin = await loadModel(TWIN);
});

after(() => {
  main?.adapter.dispose();
  twin?.adapter.dispose();
});

test('the twin has the shapes model labels, preprocessing and input size', () => {
  assert.deepEqual(twin.labels, [...SHAPE_CLASSES]);
  assert.equal(twin.preprocess, 'unit');
  assert.deepEqual(twin.warnings, []);
  assert.deepEqual(twin.adapter.inputShape, [64, 64, 3]);
  assert.equal(twin.adapter.headActivation, 'softmax');
  assert.equal(fs.readFileSync(path.join(TWIN, 'labels.txt'), 'utf8'), fs.readFileSync(path.join(MAIN, 'labels.txt'), 'utf8'));
  const meta = JSON.parse(fs.readFileSync(path.join(TWIN, 'metadata.json'), 'utf8'));
  const mainMeta = JSON.parse(fs.readFileSync(path.join(MAIN, 'metadata.json'), 'utf8'));
  for (const key of ['labels', 'preprocess', 'inputSize', 'seed']) assert.deepEqual(meta[key], mainMeta[key], key);
  assert.equal(meta.randomLabels.twinOf, 'shapes');
  assert.ok(meta.randomLabels.validationAccuracy < 0.5, `metadata validation accuracy ${meta.randomLabels.validationAccuracy}`);
});

test('the twin has the same layers, output shapes and weight shapes as the shapes model, other weights', () => {
  const strip = (m: LoadedModel) => m.adapter.layers.map((l) => ({ name: l.name, className: l.className, outputShape: l.outputShape }));
  assert.deepEqual(strip(twin), strip(main));
  assert.equal(twin.adapter.defaultLayer(), 'last_conv');
  assert.equal(main.adapter.defaultLayer(), 'last_conv');
  const manifest = (dir: string) =>
    (JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).weightsManifest as { weights: { name: string; shape: number[] }[] }[])
      .flatMap((g) => g.weights.map((w) => ({ name: w.name, shape: w.shape })));
  assert.deepEqual(manifest(TWIN), manifest(MAIN));
  const mainBin = fs.readFileSync(path.join(MAIN, 'weights.bin'));
  const twinBin = fs.readFileSync(path.join(TWIN, 'weights.bin'));
  assert.equal(twinBin.length, mainBin.length, 'same size on disk');
  assert.ok(!twinBin.equals(mainBin), 'trained weights differ');
});

test('on 300 fresh images the shapes model is right and the twin is at chance', () => {
  const size = 64;
  const batch = makeShapeBatch(mulberry32(55501234), 300, size); // a stream the training script never used
  const x = tf.tidy(() => tf.div(tf.tensor4d(batch.pixels, [300, size, size, 3], 'float32'), 255) as tf.Tensor4D);
  const predict = (m: LoadedModel) => tf.tidy(() => tf.argMax(m.adapter.probabilities(x), 1).dataSync() as Int32Array);
  const mainPred = predict(main);
  const twinPred = predict(twin);
  x.dispose();
  const acc = (p: Int32Array) => p.reduce((n, c, i) => n + (c === batch.labels[i] ? 1 : 0), 0) / p.length;
  assert.ok(acc(mainPred) >= 0.95, `shapes model accuracy ${acc(mainPred)}`);
  assert.ok(acc(twinPred) < 0.5, `twin accuracy ${acc(twinPred)} (chance 1/3)`);
});

test('the label permutation is seeded and keeps the label counts', () => {
  const labels = Int32Array.from({ length: 500 }, (_, i) => (i % 4) - 1);
  const a = permuteLabels(labels, 7);
  assert.deepEqual(a, permuteLabels(labels, 7));
  assert.notDeepEqual(a, permuteLabels(labels, 8));
  assert.deepEqual(Array.from(a).sort(), Array.from(labels).sort());
  const kept = a.reduce((n, l, i) => n + (l === labels[i] ? 1 : 0), 0);
  assert.ok(kept < 200, `${kept} of 500 labels kept (about 125 by chance)`);
});

/**
 * Known answers on the trained demo model: the class is decided by one shape at a random place,
 * so a correct Grad-CAM peaks inside the shape's box (the pointing game).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import { gradCam } from '../../../src/extension/explain/methods/cam/gradcam';
import { argmax2d, resizeMap } from '../../../src/shared/map-ops';
import { makeShapeImage, mulberry32, SHAPE_CLASSES, toUnit, type Box } from '../../../demo/synthetic';
import { useBackend } from '../../helpers/tf-test';

const ROOT = path.resolve(__dirname, '../../../..');
const MODEL = path.join(ROOT, 'demo', 'models', 'shapes');
let model: LoadedModel;

before(async () => {
  await useBackend('wasm');
  model = await loadModel(MODEL);
});

const inside = (p: { x: number; y: number }, b: Box, margin = 0) =>
  p.x >= b.x - margin && p.x < b.x + b.w + margin && p.y >= b.y - margin && p.y < b.y + b.h + margin;

test('the demo model comes with its labels, input size and preprocessing', () => {
  assert.deepEqual(model.labels, [...SHAPE_CLASSES]);
  assert.deepEqual(model.adapter.inputShape, [64, 64, 3]);
  assert.equal(model.preprocess, 'unit');
  assert.equal(model.adapter.headActivation, 'softmax');
  assert.ok(model.adapter.defaultLayer(), 'has a spatial layer');
});

test('Grad-CAM peaks inside the shape on ≥ 90% of 100 fresh images, and leaks no tensors', async () => {
  const rng = mulberry32(987654321); // a stream the training script never used
  const size = 64;
  let hits = 0;
  let correct = 0;
  const before = tf.memory().numTensors;
  for (let i = 0; i < 100; i++) {
    const img = makeShapeImage(rng, size);
    const x = tf.tensor4d(toUnit(img.pixels), [1, size, size, 3]);
    const probs = tf.tidy(() => model.adapter.probabilities(x).dataSync());
    if (probs.indexOf(Math.max(...probs)) === img.label) correct++;
    const map = await gradCam.explain({ adapter: model.adapter, input: x, target: { index: img.label, space: 'logit' } });
    const up = resizeMap(map.data, map.height, map.width, size, size);
    if (inside(argmax2d(up, size, size), img.box)) hits++;
    x.dispose();
  }
  assert.equal(tf.memory().numTensors, before, 'numTensors unchanged');
  assert.ok(correct >= 95, `accuracy ${correct}/100`);
  assert.ok(hits >= 90, `pointing game: ${hits}/100 peaks inside the box`);
});

test('the CLI explains a demo image: the right class, and the peak inside its box', () => {
  const boxes = JSON.parse(fs.readFileSync(path.join(ROOT, 'demo', 'images', 'boxes.json'), 'utf8')) as Record<string, { label: string; box: Box }>;
  const [name, truth] = Object.entries(boxes)[0];
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-demo-'));
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), 'explain', path.join(ROOT, 'demo', 'images', name), '--model', MODEL, '--json', '--out', out, '--backend', 'wasm'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.backend, 'wasm');
  assert.equal(report.predictions[0].label, truth.label);
  assert.equal(report.target.label, truth.label);
  const npy = fs.readFileSync(report.maps[0].npy);
  const headerLen = npy.readUInt16LE(8);
  const data = new Float32Array(npy.buffer.slice(npy.byteOffset + 10 + headerLen, npy.byteOffset + npy.byteLength));
  assert.equal(data.length, 64 * 64);
  assert.ok(inside(argmax2d(data, 64, 64), truth.box), `peak ${JSON.stringify(argmax2d(data, 64, 64))} outside ${JSON.stringify(truth.box)}`);
});

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ModelCache } from '../../../src/extension/model/model-cache';
import { fsSaveHandler } from '../../../src/extension/model/fs-io';
import { branchingModel } from '../../helpers/models';
import { useBackend } from '../../helpers/tf-test';

before(() => useBackend('cpu'));

async function savedModel(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-cache-'));
  await branchingModel().save(fsSaveHandler(dir));
  return dir;
}

const touch = (file: string, msAhead: number) => {
  const t = new Date(Date.now() + msAhead);
  fs.utimesSync(file, t, t);
};

test('a model is loaded once, and reloaded when its files change', async () => {
  const dir = await savedModel();
  const cache = new ModelCache();
  const a = await cache.with(dir, async (m) => m);
  const b = await cache.with(dir, async (m) => m);
  assert.equal(a, b, 'the same loaded model is reused');
  touch(path.join(dir, 'weights.bin'), 5000);
  const c = await cache.with(dir, async (m) => m);
  assert.notEqual(c, a, 'a new checkpoint is loaded');
  assert.ok(Date.parse(c.checkpoint) > Date.parse(a.checkpoint));
  assert.equal(cache.size, 1);
  cache.dispose();
});

test('a replaced model stays usable until the run using it ends', async () => {
  const dir = await savedModel();
  const cache = new ModelCache();
  const x = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const long = cache.with(dir, async (m) => {
    await gate; // meanwhile the model is replaced
    return tf.tidy(() => m.adapter.logits(x).dataSync().length);
  });
  await new Promise((r) => setTimeout(r, 20));
  touch(path.join(dir, 'model.json'), 5000);
  await cache.with(dir, async (m) => tf.tidy(() => m.adapter.logits(x).dataSync()));
  release();
  assert.equal(await long, 3, 'the old model still computed after it was replaced');
  x.dispose();
  cache.dispose();
});

test('a checkpoint still being written is retried until it is complete', async () => {
  const dir = await savedModel();
  const weights = path.join(dir, 'weights.bin');
  const full = fs.readFileSync(weights);
  fs.writeFileSync(weights, full.subarray(0, 10)); // the trainer has written 10 bytes so far
  setTimeout(() => fs.writeFileSync(weights, full), 300);
  const cache = new ModelCache();
  const m = await cache.with(dir, async (model) => model);
  assert.deepEqual(m.adapter.inputShape, [8, 8, 3]);
  cache.dispose();
});

for (const [what, source] of [
  ['an .onnx', path.resolve(__dirname, '../../../../test/fixtures/onnx-models/resnet.ts.onnx')],
  ['a .keras', path.resolve(__dirname, '../../../../test/fixtures/keras/sequential_tiny.keras')],
] as const) {
  test(`${what} still being written (half its bytes) is retried until it is complete`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-cache-'));
    const file = path.join(dir, path.basename(source));
    const full = fs.readFileSync(source);
    fs.writeFileSync(file, full.subarray(0, full.length >> 1)); // the trainer is halfway through its save
    const cache = new ModelCache();
    const loading = cache.with(file, async (model) => model);
    await new Promise((r) => setTimeout(r, 300));
    fs.appendFileSync(file, full.subarray(full.length >> 1));
    const m = await loading;
    assert.equal(m.file, file);
    assert.equal(m.adapter.inputShape.length, 3);
    cache.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

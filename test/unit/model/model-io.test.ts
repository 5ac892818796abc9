import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { fsSaveHandler } from '../../../src/extension/model/fs-io';
import { loadModel } from '../../../src/extension/model/load';
import { assertClose, seededArray, useBackend } from '../../helpers/tf-test';
import { branchingModel } from '../../helpers/models';

before(() => useBackend('cpu'));

const tmp = (name: string) => fs.mkdtempSync(path.join(os.tmpdir(), `xai-${name}-`));
const x = () => tf.tensor4d(seededArray(2 * 8 * 8 * 3, 4), [2, 8, 8, 3]);

async function saved(model: LayersModel, shardBytes?: number): Promise<string> {
  const dir = tmp('model');
  await model.save(fsSaveHandler(dir, { shardBytes }));
  return dir;
}

function predictions(model: { adapter: { probabilities(x: tf.Tensor4D): tf.Tensor } }): Float32Array {
  return tf.tidy(() => model.adapter.probabilities(x()).dataSync() as Float32Array);
}

test('a layers model round-trips through the fs handlers, in one file or in many shards', async () => {
  const model = branchingModel();
  const ref = tf.tidy(() => (model.predict(x()) as tf.Tensor).dataSync());
  for (const shardBytes of [undefined, 1000]) {
    const dir = await saved(model, shardBytes);
    const shards = fs.readdirSync(dir).filter((f) => f.endsWith('.bin'));
    assert.equal(shards.length > 1, shardBytes !== undefined, `shards: ${shards}`);
    const loaded = await loadModel(path.join(dir, 'model.json'));
    assert.equal(loaded.format, 'tfjs-layers');
    assert.deepEqual(loaded.adapter.inputShape, [8, 8, 3]);
    assertClose(predictions(loaded), ref, 1e-6, 'predictions');
    loaded.adapter.dispose();
  }
});

/** Rewrites a saved model's weights as uint8 or float16, as the TF.js converter's --quantize does. */
function quantize(dir: string, dtype: 'uint8' | 'float16'): void {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const group = json.weightsManifest[0];
  const data = Buffer.concat(group.paths.map((p: string) => fs.readFileSync(path.join(dir, p))));
  const floats = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const parts: Buffer[] = [];
  let offset = 0;
  for (const w of group.weights) {
    const n = w.shape.reduce((a: number, b: number) => a * b, 1);
    const v = floats.subarray(offset, offset + n);
    offset += n;
    if (dtype === 'uint8') {
      const min = Math.min(...v), max = Math.max(...v);
      const scale = (max - min) / 255 || 1;
      parts.push(Buffer.from(Uint8Array.from(v, (f) => Math.round((f - min) / scale))));
      w.quantization = { dtype, min, scale };
    } else {
      const f16 = new Uint16Array(n);
      for (let i = 0; i < n; i++) f16[i] = toHalf(v[i]);
      parts.push(Buffer.from(f16.buffer));
      w.quantization = { dtype };
    }
  }
  for (const p of group.paths) fs.rmSync(path.join(dir, p));
  group.paths = ['quantized.bin'];
  fs.writeFileSync(path.join(dir, 'quantized.bin'), Buffer.concat(parts));
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
}

function toHalf(f: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, f);
  const bits = buf.getUint32(0);
  const sign = (bits >>> 16) & 0x8000;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  const mant = (bits >>> 13) & 0x3ff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | mant;
}

test('quantised weights (uint8 and float16) load and predict close to the float model', async () => {
  const model = branchingModel();
  const ref = tf.tidy(() => (model.predict(x()) as tf.Tensor).dataSync());
  for (const [dtype, tol] of [['uint8', 0.05], ['float16', 2e-3]] as const) {
    const dir = await saved(model);
    quantize(dir, dtype);
    const loaded = await loadModel(dir);
    const p = predictions(loaded);
    assert.ok(p.every((v, i) => Math.abs(v - ref[i]) < tol), `${dtype}: ${p} vs ${ref}`);
    loaded.adapter.dispose();
  }
});

test('labels come from labels.txt, else metadata.json; preprocessing from metadata.json', async () => {
  const dir = await saved(branchingModel());
  let m = await loadModel(dir);
  assert.equal(m.labels, undefined);
  fs.writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify({ labels: ['a', 'b', 'c'], preprocess: 'symmetric' }));
  m = await loadModel(dir);
  assert.deepEqual(m.labels, ['a', 'b', 'c']);
  assert.equal(m.preprocess, 'symmetric');
  fs.writeFileSync(path.join(dir, 'labels.txt'), 'cat\ndog\nbird\n');
  m = await loadModel(dir);
  assert.deepEqual(m.labels, ['cat', 'dog', 'bird']);
  // Labels for a different number of classes are not applied.
  fs.writeFileSync(path.join(dir, 'labels.txt'), 'one\ntwo\n');
  m = await loadModel(dir);
  assert.deepEqual(m.labels, ['a', 'b', 'c']);
  assert.ok(m.warnings.some((w) => /labels.txt has 2 labels.*3 outputs/.test(w)), m.warnings.join('; '));
});

test('broken models give one clear line each', async () => {
  const dir = await saved(branchingModel(), 1000);
  const shards = fs.readdirSync(dir).filter((f) => f.endsWith('.bin')).sort();
  fs.rmSync(path.join(dir, shards[1]));
  await assert.rejects(loadModel(dir), /weight shard group1-shard2of\d+\.bin listed in model\.json is missing/);

  const dir2 = await saved(branchingModel());
  fs.truncateSync(path.join(dir2, 'weights.bin'), 100);
  await assert.rejects(loadModel(dir2), /hold 100 bytes but its manifest describes \d+/);

  const dir3 = tmp('bad');
  fs.writeFileSync(path.join(dir3, 'model.json'), '{"modelTopology": ');
  await assert.rejects(loadModel(dir3), /is not valid JSON/);
  fs.writeFileSync(path.join(dir3, 'model.json'), '{"hello": 1}');
  await assert.rejects(loadModel(dir3), /not a TensorFlow\.js model\.json/);
  fs.writeFileSync(path.join(dir3, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: { class_name: 'Nope', config: {} }, weightsManifest: [] }));
  await assert.rejects(loadModel(dir3), /cannot load .*model\.json: /);
  await assert.rejects(loadModel(path.join(dir3, 'missing')), /no model found at/);
});

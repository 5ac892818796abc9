/**
 * Reloading a checkpoint again and again (a training run watched for hours) keeps memory flat:
 * tfjs-layers' registry of tensor names, which only ever grew (about 10 KB per load of a small
 * CNN, 44 KB for the 150 layers here), is compacted before each build (model/layers/name-registry.ts).
 * Measured as the heap after garbage collection, between load 100 and load 300 of a model of many
 * small layers, against a bound the old growth exceeds several times over.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fsSaveHandler } from '../../../src/extension/model/fs-io';
import { loadModel } from '../../../src/extension/model/load';
import { layersNameMap } from '../../../src/extension/model/layers/name-registry';
import type { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { useBackend } from '../../helpers/tf-test';

let tmp: string;
before(async () => {
  await useBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-reload-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** An image model of `n` small conv layers (two weights and one output name each), saved as model.json. */
async function manyLayers(n: number): Promise<string> {
  const input = tfl.input({ shape: [4, 4, 3], name: 'image' });
  let x: tfl.SymbolicTensor = input;
  for (let i = 0; i < n; i++) x = tfl.layers.conv2d({ filters: 3, kernelSize: 1, activation: 'relu', name: `c${i}` }).apply(x) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'predictions' }).apply(pooled) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  const dir = path.join(tmp, 'many');
  await model.save(fsSaveHandler(dir));
  model.dispose();
  return path.join(dir, 'model.json');
}

test('300 loads and disposals of a layers model: heap growth after GC between load 100 and 300 stays under 2 MiB (it was 8.5 MiB)', { timeout: 5 * 60_000 }, async (t) => {
  const file = await manyLayers(150);
  const tensors = tf.memory().numTensors;
  let at100 = 0;
  for (let i = 1; i <= 300; i++) {
    const m = await loadModel(file);
    m.adapter.dispose();
    if (i === 100) at100 = heapAfterGc();
  }
  const growth = heapAfterGc() - at100;
  t.diagnostic(`heap growth after GC, loads 100 to 300: ${(growth / 2 ** 20).toFixed(2)} MiB`);
  assert.equal(tf.memory().numTensors, tensors, 'every load is disposed');
  // 150 layers name about 460 tensors per load: kept for good, that was 8.5 MiB over 200 loads.
  assert.ok(growth < 2 * 2 ** 20, `heap grew ${(growth / 2 ** 20).toFixed(2)} MiB over 200 loads`);
  const names = layersNameMap();
  assert.ok(names, "tfjs-layers' name registry is found");
  assert.ok(names.size < 3 * 460, `the name registry holds the names of about one model (${names.size})`);
});

test('repeated loads of a .keras model leave the name registry at one model', async () => {
  const file = path.join('demo', 'models', 'shapes-keras', 'model.keras');
  const sizes: number[] = [];
  for (let i = 0; i < 20; i++) {
    const m = await loadModel(file);
    m.adapter.dispose();
    sizes.push(layersNameMap()!.size);
  }
  assert.equal(sizes[19], sizes[9], `registry sizes: ${sizes.join(' ')}`);
});

test("reloaded models run their own graphs: tfjs-layers' executor caches graph orders by tensor names, which stay unique", async () => {
  const file = path.join('demo', 'models', 'shapes', 'model.json');
  const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 7);
  const run = (m: Awaited<ReturnType<typeof loadModel>>) => {
    const model = (m.adapter as LayersModelAdapter).model;
    // A sub-model over the same layers, as attention and tests build them: run by the executor.
    const sub = tfl.model({ inputs: model.inputs, outputs: model.getLayer('last_conv').output as tfl.SymbolicTensor });
    return tf.tidy(() => [...(model.predict(x) as tf.Tensor).dataSync(), ...(sub.predict(x) as tf.Tensor).dataSync()]);
  };
  const a = await loadModel(file);
  const ref = run(a);
  const b = await loadModel(file);
  assert.deepEqual(run(b), ref, 'a second live copy');
  a.adapter.dispose();
  const c = await loadModel(file);
  assert.deepEqual(run(c), ref, 'a copy loaded after one was disposed');
  b.adapter.dispose();
  c.adapter.dispose();
  x.dispose();
});

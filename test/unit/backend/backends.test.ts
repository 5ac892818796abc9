import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackend, explainNativeFailure, initBackend } from '../../../src/extension/backend/backends';

test('auto walks the chain and says why each skipped backend was skipped', async () => {
  const r = await initBackend('auto', { nativeSearchPaths: [] });
  const native = r.attempts.filter((a) => a.backend === 'tensorflow-gpu' || a.backend === 'tensorflow');
  // Where a native backend loads, auto takes it; elsewhere each failure carries a reason.
  if (r.backend === 'wasm') {
    assert.deepEqual(r.attempts.map((a) => a.backend), ['tensorflow-gpu', 'tensorflow', 'wasm']);
    for (const a of native) {
      assert.equal(a.ok, false);
      assert.match(a.reason, /@tensorflow\/tfjs-node(-gpu)? /);
    }
    assert.equal(tf.getBackend(), 'wasm');
    assert.match(describeBackend(r), /^wasm \(skipped: tensorflow-gpu: .*; tensorflow: .*\)$/);
  } else {
    assert.equal(r.attempts[r.attempts.length - 1].ok, true);
  }
});

test('a named backend is used when it loads, and the chain continues from it when it does not', async () => {
  const cpu = await initBackend('cpu');
  assert.deepEqual(cpu.attempts, [{ backend: 'cpu', ok: true, reason: '' }]);
  assert.equal(tf.getBackend(), 'cpu');
  const wasm = await initBackend('wasm');
  assert.equal(wasm.backend, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
});

test('native backend failures are explained: not installed, missing CUDA libraries, missing binding', () => {
  const pkg = '@tensorflow/tfjs-node-gpu';
  assert.equal(explainNativeFailure(pkg, new Error(`Cannot find module '${pkg}'`)), `${pkg} is not installed`);
  assert.match(
    explainNativeFailure(pkg, new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory')),
    /could not load libcudart\.so\.11\.0: it needs CUDA 11\.2 and cuDNN 8\.1/,
  );
  assert.match(
    explainNativeFailure(pkg, new Error('libcudnn.so.8: cannot open shared object file')),
    /libcudnn\.so\.8: it needs CUDA 11\.2 and cuDNN 8\.1/,
  );
  assert.match(
    explainNativeFailure(pkg, new Error(`Cannot find module '/x/node_modules/${pkg}/lib/napi-v8/tfjs_binding.node'`)),
    /native binding is missing/,
  );
});

test("a native backend installed in another folder registers with this extension's tfjs-core", async () => {
  // A stand-in for tfjs-node-gpu in a folder with no tfjs-core of its own: it can only register
  // its backend if its require('@tensorflow/tfjs-core') is answered with ours.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-native-'));
  const pkg = path.join(root, 'native', 'node_modules', '@tensorflow', 'tfjs-node-gpu');
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node-gpu', main: 'index.js' }));
  fs.writeFileSync(path.join(pkg, 'index.js'), `
    const tf = require('@tensorflow/tfjs-core');
    tf.registerBackend('tensorflow', tf.findBackendFactory('cpu'));
    for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'tensorflow' });
  `);
  const r = await initBackend('tensorflow-gpu', { nativeSearchPaths: [path.join(root, 'native')] });
  assert.equal(r.backend, 'tensorflow-gpu');
  assert.equal(tf.getBackend(), 'tensorflow');
  assert.deepEqual(tf.tidy(() => Array.from(tf.add(tf.tensor1d([1, 2]), 3).dataSync())), [4, 5]);
  await initBackend('cpu');
  tf.removeBackend('tensorflow');
});

/**
 * The demo task as PyTorch and Keras users have it: the ONNX exports (TorchScript and torch.export
 * exporters), the Keras 3 .keras and the legacy .h5, each compared with what its own framework
 * computed on the nine demo images (demo/models/<model>/reference/, made by the training scripts
 * under demo/pytorch and demo/keras): logits and probabilities within 1e-4, the last spatial
 * layer's activation, and the input gradient and Grad-CAM maps with correlation ≥ 0.999.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import { decodeNpy } from '../../../src/extension/image/npy';
import { gradCam } from '../../../src/extension/explain/methods/cam/gradcam';
import { useBackend } from '../../helpers/tf-test';

const MODELS = path.join(__dirname, '..', '..', '..', '..', 'demo', 'models');

interface Case { dir: string; file: string; layer: string; channelsFirst: boolean }

const CASES: Case[] = [
  { dir: 'shapes-pytorch', file: 'model.onnx', layer: 'layer2', channelsFirst: true },
  { dir: 'shapes-pytorch-dynamo', file: 'model.onnx', layer: 'layer2', channelsFirst: true },
  { dir: 'shapes-keras', file: 'model.keras', layer: 'conv3_block1_out', channelsFirst: false },
  { dir: 'shapes-keras-h5', file: 'model.h5', layer: 'conv3_block1_out', channelsFirst: false },
];

function npy(c: Case, name: string): { data: Float32Array; shape: number[] } {
  return decodeNpy(fs.readFileSync(path.join(MODELS, c.dir, 'reference', name)));
}

/** NCHW → NHWC, for PyTorch's arrays. */
function toNhwc(a: { data: Float32Array; shape: number[] }): Float32Array {
  return tf.tidy(() => tf.transpose(tf.tensor4d(a.data, a.shape as [number, number, number, number]), [0, 2, 3, 1]).dataSync() as Float32Array);
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

before(() => useBackend('cpu'));

for (const c of CASES) describe(`${c.dir}/${c.file} equals its framework`, () => {
  let model: LoadedModel;
  let input: tf.Tensor4D;
  let tops: number[];

  before(async () => {
    model = await loadModel(path.join(MODELS, c.dir, c.file));
    const x = npy(c, 'input.npy');
    input = tf.tensor4d(x.data, x.shape as [number, number, number, number]);
    const logits = npy(c, 'logits.npy');
    tops = Array.from({ length: logits.shape[0] }, (_, i) => {
      const row = logits.data.subarray(i * logits.shape[1], (i + 1) * logits.shape[1]);
      return row.indexOf(Math.max(...row));
    });
  });

  test('logits and probabilities within 1e-4; the labels and preprocessing come from the files beside it', () => {
    const logits = tf.tidy(() => model.adapter.logits(input).dataSync());
    const probs = tf.tidy(() => model.adapter.probabilities(input).dataSync());
    assert.ok(maxDiff(logits, npy(c, 'logits.npy').data) < 1e-4, `logits differ by ${maxDiff(logits, npy(c, 'logits.npy').data)}`);
    assert.ok(maxDiff(probs, npy(c, 'probabilities.npy').data) < 1e-4, `probabilities differ by ${maxDiff(probs, npy(c, 'probabilities.npy').data)}`);
    assert.deepEqual(model.labels, ['circle', 'square', 'triangle']);
    assert.equal(model.preprocess, c.channelsFirst ? 'unit' : 'raw');
  });

  test(`the activation of ${c.layer}, the last spatial layer`, () => {
    assert.equal(model.adapter.defaultLayer(), c.layer);
    const ours = tf.tidy(() => model.adapter.activations(input, c.layer).dataSync());
    const ref = npy(c, `${c.layer}.npy`);
    const theirs = c.channelsFirst ? toNhwc(ref) : ref.data;
    const scale = Math.max(...theirs.map(Math.abs));
    assert.ok(maxDiff(ours, theirs) < 1e-4 * Math.max(1, scale), `activations differ by ${maxDiff(ours, theirs)}`);
  });

  test('the input gradient and Grad-CAM of the top class: correlation ≥ 0.999 per image', async () => {
    const grads = npy(c, 'input_gradient.npy');
    const theirGrads = c.channelsFirst ? toNhwc(grads) : grads.data;
    const cams = npy(c, `gradcam_${c.layer}.npy`);
    const per = theirGrads.length / tops.length;
    const perCam = cams.data.length / tops.length;
    for (let i = 0; i < tops.length; i++) {
      const xi = tf.slice(input, [i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
      const target = { index: tops[i], space: 'logit' as const };
      const g = model.adapter.inputGradient(xi, target);
      const ours = g.grad.dataSync();
      tf.dispose([g.grad, g.scores]);
      const r = correlation(ours, theirGrads.subarray(i * per, (i + 1) * per));
      assert.ok(r >= 0.999, `image ${i}: input gradient correlation ${r}`);
      const cam = await gradCam.explain({ adapter: model.adapter, input: xi, target, layer: c.layer });
      const rc = correlation(cam.data, cams.data.subarray(i * perCam, (i + 1) * perCam));
      assert.ok(rc >= 0.999, `image ${i}: Grad-CAM correlation ${rc}`);
      xi.dispose();
    }
  });
});

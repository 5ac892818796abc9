/**
 * CAM's precondition, adapter.gapDenseHead: the dense kernel when a layer feeds a
 * GlobalAveragePooling2D → Dense head (layers models) or Mean → MatMul (+ BiasAdd) (graph models),
 * otherwise the reason, phrased to follow the method's name.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { loadModel } from '../../../src/extension/model/load';
import type { ModelAdapter } from '../../../src/extension/model/types';
import { UserError } from '../../../src/shared/errors';
import { cam } from '../../../src/extension/explain/methods/cam/cam';
import { gradCam } from '../../../src/extension/explain/methods/cam/gradcam';
import { assertClose, assertNoLeak, seededArray, useBackend } from '../../helpers/tf-test';
import { branchingModel, gapModel, linearModel, nestedModel, randomizeWeights } from '../../helpers/models';
import { graphWeights, writeGraphModel } from '../../helpers/graph-model';

const PREFIX = 'needs a GlobalAveragePooling2D → Dense head after';

/** The kernel as a plain array, and the tensor disposed; fails with the reason when there is none. */
function kernelOf(adapter: ModelAdapter, layer: string): { shape: number[]; data: Float32Array } {
  const head = adapter.gapDenseHead(layer);
  if (typeof head === 'string') assert.fail(`expected a head after ${layer}, got: ${head}`);
  const r = { shape: head.weights.shape, data: head.weights.dataSync() as Float32Array };
  head.weights.dispose();
  return r;
}

/** conv "feat" [6, 6, 4] → GAP → `tail` layers; the last one is the output. */
function headModel(tail: tfl.layers.Layer[]): tfl.LayersModel {
  const m = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [6, 6, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'feat' }),
      tfl.layers.globalAveragePooling2d({ name: 'gap' }),
      ...tail,
    ],
  });
  randomizeWeights(m, 77);
  return m;
}

describe('layers models', () => {
  before(() => useBackend('cpu'));

  test('conv → GAP → Dense(softmax): the kernel, and the logits are mean(A) · kernel + bias', async () => {
    const model = gapModel();
    const adapter = new LayersModelAdapter(model);
    const { shape, data } = await assertNoLeak(() => kernelOf(adapter, 'feat'));
    assert.deepEqual(shape, [8, 4]);
    const [kernel, bias] = model.getLayer('pred').getWeights();
    assert.deepEqual([...data], [...kernel.dataSync()]);
    // The head really is GAP → Dense: logit_c = Σ_k mean_ij(A_k) · W[k, c] + b_c, in plain JS.
    const x = tf.tensor4d(seededArray(12 * 12 * 3, 3), [1, 12, 12, 3]);
    const a = tf.tidy(() => adapter.activations(x, 'feat').dataSync());
    const b = bias.dataSync();
    const expected = Array.from({ length: 4 }, (_, c) => {
      let s = b[c];
      for (let k = 0; k < 8; k++) {
        let mean = 0;
        for (let p = 0; p < 144; p++) mean += a[p * 8 + k] / 144;
        s += mean * data[k * 4 + c];
      }
      return s;
    });
    assertClose(tf.tidy(() => adapter.logits(x).dataSync()), expected, 1e-5, 'logits');
    x.dispose();
  });

  test('Dropout between GAP and Dense, and a separate softmax output layer, are accepted', () => {
    const withDropout = headModel([tfl.layers.dropout({ rate: 0.3, name: 'drop' }), tfl.layers.dense({ units: 3, activation: 'sigmoid', name: 'out' })]);
    assert.deepEqual([...kernelOf(new LayersModelAdapter(withDropout), 'feat').data], [...withDropout.getLayer('out').getWeights()[0].dataSync()]);
    const separate = headModel([tfl.layers.dense({ units: 3, name: 'logits' }), tfl.layers.activation({ activation: 'softmax', name: 'probs' })]);
    const k = kernelOf(new LayersModelAdapter(separate), 'feat');
    assert.deepEqual(k.shape, [4, 3]);
    assert.deepEqual([...k.data], [...separate.getLayer('logits').getWeights()[0].dataSync()]);
  });

  test('other shapes of model give the reason, naming what follows instead', async () => {
    const reason = (adapter: ModelAdapter, layer: string) => assertNoLeak(() => adapter.gapDenseHead(layer));
    assert.equal(await reason(new LayersModelAdapter(gapModel()), 'dw'), `${PREFIX} "dw"; it is followed by Conv2D "feat"`);
    assert.equal(await reason(new LayersModelAdapter(nestedModel()), 'bout'), `${PREFIX} "bout"; it is followed by Flatten "flatten"`);
    assert.equal(await reason(new LayersModelAdapter(linearModel()), 'flat'), `${PREFIX} "flat"; it is followed by Dense "dense"`);
    const branching = new LayersModelAdapter(branchingModel());
    assert.equal(await reason(branching, 'c1'), `${PREFIX} "c1"; it feeds 3 layers (Conv2D "a1", Conv2D "b1", Concatenate "cat")`);
    assert.equal(await reason(branching, 'add'), `${PREFIX} "add"; it is followed by Dropout "drop"`);
    assert.equal(typeof branching.gapDenseHead('last'), 'object', 'the branching model ends in conv → GAP → Dense');
    const relu = headModel([tfl.layers.dense({ units: 3, activation: 'relu', name: 'out' })]);
    assert.equal(await reason(new LayersModelAdapter(relu), 'feat'), `${PREFIX} "feat"; Dense "out" applies relu, not softmax, sigmoid or linear`);
    const twoDense = headModel([tfl.layers.dense({ units: 5, name: 'fc' }), tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out' })]);
    assert.equal(await reason(new LayersModelAdapter(twoDense), 'feat'), `${PREFIX} "feat"; Dense "fc" is not the model's output layer (Dense "out" follows it)`);
    const gapOut = headModel([]);
    assert.equal(await reason(new LayersModelAdapter(gapOut), 'feat'), `${PREFIX} "feat"; GlobalAveragePooling2D "gap" is the model's output`);
  });

  test('an unknown layer is a UserError', () => {
    assert.throws(() => new LayersModelAdapter(gapModel()).gapDenseHead('nope'), (e: Error) => e instanceof UserError && /no layer named "nope"/.test(e.message));
  });
});

describe('graph models', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-gap-graph-'));
  before(async () => {
    await useBackend('cpu');
    writeGraphModel(dir);
  });

  /** A copy of the test graph with model.json (and optionally the weights) edited. */
  function variant(name: string, edit: (json: { modelTopology: { node: GraphJsonNode[] }; weightsManifest: { weights: { name: string; shape: number[] }[] }[] }, bin: Buffer) => void): string {
    const out = path.join(dir, '..', `${path.basename(dir)}-${name}`);
    fs.mkdirSync(out, { recursive: true });
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const bin = fs.readFileSync(path.join(dir, 'weights.bin'));
    edit(json, bin);
    fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify(json));
    fs.writeFileSync(path.join(out, 'weights.bin'), bin);
    return out;
  }
  interface GraphJsonNode { name: string; op: string; input: string[]; attr: Record<string, unknown> }
  const w3 = graphWeights().find((w) => w.name === 'w3')!;

  test('Mean over [1, 2] → MatMul → BiasAdd → Softmax: the MatMul kernel', async () => {
    const { adapter } = await loadModel(dir);
    const { shape, data } = await assertNoLeak(() => kernelOf(adapter, 'cat'));
    assert.deepEqual(shape, [8, 3]);
    assertClose(data, w3.data, 0, 'kernel');
    adapter.dispose();
  });

  test('CAM runs on the graph model and equals h·w × Grad-CAM there (the head is linear in the pooled features)', async () => {
    const { adapter } = await loadModel(dir);
    const x = tf.tensor4d(seededArray(8 * 8 * 3, 12), [1, 8, 8, 3]);
    for (const index of [0, 1, 2]) {
      const target = { index, space: 'logit' as const };
      const camMap = await assertNoLeak(() => cam.explain({ adapter, input: x, target }));
      const grad = await gradCam.explain({ adapter, input: x, target });
      assert.equal(camMap.layer, 'cat');
      assert.ok(camMap.data.some((v) => v > 0), `class ${index}: a non-zero map`);
      assertClose(camMap.data, grad.data.map((v) => v * 64), 1e-5, `class ${index}`);
    }
    x.dispose();
    adapter.dispose();
  });

  test('a transposed kernel (transpose_b) and axes given as [-2, -3] are recognised too', async () => {
    const d = variant('transposed', (json, bin) => {
      // w3 sits after w1, b1, w2, b2 in weights.bin: store it as [3, 8].
      const offset = 4 * (3 * 3 * 3 * 4 + 4 + 3 * 3 * 4 * 4 + 4);
      const t = new Float32Array(24);
      for (let k = 0; k < 8; k++) for (let c = 0; c < 3; c++) t[c * 8 + k] = w3.data[k * 3 + c];
      Buffer.from(t.buffer).copy(bin, offset);
      json.weightsManifest[0].weights.find((w) => w.name === 'w3')!.shape = [3, 8];
      const mm = json.modelTopology.node.find((n) => n.name === 'matmul')!;
      mm.attr.transpose_b = { b: true };
      const axesAt = bin.length - 8; // mean_axes, the last weight: two int32
      bin.writeInt32LE(-2, axesAt);
      bin.writeInt32LE(-3, axesAt + 4);
    });
    const { adapter } = await loadModel(d);
    const { shape, data } = kernelOf(adapter, 'cat');
    assert.deepEqual(shape, [8, 3]);
    assertClose(data, w3.data, 0, 'kernel, transposed back');
    adapter.dispose();
  });

  test('other graphs give the reason', async () => {
    const { adapter } = await loadModel(dir);
    assert.equal(adapter.gapDenseHead('add'), `${PREFIX} "add"; it is followed by ConcatV2 "cat"`);
    assert.equal(adapter.gapDenseHead('conv1'), `${PREFIX} "conv1"; it feeds 3 nodes (Conv2D "conv2", AddV2 "add", ConcatV2 "cat")`);
    assert.throws(() => adapter.gapDenseHead('nope'), UserError);
    adapter.dispose();
    const maxPool = await loadModel(variant('max', (json) => { json.modelTopology.node.find((n) => n.name === 'pool')!.op = 'Max'; }));
    assert.equal(maxPool.adapter.gapDenseHead('cat'), `${PREFIX} "cat"; it is followed by Max "pool"`);
    maxPool.adapter.dispose();
    const relu = await loadModel(variant('relu', (json) => {
      const nodes = json.modelTopology.node;
      nodes.find((n) => n.name === 'logits')!.input[0] = 'mm_relu';
      nodes.push({ name: 'mm_relu', op: 'Relu', input: ['matmul'], attr: { T: { type: 'DT_FLOAT' } } });
    }));
    assert.equal(relu.adapter.gapDenseHead('cat'), `${PREFIX} "cat"; MatMul "matmul" is followed by Relu "mm_relu" before the logits`);
    relu.adapter.dispose();
  });
});

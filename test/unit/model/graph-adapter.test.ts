import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel } from '../../../src/extension/model/load';
import { gradCam } from '../../../src/extension/explain/methods/cam/gradcam';
import { assertClose, assertNoLeak, seededArray, useBackend } from '../../helpers/tf-test';
import { GRAPH_INPUT, graphReference, writeGraphModel } from '../../helpers/graph-model';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-graph-'));
before(() => writeGraphModel(dir));

const input = (seed: number, batch = 2) => tf.tensor4d(seededArray(batch * 8 * 8 * 3, seed), [batch, ...GRAPH_INPUT]);

for (const backend of ['cpu', 'wasm'] as const) describe(`on ${backend}`, () => {
  before(() => useBackend(backend));

  test('a graph model loads from disk, with its nodes as layers and the softmax recognised', async () => {
    const { adapter, format } = await loadModel(dir);
    assert.equal(format, 'tfjs-graph');
    assert.deepEqual(adapter.inputShape, [8, 8, 3]);
    assert.equal(adapter.outputSize, 3);
    assert.equal(adapter.headActivation, 'softmax');
    assert.deepEqual(adapter.layers.map((l) => l.name), ['conv1', 'conv2', 'bias2', 'relu2', 'add', 'cat', 'pool', 'matmul', 'logits']);
    assert.equal(adapter.defaultLayer(), 'cat');
    const x = input(1);
    const logits = adapter.logits(x);
    assertClose(logits.dataSync(), tf.tidy(() => graphReference(x).dataSync()), 1e-5, 'logits');
    tf.dispose([x, logits]);
    adapter.dispose();
  });

  test('graph-model gradients w.r.t. the input and w.r.t. nodes that branches bypass match the reference', async () => {
    const { adapter } = await loadModel(dir);
    const x = input(2);
    const target = { index: 1, space: 'logit' as const };
    const pick = (l: tf.Tensor2D) => tf.sum(tf.slice(l, [0, 1], [-1, 1]));
    const { grad } = adapter.inputGradient(x, target);
    const ref = tf.grad((xi: tf.Tensor) => pick(graphReference(xi as tf.Tensor4D)))(x);
    assertClose(grad.dataSync(), ref.dataSync(), 1e-5, 'input gradient');
    for (const at of ['conv1', 'relu2', 'add', 'cat']) {
      const r = await assertNoLeak(() => {
        const g = adapter.layerGradient(x, at, target);
        const zero = tf.zerosLike(g.activation);
        const refAt = tf.grad((o: tf.Tensor) => pick(graphReference(x, at, o)))(zero);
        const d = [g.grad.dataSync(), refAt.dataSync()] as const;
        tf.dispose([g.grad, g.activation, g.scores, zero, refAt]);
        return d;
      });
      assertClose(r[0], r[1], 1e-5, `gradient at ${at}`);
    }
    tf.dispose([x, grad, ref]);
    adapter.dispose();
  });

  test('Grad-CAM runs on a graph model and leaves no tensors behind', async () => {
    const { adapter } = await loadModel(dir);
    const x = input(3, 1);
    const map = await assertNoLeak(() => gradCam.explain({ adapter, input: x, target: { index: 0, space: 'logit' } }));
    assert.equal(map.layer, 'cat');
    assert.deepEqual([map.height, map.width], [8, 8]);
    assert.ok(map.data.some((v) => v > 0));
    x.dispose();
    adapter.dispose();
  });
});

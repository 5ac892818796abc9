import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { gradCam } from '../../../src/extension/explain/methods/cam/gradcam';
import { assertClose, assertNoLeak, pearson, seededArray, useBackend } from '../../helpers/tf-test';
import { branchingModel, gapModel, linearModel, nestedModel } from '../../helpers/models';


const input = (shape: [number, number, number], seed: number, batch = 1) =>
  tf.tensor4d(seededArray(batch * shape[0] * shape[1] * shape[2], seed).map((v) => v + 1), [batch, ...shape]);

/** tfjs-layers' own forward pass, the reference for ours. */
function reference(model: LayersModel, x: tf.Tensor4D): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

// Every known answer is checked on the cpu backend and on wasm (whose missing gradient
// kernels this project supplies).
for (const backend of ['cpu', 'wasm'] as const) describe(`on ${backend}`, () => {
  before(() => useBackend(backend));

  test('forward pass equals tfjs-layers predict on branching, nested and depthwise models', () => {
    for (const [model, shape] of [[branchingModel(), [8, 8, 3]], [nestedModel(), [10, 10, 3]], [gapModel(), [12, 12, 3]]] as const) {
      const a = new LayersModelAdapter(model);
      const x = input(shape as [number, number, number], 5, 2);
      const probs = a.probabilities(x);
      assertClose(probs.dataSync(), reference(model, x), 1e-5, model.name);
      assert.equal(a.headActivation, 'softmax');
      tf.dispose([x, probs]);
    }
  });

  test("a linear model's input gradient of a logit is its weight column", async () => {
    const model = linearModel();
    const a = new LayersModelAdapter(model);
    const x = input([4, 4, 3], 7);
    const kernel = model.getLayer('dense').getWeights()[0]; // [48, 5]
    for (const k of [0, 3]) {
      const { grad, scores } = a.inputGradient(x, { index: k, space: 'logit' });
      const column = tf.tidy(() => tf.reshape(tf.slice(kernel, [0, k], [-1, 1]), [-1]).dataSync());
      assertClose(grad.dataSync(), column, 1e-6, `gradient of logit ${k}`);
      // The logit itself: x · w + b.
      const logit = tf.tidy(() => a.logits(x).dataSync()[k]);
      assert.ok(Math.abs(scores.dataSync()[0] - logit) < 1e-5);
      tf.dispose([grad, scores]);
    }
    x.dispose();
  });

  test('probability targets differentiate the softmax output', () => {
    const model = linearModel();
    const a = new LayersModelAdapter(model);
    const x = input([4, 4, 3], 9);
    const { grad } = a.inputGradient(x, { index: 2, space: 'probability' });
    const ref = tf.grad((xi: tf.Tensor) => tf.sum(tf.slice(model.apply(xi) as tf.Tensor2D, [0, 2], [-1, 1])))(x);
    assertClose(grad.dataSync(), ref.dataSync(), 1e-5, 'probability gradient');
    tf.dispose([x, grad, ref]);
  });

  test('input gradient equals tfjs autodiff through the original layers (branching model)', () => {
    const model = branchingModel();
    const a = new LayersModelAdapter(model);
    const x = input([8, 8, 3], 21, 2);
    const { grad } = a.inputGradient(x, { index: 1, space: 'probability' });
    // bn(scale=false) crashes tfjs's own batch-norm gradient; compare on finite differences instead.
    const eps = 1e-2;
    const g = grad.arraySync() as number[][][][];
    for (const [b, i, j, c] of [[0, 3, 4, 1], [1, 0, 7, 2], [0, 6, 1, 0], [1, 5, 5, 1]]) {
      const delta = tf.tidy(() => {
        const e = tf.buffer([2, 8, 8, 3]);
        e.set(eps, b, i, j, c);
        const plus = a.probabilities(tf.add(x, e.toTensor()) as tf.Tensor4D);
        const minus = a.probabilities(tf.sub(x, e.toTensor()) as tf.Tensor4D);
        return (plus.arraySync()[b][1] - minus.arraySync()[b][1]) / (2 * eps);
      });
      assert.ok(Math.abs(delta - g[b][i][j][c]) < 2e-3 + 0.02 * Math.abs(delta), `d/dx[${b},${i},${j},${c}]: fd ${delta} vs ${g[b][i][j][c]}`);
    }
    tf.dispose([x, grad]);
  });

  test('the gradient through a split at a layer on every path equals the end-to-end gradient (chain rule)', () => {
    const model = branchingModel();
    const a = new LayersModelAdapter(model);
    const x = input([8, 8, 3], 33, 2);
    const target = { index: 0, space: 'logit' as const };
    const { grad: direct } = a.inputGradient(x, target);
    for (const layer of ['c1', 'cat', 'bn2', 'last']) {
      const viaSplit = tf.tidy(() => {
        const { grad: gl } = a.layerGradient(x, layer, target);
        return tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(a.activations(xi as tf.Tensor4D, layer), gl)))(x);
      });
      assertClose(viaSplit.dataSync(), direct.dataSync(), 1e-5, `split at ${layer}`);
      viaSplit.dispose();
    }
    tf.dispose([x, direct]);
  });

  /**
   * The branching model written out by hand with an offset added to one layer's output: the
   * gradient w.r.t. that offset is the gradient w.r.t. the layer, including when the layer sits
   * inside a branch that other paths bypass.
   */
  function branchingByHand(model: LayersModel, x: tf.Tensor4D, at: string, offset: tf.Tensor): tf.Tensor1D {
    const L = (name: string, t: tf.Tensor) => {
      const y = model.getLayer(name).apply(t) as tf.Tensor;
      return name === at ? tf.add(y, offset) : y;
    };
    const bnNoScale = (t: tf.Tensor) => {
      const [mean, variance] = model.getLayer('a_bn').getWeights();
      const y = tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-3)));
      return at === 'a_bn' ? tf.add(y, offset) : y;
    };
    const c1 = L('c1', x);
    const aRelu = L('a_relu', bnNoScale(L('a1', c1)));
    const add = L('add', [aRelu, L('b1', c1)] as unknown as tf.Tensor);
    const cat = L('cat', [add, c1] as unknown as tf.Tensor);
    const gap = tf.mean(L('last', L('bn2', cat)), [1, 2]);
    const [w, b] = model.getLayer('pred').getWeights();
    return tf.reshape(tf.slice(tf.add(tf.matMul(gap, w), b), [0, 0], [-1, 1]), [-1]);
  }

  test('layer gradients are right for cuts inside a branch that others bypass', () => {
    const model = branchingModel();
    const a = new LayersModelAdapter(model);
    const x = input([8, 8, 3], 35, 2);
    for (const layer of ['a1', 'a_bn', 'a_relu', 'b1', 'add', 'c1', 'last']) {
      const { grad, activation, scores } = a.layerGradient(x, layer, { index: 0, space: 'logit' });
      const ref = tf.tidy(() => {
        const zero = tf.zerosLike(activation);
        return tf.grad((o: tf.Tensor) => tf.sum(branchingByHand(model, x, layer, o)))(zero);
      });
      assertClose(grad.dataSync(), ref.dataSync(), 1e-5, `gradient at ${layer}`);
      const refScores = tf.tidy(() => branchingByHand(model, x, '', tf.scalar(0)).dataSync());
      assertClose(scores.dataSync(), refScores, 1e-5, 'scores');
      tf.dispose([grad, activation, scores, ref]);
    }
    x.dispose();
  });

  test('layer gradients work inside nested models and leave no tensors behind', async () => {
    const model = nestedModel();
    const a = new LayersModelAdapter(model);
    assert.deepEqual(a.layers.map((l) => l.name), ['pad', 'bconv', 'pool', 'bout', 'flatten', 'logits', 'probs']);
    assert.equal(a.defaultLayer(), 'bout');
    const x = input([10, 10, 3], 41);
    const { grad: direct } = a.inputGradient(x, { index: 2, space: 'logit' });
    for (const layer of ['bconv', 'pool', 'bout', 'logits']) {
      await assertNoLeak(() => tf.dispose(Object.values(a.layerGradient(x, layer, { index: 2, space: 'logit' }))));
      const viaSplit = tf.tidy(() => {
        const { grad: gl } = a.layerGradient(x, layer, { index: 2, space: 'logit' });
        return tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(a.activations(xi as tf.Tensor4D, layer), gl)))(x);
      });
      assertClose(viaSplit.dataSync(), direct.dataSync(), 1e-5, `split at ${layer}`);
      viaSplit.dispose();
    }
    tf.dispose([x, direct]);
  });

  test('logit targets strip the softmax of the head (Dense activation or a separate layer)', () => {
    for (const model of [gapModel(), nestedModel()]) {
      const a = new LayersModelAdapter(model);
      const shape = model.inputs[0].shape.slice(1) as [number, number, number];
      const x = input(shape, 3);
      const logits = a.logits(x);
      const probs = reference(model, x);
      assertClose(tf.tidy(() => tf.softmax(logits).dataSync()), probs, 1e-5, 'softmax(logits)');
      tf.dispose([x, logits]);
    }
  });

  test('a softmax head inside a nested model is stripped for logits and applied for probabilities', () => {
    const inner = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [4, 4, 3] }), tfl.layers.dense({ units: 3, activation: 'softmax', name: 'inner_head' })] });
    const outer = tfl.sequential({ layers: [inner] });
    const a = new LayersModelAdapter(outer);
    assert.equal(a.headActivation, 'softmax');
    const x = input([4, 4, 3], 13);
    assertClose(a.probabilities(x).dataSync(), reference(outer, x), 1e-5, 'probabilities');
    assertClose(tf.tidy(() => tf.softmax(a.logits(x)).dataSync()), reference(outer, x), 1e-5, 'softmax(logits)');
    x.dispose();
  });

  test('on a GAP → dense model Grad-CAM equals CAM up to a positive scale', async () => {
    const model = gapModel();
    const a = new LayersModelAdapter(model);
    assert.equal(a.defaultLayer(), 'feat');
    const x = input([12, 12, 3], 55);
    const [w] = model.getLayer('pred').getWeights(); // [8, 4]
    for (const k of [0, 1, 2, 3]) {
      const map = await assertNoLeak(() => gradCam.explain({ adapter: a, input: x, target: { index: k, space: 'logit' } }));
      assert.equal(map.layer, 'feat');
      assert.deepEqual([map.height, map.width], [12, 12]);
      const cam = tf.tidy(() => {
        const act = a.activations(x, 'feat');
        const wk = tf.reshape(tf.slice(w, [0, k], [-1, 1]), [8]);
        return tf.relu(tf.sum(tf.mul(act, wk), -1)).dataSync();
      });
      const r = pearson(map.data, cam);
      if (Math.max(...cam) > 0) assert.ok(r > 0.999, `class ${k}: correlation ${r}`);
    }
    x.dispose();
  });

  test('Grad-CAM of an all-zero map is zeros, not NaN', async () => {
    const model = gapModel();
    const a = new LayersModelAdapter(model);
    const x = tf.zeros([1, 12, 12, 3]) as tf.Tensor4D;
    // Zero every conv bias and kernel so the spatial layer's output is zero everywhere.
    for (const l of ['conv_a', 'dw', 'feat']) model.getLayer(l).setWeights(model.getLayer(l).getWeights().map((t) => tf.zerosLike(t)));
    const map = await gradCam.explain({ adapter: a, input: x, target: { index: 0, space: 'logit' } });
    assert.ok(map.data.every((v) => v === 0));
    x.dispose();
  });

  test('unknown layers and layers without spatial output give clear errors', async () => {
    const a = new LayersModelAdapter(linearModel());
    const x = input([4, 4, 3], 1);
    await assert.rejects(gradCam.explain({ adapter: a, input: x, target: { index: 0, space: 'logit' } }), /needs a layer with a spatial/);
    const b = new LayersModelAdapter(branchingModel());
    const y = input([8, 8, 3], 1);
    assert.throws(() => b.activations(y, 'nope'), /no layer named "nope".*spatial layers: .*last/);
    await assert.rejects(gradCam.explain({ adapter: b, input: y, target: { index: 0, space: 'logit' }, layer: 'gap' }), /"gap" outputs \[/);
    tf.dispose([x, y]);
  });
});

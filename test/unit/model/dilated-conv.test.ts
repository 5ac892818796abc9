/**
 * Dilated convolutions in layers models (DeepLab-style atrous convs, Keras' dilation_rate):
 * tfjs has no gradient for them, so the layers program runs them with a spread kernel. Known
 * answers: the forward pass and the input and layer gradients equal those of the same network
 * written with 5×5 / 7×7 kernels holding the spread taps (tfjs autodiff through plain convs).
 * tfjs-layers itself ignores a DepthwiseConv2D's dilation rate (a TODO in its source): its own
 * forward pass of the dilated network is wrong, and differs from ours, as checked below.
 * A dilated layer without that form (SeparableConv2D) refuses gradients in words, leaving no
 * tensor behind.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { dilateFilter } from '../../../src/extension/model/dilate-filter';
import { UserError } from '../../../src/shared/errors';
import { assertClose, seededArray, useBackend } from '../../helpers/tf-test';
import { randomizeWeights } from '../../helpers/models';

const SHAPE: [number, number, number] = [12, 12, 3];

/** conv 3×3 dilation 2 (same) → depthwise 3×3 dilation 3 (same) → conv 3×3 (valid) → GAP → dense; or the same with spread kernels. */
function network(spread: boolean): tfl.LayersModel {
  const x = tfl.input({ shape: SHAPE });
  const a = tfl.layers.conv2d({ filters: 4, kernelSize: spread ? 5 : 3, dilationRate: spread ? 1 : 2, padding: 'same', activation: 'relu', name: 'atrous' }).apply(x) as tfl.SymbolicTensor;
  const b = tfl.layers.depthwiseConv2d({ kernelSize: spread ? 7 : 3, dilationRate: spread ? 1 : 3, padding: 'same', activation: 'linear', name: 'atrous_dw' }).apply(a) as tfl.SymbolicTensor;
  const c = tfl.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'valid', activation: 'relu', name: 'last' }).apply(b) as tfl.SymbolicTensor;
  const g = tfl.layers.globalAveragePooling2d({}).apply(c) as tfl.SymbolicTensor;
  const y = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'head' }).apply(g) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y });
}

/** The dilated network and its twin with the same weights, spread. */
function twins(): { dilated: tfl.LayersModel; spread: tfl.LayersModel } {
  const dilated = network(false);
  randomizeWeights(dilated, 11);
  const spread = network(true);
  for (const layer of dilated.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    const rate = layer.name === 'atrous' ? 2 : layer.name === 'atrous_dw' ? 3 : 1;
    spread.getLayer(layer.name).setWeights(weights.map((w, i) => (i === 0 && rate > 1 ? dilateFilter(w as tf.Tensor4D, [rate, rate]) : w)));
  }
  return { dilated, spread };
}

const input = (seed: number, batch = 2) => tf.tensor4d(seededArray(batch * SHAPE[0] * SHAPE[1] * SHAPE[2], seed).map((v) => v + 0.5), [batch, ...SHAPE]);

for (const backend of ['cpu', 'wasm'] as const) describe(`on ${backend}`, () => {
  before(() => useBackend(backend));

  test('a dilated network runs as its spread twin does, and its gradients equal autodiff through the twin', () => {
    const { dilated, spread } = twins();
    const a = new LayersModelAdapter(dilated);
    const x = input(3);
    const probs = a.probabilities(x);
    assertClose(probs.dataSync(), tf.tidy(() => (spread.predict(x) as tf.Tensor).dataSync()), 1e-5, 'forward');
    const theirs = tf.tidy(() => (dilated.predict(x) as tf.Tensor).dataSync());
    assert.ok(Math.max(...Array.from(probs.dataSync(), (v, i) => Math.abs(v - theirs[i]))) > 1e-3, 'tfjs-layers runs the depthwise layer undilated');
    const { grad } = a.inputGradient(x, { index: 1, space: 'probability' });
    const ref = tf.grad((xi: tf.Tensor) => tf.sum(tf.slice(spread.apply(xi) as tf.Tensor2D, [0, 1], [-1, 1])))(x);
    assert.ok(tf.tidy(() => tf.max(tf.abs(ref)).dataSync()[0]) > 1e-4, 'the reference gradient is not zero');
    assertClose(grad.dataSync(), ref.dataSync(), 1e-5, 'input gradient');
    // The layer gradient at the depthwise output: the rest of the network, differentiated.
    const lg = a.layerGradient(x, 'atrous_dw', { index: 2, space: 'probability' });
    const tail = (h: tf.Tensor) => {
      const c = spread.getLayer('last').apply(h) as tf.Tensor;
      const gap = tf.mean(c, [1, 2]);
      return tf.sum(tf.slice(spread.getLayer('head').apply(gap) as tf.Tensor2D, [0, 2], [-1, 1]));
    };
    const h = tf.tidy(() => tfl.model({ inputs: spread.inputs, outputs: spread.getLayer('atrous_dw').output as tfl.SymbolicTensor }).predict(x) as tf.Tensor);
    const refLayer = tf.grad(tail)(h);
    assertClose(lg.activation.dataSync(), h.dataSync(), 1e-5, 'activation');
    assertClose(lg.grad.dataSync(), refLayer.dataSync(), 1e-5, 'layer gradient');
    tf.dispose([x, probs, grad, ref, h, refLayer, lg.grad, lg.activation, lg.scores]);
  });

  test('a dilated SeparableConv2D has no gradient in tfjs: gradients are refused in words, and nothing is left behind', () => {
    const x0 = tfl.input({ shape: SHAPE });
    const s = tfl.layers.separableConv2d({ filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same', name: 'sep' }).apply(x0) as tfl.SymbolicTensor;
    const g = tfl.layers.globalAveragePooling2d({}).apply(s) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: x0, outputs: tfl.layers.dense({ units: 2 }).apply(g) as tfl.SymbolicTensor });
    const a = new LayersModelAdapter(model);
    const x = input(5, 1);
    const before = tf.memory().numTensors;
    for (const f of [() => a.inputGradient(x, { index: 0, space: 'logit' }), () => a.layerGradient(x, 'sep', { index: 0, space: 'logit' })]) {
      assert.throws(f, (err: unknown) => err instanceof UserError && /no gradient through the SeparableConv2D layer sep \(dilation rate 2×2\).*occlusion, RISE and Score-CAM do/.test(err.message));
    }
    assert.equal(tf.memory().numTensors, before);
    // The forward pass still works (forward methods apply).
    tf.tidy(() => assert.equal(a.probabilities(x).shape[1], 2));
    x.dispose();
    a.dispose();
  });
});

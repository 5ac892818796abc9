/**
 * Known answers for the gradient family (Gradient, Gradient × Input, SmoothGrad, Integrated
 * Gradients, Guided Backprop, Guided Grad-CAM) and the Gaussian blur: analytic results on linear
 * models, a Guided Backprop derivation in plain loops, and completeness of IG on the trained demo
 * model.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import type { Explainer, ExplainRequest } from '../../../src/extension/explain/explainer';
import { gaussianBlur } from '../../../src/extension/explain/blur';
import { GRADIENT_METHODS } from '../../../src/extension/explain/methods/gradient/gradient-family';
import { gradient } from '../../../src/extension/explain/methods/gradient/gradient';
import { gradientTimesInput } from '../../../src/extension/explain/methods/gradient/gradient-x-input';
import { smoothGrad } from '../../../src/extension/explain/methods/gradient/smoothgrad';
import { integratedGradients } from '../../../src/extension/explain/methods/gradient/integrated-gradients';
import { guidedBackprop } from '../../../src/extension/explain/methods/gradient/guided-backprop';
import { guidedGradCam } from '../../../src/extension/explain/methods/gradient/guided-gradcam';
import { guidedBackpropAttribution } from '../../../src/extension/explain/methods/gradient/input-attribution';
import { gradCam } from '../../../src/extension/explain/methods/cam/gradcam';
import { CancelledError, UserError } from '../../../src/shared/errors';
import { makeShapeImage, mulberry32, toUnit } from '../../../demo/synthetic';
import { assertClose, assertNoLeak, maxAbsDiff, seededArray, useBackend } from '../../helpers/tf-test';
import { branchingModel, linearModel, randomizeWeights } from '../../helpers/models';

const input = (shape: [number, number, number], seed: number, scale = 1, batch = 1) =>
  tf.tensor4d(seededArray(batch * shape[0] * shape[1] * shape[2], seed).map((v) => (v + 1) * scale), [batch, ...shape]);

const logit = (index: number) => ({ index, space: 'logit' as const });

/** Σ over the channels of an [h·w·c] HWC array: the map an input-space method reports. */
function channelSum(v: ArrayLike<number>, c: number): Float64Array {
  const out = new Float64Array(v.length / c);
  for (let i = 0; i < v.length; i++) out[Math.floor(i / c)] += v[i];
  return out;
}

/** Column k of a [rows, cols] kernel. */
function column(kernel: ArrayLike<number>, cols: number, k: number): Float64Array {
  const out = new Float64Array(kernel.length / cols);
  for (let i = 0; i < out.length; i++) out[i] = kernel[i * cols + k];
  return out;
}

// ---------------------------------------------------------------------------------------------
// A plain-JS network for the Guided Backprop derivation: dense, 'valid' stride-1 conv (HWC
// layout, kernel [kh, kw, cin, cout] as Keras stores it) and standalone ReLU / ReLU6.

type Act = 'linear' | 'relu' | 'relu6';
type RefLayer =
  | { kind: 'dense'; w: Float32Array; b: Float32Array; nIn: number; nOut: number; act: Act }
  | { kind: 'conv'; w: Float32Array; b: Float32Array; h: number; wd: number; cin: number; cout: number; k: number; act: Act }
  | { kind: 'relu'; act: 'relu' | 'relu6' };

const cap = (act: Act) => (act === 'relu6' ? 6 : Infinity);

function linearForward(l: RefLayer, x: Float64Array): Float64Array {
  if (l.kind === 'relu') return x;
  if (l.kind === 'dense') {
    const z = new Float64Array(l.nOut);
    for (let j = 0; j < l.nOut; j++) {
      z[j] = l.b[j];
      for (let i = 0; i < l.nIn; i++) z[j] += x[i] * l.w[i * l.nOut + j];
    }
    return z;
  }
  const oh = l.h - l.k + 1;
  const ow = l.wd - l.k + 1;
  const z = new Float64Array(oh * ow * l.cout);
  for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) for (let co = 0; co < l.cout; co++) {
    let s = l.b[co];
    for (let dy = 0; dy < l.k; dy++) for (let dx = 0; dx < l.k; dx++) for (let ci = 0; ci < l.cin; ci++) {
      s += x[((y + dy) * l.wd + xx + dx) * l.cin + ci] * l.w[((dy * l.k + dx) * l.cin + ci) * l.cout + co];
    }
    z[(y * ow + xx) * l.cout + co] = s;
  }
  return z;
}

function linearBackward(l: RefLayer, dz: Float64Array, nIn: number): Float64Array {
  if (l.kind === 'relu') return dz;
  const dx = new Float64Array(nIn);
  if (l.kind === 'dense') {
    for (let i = 0; i < l.nIn; i++) for (let j = 0; j < l.nOut; j++) dx[i] += l.w[i * l.nOut + j] * dz[j];
    return dx;
  }
  const oh = l.h - l.k + 1;
  const ow = l.wd - l.k + 1;
  for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) for (let co = 0; co < l.cout; co++) {
    for (let ky = 0; ky < l.k; ky++) for (let kx = 0; kx < l.k; kx++) for (let ci = 0; ci < l.cin; ci++) {
      dx[((y + ky) * l.wd + xx + kx) * l.cin + ci] += l.w[((ky * l.k + kx) * l.cin + ci) * l.cout + co] * dz[(y * ow + xx) * l.cout + co];
    }
  }
  return dx;
}

interface RefPass { logits: Float64Array; grad: Float64Array; units: { z: number; act: Act }[] }

/**
 * Forward, then backward from logit k. At every ReLU-like unit with pre-activation z the true
 * rule passes d where 0 < z < cap; the guided rule (Springenberg et al. 2015) passes d only
 * where, in addition, d > 0.
 */
function refPass(layers: RefLayer[], x: ArrayLike<number>, k: number, guided: boolean): RefPass {
  const inputs: Float64Array[] = [];
  const pre: Float64Array[] = [];
  const units: { z: number; act: Act }[] = [];
  let a: Float64Array = Float64Array.from(x);
  for (const l of layers) {
    inputs.push(a);
    const z = linearForward(l, a);
    pre.push(z);
    const act = l.act;
    if (act !== 'linear') z.forEach((v) => units.push({ z: v, act }));
    a = act === 'linear' ? z : z.map((v) => Math.min(Math.max(v, 0), cap(act)));
  }
  let d: Float64Array = new Float64Array(a.length);
  d[k] = 1;
  for (let li = layers.length - 1; li >= 0; li--) {
    const l = layers[li];
    if (l.act !== 'linear') {
      const top = cap(l.act);
      d = d.map((g, i) => (pre[li][i] > 0 && pre[li][i] < top && (!guided || g > 0) ? g : 0));
    }
    d = linearBackward(l, d, inputs[li].length);
  }
  return { logits: a, grad: d, units };
}

/** Reads a tfjs-layers model built from dense / conv / ReLU layers into the plain-JS network. */
function refLayers(model: tfl.LayersModel): RefLayer[] {
  const out: RefLayer[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Record<string, unknown>;
    if (cls === 'Flatten') continue;
    if (cls === 'ReLU') {
      out.push({ kind: 'relu', act: cfg.maxValue === 6 ? 'relu6' : 'relu' });
      continue;
    }
    const [w, b] = layer.getWeights().map((t) => t.dataSync() as Float32Array);
    const act = cfg.activation as Act;
    if (cls === 'Dense') {
      const [nIn, nOut] = layer.getWeights()[0].shape;
      out.push({ kind: 'dense', w, b, nIn, nOut, act });
    } else if (cls === 'Conv2D') {
      const [, h, wd, cin] = (layer.input as tfl.SymbolicTensor).shape as number[];
      const [k, , , cout] = layer.getWeights()[0].shape;
      out.push({ kind: 'conv', w, b, h, wd, cin, cout, k, act });
    } else {
      throw new Error(`no reference for ${cls}`);
    }
  }
  return out;
}

/** Conv(relu6, fused) → Flatten → Dense → ReLU layer → Dense. */
function convGuidedModel(): tfl.LayersModel {
  const m = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [4, 4, 3], filters: 4, kernelSize: 3, padding: 'valid', activation: 'relu6', name: 'conv' }),
      tfl.layers.flatten({ name: 'flat' }),
      tfl.layers.dense({ units: 6, name: 'hidden' }),
      tfl.layers.reLU({ name: 'relu' }),
      tfl.layers.dense({ units: 3, name: 'out' }),
    ],
  });
  randomizeWeights(m, 404);
  return m;
}

/** Flatten → Dense(relu, fused) → Dense → ReLU6 layer → Dense. */
function denseGuidedModel(): tfl.LayersModel {
  const m = tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [2, 2, 3], name: 'flat' }),
      tfl.layers.dense({ units: 8, activation: 'relu', name: 'h1' }),
      tfl.layers.dense({ units: 8, name: 'h2' }),
      tfl.layers.reLU({ maxValue: 6, name: 'relu6' }),
      tfl.layers.dense({ units: 3, name: 'out' }),
    ],
  });
  randomizeWeights(m, 505);
  return m;
}

/** Every method on `req`: no tensor left behind, progress ends at 1, a signed input-size map. */
async function checkHygiene(m: Explainer, req: ExplainRequest, h: number, w: number): Promise<void> {
  const fractions: number[] = [];
  const map = await assertNoLeak(() => m.explain({ ...req, onProgress: (f) => fractions.push(f) }));
  assert.deepEqual([map.height, map.width], [h, w], m.id);
  assert.equal(map.data.length, h * w);
  assert.equal(map.signed, true, `${m.id} is signed`);
  assert.ok(map.data.every(Number.isFinite), `${m.id} is finite`);
  assert.equal(fractions.at(-1), 1, `${m.id} reports progress up to 1`);
  for (let i = 1; i < fractions.length; i++) assert.ok(fractions[i] >= fractions[i - 1], `${m.id} progress is monotone`);
}

describe('on cpu', () => {
  before(() => useBackend('cpu'));

  test('gaussianBlur keeps a constant image constant, even with a kernel wider than the image', () => {
    const x = tf.fill([2, 5, 7, 3], 0.37) as tf.Tensor4D;
    for (const sigma of [0.6, 3]) {
      const y = assertNoLeakSync(() => gaussianBlur(x, sigma));
      assert.deepEqual(y.shape, [2, 5, 7, 3]);
      assertClose(y.dataSync(), new Float32Array(2 * 5 * 7 * 3).fill(0.37), 1e-6, `sigma ${sigma}`);
      y.dispose();
    }
    const same = gaussianBlur(x, 0);
    assert.deepEqual(same.dataSync(), x.dataSync());
    assert.throws(() => gaussianBlur(x, -1), RangeError);
    tf.dispose([x, same]);
  });

  test('gaussianBlur of an impulse sums to 1 and is the outer product of the 1-D Gaussian', () => {
    const n = 25;
    const c0 = 12;
    const sigma = 2;
    const buf = tf.buffer([1, n, n, 2]);
    buf.set(1, 0, c0, c0, 1); // an impulse in the second channel only
    const x = buf.toTensor() as tf.Tensor4D;
    const y = gaussianBlur(x, sigma);
    const out = y.dataSync();
    // The sampled Gaussian truncated at ±3σ and normalised to sum 1.
    const r = 3 * sigma;
    const g = new Map<number, number>();
    let total = 0;
    for (let k = -r; k <= r; k++) total += Math.exp(-(k * k) / (2 * sigma * sigma));
    for (let k = -r; k <= r; k++) g.set(k, Math.exp(-(k * k) / (2 * sigma * sigma)) / total);
    const expected = new Float64Array(n * n * 2);
    for (let yy = 0; yy < n; yy++) for (let xx = 0; xx < n; xx++) {
      expected[(yy * n + xx) * 2 + 1] = (g.get(yy - c0) ?? 0) * (g.get(xx - c0) ?? 0);
    }
    assertClose(out, expected, 1e-5, 'impulse response');
    let sum = 0;
    for (let i = 1; i < out.length; i += 2) sum += out[i];
    assert.ok(Math.abs(sum - 1) < 1e-5, `sums to ${sum}`);
    assert.ok(out.filter((_, i) => i % 2 === 0).every((v) => v === 0), 'the other channel stays 0');
    tf.dispose([x, y]);
  });

  describe('on a linear model F = w·x + b', () => {
    const k = 2;
    const xv = seededArray(48, 31).map((v) => v + 0.5);
    const blackValue = -0.25;
    let a: LayersModelAdapter;
    let wk: Float64Array; // w: the kernel column of logit k, [48]
    let bias: Float32Array;
    before(() => {
      const model = linearModel('linear');
      a = new LayersModelAdapter(model);
      const [kernel, b] = model.getLayer('dense').getWeights(); // [48, 5], [5]
      wk = column(kernel.dataSync(), 5, k);
      bias = b.dataSync() as Float32Array;
    });
    const dot = (v: ArrayLike<number>) => { let s = bias[k]; for (let i = 0; i < 48; i++) s += v[i] * wk[i]; return s; };

    test('Gradient is the kernel column summed over channels', async () => {
      const x = tf.tensor4d(xv, [1, 4, 4, 3]);
      const map = await assertNoLeak(() => gradient.explain({ adapter: a, input: x, target: logit(k) }));
      assertClose(map.data, channelSum(wk, 3), 1e-6, 'gradient');
      x.dispose();
    });

    test('Gradient × Input is w ⊙ x (black = 0), and w ⊙ (x − black) for a given black image', async () => {
      const x = tf.tensor4d(xv, [1, 4, 4, 3]);
      const map = await gradientTimesInput.explain({ adapter: a, input: x, target: logit(k) });
      assertClose(map.data, channelSum(wk.map((w, i) => w * xv[i]), 3), 1e-6, 'w ⊙ x');
      const black = tf.fill([1, 4, 4, 3], blackValue) as tf.Tensor4D;
      const shifted = await gradientTimesInput.explain({ adapter: a, input: x, target: logit(k), black });
      assertClose(shifted.data, channelSum(wk.map((w, i) => w * (xv[i] - blackValue)), 3), 1e-6, 'w ⊙ (x − black)');
      tf.dispose([x, black]);
    });

    test('Integrated Gradients is exactly (x − x′) ⊙ w, with F(x), F(x′) right and no gap', async () => {
      const x = tf.tensor4d(xv, [1, 4, 4, 3]);
      const black = tf.fill([1, 4, 4, 3], blackValue) as tf.Tensor4D;
      for (const steps of [2, 7]) {
        const map = await integratedGradients.explain({ adapter: a, input: x, target: logit(k), black, params: { steps }, batchSize: 3 });
        assertClose(map.data, channelSum(wk.map((w, i) => w * (xv[i] - blackValue)), 3), 1e-5, `steps ${steps}`);
        const s = map.stats!;
        assert.ok(Math.abs(s.fx - dot(xv)) < 1e-5, `fx ${s.fx} vs ${dot(xv)}`);
        assert.ok(Math.abs(s.fBaseline - dot(new Float64Array(48).fill(blackValue))) < 1e-5, 'fBaseline');
        assert.ok(Math.abs(s.completenessGap) < 1e-5 && s.relativeGap < 1e-5, `gap ${s.completenessGap}`);
        assert.ok(Math.abs(s.attributionSum - (s.fx - s.fBaseline)) < 1e-5);
      }
      // Completeness is exact on a linear model whatever the baseline.
      for (const baseline of ['blurred', 'noise']) {
        const map = await integratedGradients.explain({ adapter: a, input: x, target: logit(k), inputRange: [0, 1.5], params: { baseline, steps: 4 } });
        assert.ok(map.stats!.relativeGap < 1e-5, `${baseline}: gap ${map.stats!.completenessGap}`);
        assert.ok(Math.abs(map.stats!.fx - dot(xv)) < 1e-5);
      }
      tf.dispose([x, black]);
    });

    test('IG noise baselines are seeded: the same seed gives the same map, another seed another one', async () => {
      const x = tf.tensor4d(xv, [1, 4, 4, 3]);
      const run = (seed: number) => integratedGradients.explain({ adapter: a, input: x, target: logit(k), seed, params: { baseline: 'noise', steps: 2 } });
      const [m1, m2, m3] = [await run(5), await run(5), await run(6)];
      assert.deepEqual(m1.data, m2.data);
      assert.ok(maxAbsDiff(m1.data, m3.data) > 1e-3);
      assert.notEqual(m1.stats!.fBaseline, m3.stats!.fBaseline);
      x.dispose();
    });

    test('SmoothGrad over Gradient is the gradient for any noise: the gradient is constant', async () => {
      const x = tf.tensor4d(xv, [1, 4, 4, 3]);
      const map = await smoothGrad.explain({ adapter: a, input: x, target: logit(k), params: { sigma: 0.4, samples: 7 }, batchSize: 3 });
      assertClose(map.data, channelSum(wk, 3), 1e-5, 'smoothgrad of a linear model');
      x.dispose();
    });

    test('SmoothGrad noise has standard deviation sigma × (max − min) of the input range', async () => {
      // Over Gradient × Input with black = 0 the map is Σ_c w_c (x_c + ε̄_c), where ε̄ is the mean
      // of `samples` draws of N(0, std²): the residual of pixel p is N(0, std² Σ_c w_c² / samples).
      // Standardised residuals over 25 seeds × 16 pixels have a mean square near 1 (χ²₄₀₀ / 400
      // has sd 0.07); a noise scale off by √2 either way lands at 2 or 0.5.
      const x = tf.tensor4d(xv, [1, 4, 4, 3]);
      const samples = 4;
      const sigma = 0.2;
      const range: [number, number] = [-1, 2];
      const std = sigma * (range[1] - range[0]);
      const clean = channelSum(wk.map((w, i) => w * xv[i]), 3);
      const sd = channelSum(wk.map((w) => w * w), 3).map((v) => Math.sqrt((std * std * v) / samples));
      let ms = 0;
      let count = 0;
      for (let seed = 1; seed <= 25; seed++) {
        const map = await smoothGrad.explain({ adapter: a, input: x, target: logit(k), seed, inputRange: range, params: { base: 'gradxinput', sigma, samples }, batchSize: 3 });
        for (let p = 0; p < 16; p++) {
          ms += ((map.data[p] - clean[p]) / sd[p]) ** 2;
          count++;
        }
      }
      ms /= count;
      assert.ok(ms > 0.75 && ms < 1.3, `mean square of standardised residuals ${ms}`);
      // The same range read from the input when none is given: sigma scales with max − min.
      const lo = Math.min(...xv);
      const hi = Math.max(...xv);
      const fromInput = await smoothGrad.explain({ adapter: a, input: x, target: logit(k), seed: 3, params: { base: 'gradxinput', sigma: 0.1, samples } });
      const given = await smoothGrad.explain({ adapter: a, input: x, target: logit(k), seed: 3, inputRange: [0, 2 * (hi - lo)], params: { base: 'gradxinput', sigma: 0.05, samples } });
      assertClose(fromInput.data, given.data, 1e-5, 'σ = 0.1 of (max − min) equals σ = 0.05 of twice that range');
      x.dispose();
    });
  });

  describe('Guided Backprop matches a hand derivation', () => {
    for (const [name, build, shape, scale] of [
      ['conv (ReLU6 fused) → dense → standalone ReLU → dense', convGuidedModel, [4, 4, 3], 3],
      ['dense (ReLU fused) → dense → standalone ReLU6 → dense', denseGuidedModel, [2, 2, 3], 6],
    ] as const) {
      test(name, async () => {
        const model = build();
        const a = new LayersModelAdapter(model);
        const layers = refLayers(model);
        const x = input(shape as unknown as [number, number, number], 77, scale, 2);
        const size = shape[0] * shape[1] * shape[2];
        const xs = x.dataSync();
        const logits = a.logits(x);
        const ld = logits.dataSync();
        let guidedDiffers = false;
        const units: { z: number; act: Act }[] = [];
        for (let b = 0; b < 2; b++) {
          const xb = xs.subarray(b * size, (b + 1) * size);
          const one = tf.tensor4d(xb, [1, ...shape]);
          for (let k = 0; k < 3; k++) {
            const plain = refPass(layers, xb, k, false);
            const guided = refPass(layers, xb, k, true);
            units.push(...guided.units);
            // The reference itself: its forward pass and its true gradient agree with tfjs.
            assertClose(ld.subarray(b * 3, b * 3 + 3), plain.logits, 1e-5, 'forward');
            const g = a.inputGradient(one, logit(k));
            assertClose(g.grad.dataSync(), plain.grad, 1e-5, 'true gradient');
            tf.dispose([g.grad, g.scores]);
            // The method's map, and the batched attribution it is made of.
            const map = await assertNoLeak(() => guidedBackprop.explain({ adapter: a, input: one, target: logit(k) }));
            assertClose(map.data, channelSum(guided.grad, 3), 1e-5, `guided map, input ${b}, class ${k}`);
            const batched = guidedBackpropAttribution(a, x, logit(k));
            assertClose(batched.dataSync().subarray(b * size, (b + 1) * size), guided.grad, 1e-5, 'guided attribution in a batch');
            batched.dispose();
            if (maxAbsDiff(guided.grad, plain.grad) > 1e-3 * Math.max(...plain.grad.map(Math.abs))) guidedDiffers = true;
          }
          one.dispose();
        }
        // The inputs exercise every branch of the rules: dead, active and (ReLU6) saturated units.
        assert.ok(guidedDiffers, 'the guided rule changes the gradient');
        assert.ok(units.some((u) => u.z < 0) && units.some((u) => u.z > 0 && u.z < 6), 'dead and active units');
        assert.ok(units.some((u) => u.act === 'relu6' && u.z > 6), 'saturated ReLU6 units');
        tf.dispose([x, logits]);
      });
    }
  });

  describe('on a branching model (ReLU fused and standalone, ReLU6, batch norm)', () => {
    const target = logit(1);
    let a: LayersModelAdapter;
    let x: tf.Tensor4D;
    before(() => {
      a = new LayersModelAdapter(branchingModel());
      x = input([8, 8, 3], 21);
    });
    after(() => x.dispose());

    test('SmoothGrad with sigma = 0 equals its base method', async () => {
      for (const [base, method] of [['gradient', gradient], ['guidedbp', guidedBackprop], ['gradxinput', gradientTimesInput], ['ig', integratedGradients]] as const) {
        const expected = await method.explain({ adapter: a, input: x, target });
        const map = await assertNoLeak(() => smoothGrad.explain({ adapter: a, input: x, target, params: { base, sigma: 0, samples: 5 }, batchSize: 2 }));
        assertClose(map.data, expected.data, 1e-5, `base ${base}`);
        assert.ok(Math.max(...expected.data.map(Math.abs)) > 0, `${base} is not all zeros`);
      }
    });

    test('SmoothGrad is seeded and does not depend on the batch size', async () => {
      const run = (seed: number | undefined, batchSize: number) =>
        smoothGrad.explain({ adapter: a, input: x, target, seed, params: { sigma: 0.2, samples: 6 }, batchSize });
      const [m1, m2, m3, m4, m5] = [await run(9, 4), await run(9, 4), await run(10, 4), await run(9, 32), await run(undefined, 4)];
      assert.deepEqual(m1.data, m2.data, 'same seed, same map');
      assert.ok(maxAbsDiff(m1.data, m3.data) > 1e-4 * Math.max(...m1.data.map(Math.abs)), 'another seed, another map');
      assertClose(m4.data, m1.data, 1e-5, 'batch size 32 vs 4');
      assert.deepEqual((await run(undefined, 4)).data, m5.data, 'no seed: a fixed default');
      const plain = await gradient.explain({ adapter: a, input: x, target });
      assert.ok(maxAbsDiff(m1.data, plain.data) > 1e-4 * Math.max(...plain.data.map(Math.abs)), 'noise changes the map');
    });

    test('Guided Grad-CAM is the Guided Backprop map times the upsampled Grad-CAM map', async () => {
      for (const layer of [undefined, 'c1']) {
        const map = await assertNoLeak(() => guidedGradCam.explain({ adapter: a, input: x, target, layer }));
        const guided = await guidedBackprop.explain({ adapter: a, input: x, target });
        const cam = await gradCam.explain({ adapter: a, input: x, target, layer });
        assert.equal(map.layer, layer ?? 'last');
        assert.deepEqual([cam.height, cam.width], layer ? [8, 8] : [4, 4]);
        const up = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(cam.data, [cam.height, cam.width, 1]), [8, 8], false, true).dataSync());
        assertClose(map.data, guided.data.map((g, i) => g * up[i]), 1e-5, `layer ${layer}`);
        assert.ok(map.data.some((v) => v !== 0), 'not all zeros');
      }
      await assert.rejects(guidedGradCam.explain({ adapter: a, input: x, target, layer: 'gap' }), UserError);
    });

    test('every method: no leaked tensors, progress to 1, a signed 8×8 map', async () => {
      assert.deepEqual(GRADIENT_METHODS.map((m) => m.id), ['gradient', 'gradxinput', 'smoothgrad', 'ig', 'guidedbp', 'guidedgradcam']);
      for (const m of GRADIENT_METHODS) {
        assert.equal(m.family, 'gradient');
        assert.equal(m.needs.gradients, true);
        await checkHygiene(m, { adapter: a, input: x, target, params: m.id === 'ig' ? { steps: 8 } : m.id === 'smoothgrad' ? { samples: 5 } : undefined, batchSize: 2 }, 8, 8);
      }
      for (const baseline of ['blurred', 'noise']) await checkHygiene(integratedGradients, { adapter: a, input: x, target, params: { baseline, steps: 4 } }, 8, 8);
      for (const base of ['gradxinput', 'guidedbp', 'ig']) await checkHygiene(smoothGrad, { adapter: a, input: x, target, params: { base, samples: 3 }, batchSize: 2 }, 8, 8);
    });

    test('every method: an aborted signal throws CancelledError and leaks nothing', async () => {
      const aborted = AbortSignal.abort();
      for (const m of GRADIENT_METHODS) {
        await assertNoLeak(() => assert.rejects(m.explain({ adapter: a, input: x, target, signal: aborted }), CancelledError, m.id));
      }
      // Aborted between batches, from the first progress report.
      for (const [m, params] of [[integratedGradients, { steps: 16 }], [smoothGrad, { samples: 8 }], [smoothGrad, { samples: 3, base: 'ig' }]] as const) {
        const ac = new AbortController();
        let reports = 0;
        await assertNoLeak(() => assert.rejects(
          m.explain({ adapter: a, input: x, target, params, batchSize: 2, signal: ac.signal, onProgress: () => { reports++; ac.abort(); } }),
          CancelledError,
          m.id,
        ));
        assert.equal(reports, 1, `${m.id} stopped at the next batch`);
      }
      // Aborted by an event while the method runs: the batches yield to the event loop.
      const ac = new AbortController();
      let last = 0;
      await assertNoLeak(() => {
        const run = integratedGradients.explain({ adapter: a, input: x, target, params: { steps: 1024 }, batchSize: 2, signal: ac.signal, onProgress: (f) => { last = f; } });
        setImmediate(() => ac.abort());
        return assert.rejects(run, CancelledError);
      });
      assert.ok(last < 0.5, `cancelled at ${last}`);
    });

    test('bad parameters and inputs are UserErrors', async () => {
      const two = input([8, 8, 3], 3, 1, 2);
      const cases: [Explainer, Partial<ExplainRequest>, RegExp][] = [
        [integratedGradients, { params: { steps: 1 } }, /steps/],
        [integratedGradients, { params: { steps: 2.5 } }, /steps/],
        [integratedGradients, { params: { baseline: 'white' } }, /baseline/],
        [smoothGrad, { params: { base: 'gradcam' } }, /base/],
        [smoothGrad, { params: { sigma: -0.1 } }, /sigma/],
        [smoothGrad, { params: { samples: 0 } }, /samples/],
        [smoothGrad, { batchSize: 0 }, /batch size/],
        [gradient, { input: two }, /one image/],
        [gradientTimesInput, { black: tf.zeros([1, 4, 4, 3]) as tf.Tensor4D }, /black image/],
      ];
      for (const [m, extra, msg] of cases) {
        await assert.rejects(m.explain({ adapter: a, input: x, target, ...extra }), (e: unknown) => e instanceof UserError && msg.test(e.message), `${m.id} ${JSON.stringify(extra.params ?? extra.batchSize ?? '')}`);
      }
      tf.dispose([two, cases[8][1].black!]);
    });
  });
});

/** assertNoLeak for synchronous functions that return a tensor (counted as the one new one). */
function assertNoLeakSync(f: () => tf.Tensor4D): tf.Tensor4D {
  const before = tf.memory().numTensors;
  const t = f();
  assert.equal(tf.memory().numTensors, before + 1, 'only the result is new');
  return t;
}

describe('on wasm, the trained demo model', () => {
  const ROOT = path.resolve(__dirname, '../../../..');
  let model: LoadedModel;
  before(async () => {
    await useBackend('wasm');
    model = await loadModel(path.join(ROOT, 'demo', 'models', 'shapes'));
  });

  test('IG at 128 steps from the black image is complete to < 1% on fresh images', async () => {
    const rng = mulberry32(24680);
    for (let i = 0; i < 3; i++) {
      const img = makeShapeImage(rng, 64);
      const x = tf.tensor4d(toUnit(img.pixels), [1, 64, 64, 3]);
      const black = tf.zeros([1, 64, 64, 3]) as tf.Tensor4D;
      const target = logit(img.label);
      const map = await assertNoLeak(() => integratedGradients.explain({ adapter: model.adapter, input: x, target, black, inputRange: [0, 1], params: { steps: 128 } }));
      const s = map.stats!;
      // F(x) and F(x′) from an independent forward pass.
      const [fx, fb] = tf.tidy(() => Array.from(model.adapter.score(tf.concat([x, black]), target).dataSync()));
      assert.ok(Math.abs(s.fx - fx) < 1e-3 * Math.abs(fx) + 1e-4, `fx ${s.fx} vs ${fx}`);
      assert.ok(Math.abs(s.fBaseline - fb) < 1e-3 * Math.abs(fb) + 1e-4, `fBaseline ${s.fBaseline} vs ${fb}`);
      assert.ok(Math.abs(fx - fb) > 1, 'the image and the black image score differently');
      assert.ok(s.relativeGap < 0.01, `image ${i}: |gap| ${Math.abs(s.completenessGap)} is ${(100 * s.relativeGap).toFixed(2)}% of |F(x) − F(x′)|`);
      // The other baselines converge too (measured well under 1%; a wrong path weight is ≫ 5%).
      for (const baseline of ['blurred', 'noise']) {
        const other = await integratedGradients.explain({ adapter: model.adapter, input: x, target, black, inputRange: [0, 1], params: { steps: 128, baseline } });
        assert.ok(other.stats!.relativeGap < 0.05, `${baseline}: ${(100 * other.stats!.relativeGap).toFixed(2)}%`);
      }
      tf.dispose([x, black]);
    }
  });

  test('every method runs on wasm without leaking, and Guided Grad-CAM uses the last spatial layer', async () => {
    const img = makeShapeImage(mulberry32(97531), 64);
    const x = tf.tensor4d(toUnit(img.pixels), [1, 64, 64, 3]);
    for (const m of GRADIENT_METHODS) {
      await checkHygiene(m, { adapter: model.adapter, input: x, target: logit(img.label), params: m.id === 'ig' ? { steps: 16 } : m.id === 'smoothgrad' ? { samples: 8 } : undefined }, 64, 64);
    }
    const map = await guidedGradCam.explain({ adapter: model.adapter, input: x, target: logit(img.label) });
    assert.equal(map.layer, model.adapter.defaultLayer());
    x.dispose();
  });
});

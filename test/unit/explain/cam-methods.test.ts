/**
 * Known answers for the class-activation-map family: each method against an independent
 * computation (plain JS loops over the activation and a gradient taken separately, a Jacobi
 * eigen-decomposition, Score-CAM's masking done pixel by pixel), the identities that hold on
 * GAP → Dense models (CAM = h·w × Grad-CAM = HiResCAM), and the pointing game on the demo model.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import type { ModelAdapter, Target } from '../../../src/extension/model/types';
import type { Explainer } from '../../../src/extension/explain/explainer';
import { whyNotApplicable } from '../../../src/extension/explain/registry';
import { CAM_METHODS } from '../../../src/extension/explain/methods/cam/cam-family';
import { cam } from '../../../src/extension/explain/methods/cam/cam';
import { gradCam } from '../../../src/extension/explain/methods/cam/gradcam';
import { gradCamPlusPlus } from '../../../src/extension/explain/methods/cam/gradcam-plus-plus';
import { scoreCam, scoreCamWeights } from '../../../src/extension/explain/methods/cam/score-cam';
import { layerCam } from '../../../src/extension/explain/methods/cam/layer-cam';
import { xGradCam } from '../../../src/extension/explain/methods/cam/xgrad-cam';
import { eigenCam } from '../../../src/extension/explain/methods/cam/eigen-cam';
import { hiResCam } from '../../../src/extension/explain/methods/cam/hires-cam';
import { topEigenpair } from '../../../src/extension/explain/methods/cam/power-iteration';
import { CancelledError, UserError } from '../../../src/shared/errors';
import { argmax2d, resizeMap } from '../../../src/shared/map-ops';
import { makeShapeImage, mulberry32, toUnit, type Box } from '../../../demo/synthetic';
import { assertClose, assertNoLeak, pearson, seededArray, useBackend } from '../../helpers/tf-test';
import { branchingModel, gapModel, nestedModel, randomizeWeights } from '../../helpers/models';

/** A positive-ish seeded input [1, h, w, c]. */
const input = (h: number, w: number, c: number, seed: number) =>
  tf.tensor4d(seededArray(h * w * c, seed).map((v) => v + 1), [1, h, w, c]);

/** The activation A and gradient g at a layer as plain arrays, [h·w·c] channels-last. */
interface LayerData { a: Float32Array; g: Float32Array; h: number; w: number; c: number }

function layerData(adapter: ModelAdapter, x: tf.Tensor4D, layer: string, target: Target): LayerData {
  const { activation, grad, scores } = adapter.layerGradient(x, layer, target);
  const [, h, w, c] = activation.shape;
  const r = { a: activation.dataSync() as Float32Array, g: grad.dataSync() as Float32Array, h, w, c };
  tf.dispose([activation, grad, scores]);
  return r;
}

/** relu(Σ_k contribution(k, p)) per pixel p. */
function reluSum(d: LayerData, contribution: (k: number, p: number) => number): Float32Array {
  const out = new Float32Array(d.h * d.w);
  for (let p = 0; p < d.h * d.w; p++) {
    let s = 0;
    for (let k = 0; k < d.c; k++) s += contribution(k, p);
    out[p] = Math.max(0, s);
  }
  return out;
}

/** Per-channel Σ_p f(k, p). */
function channelSums(d: LayerData, f: (k: number, p: number) => number): number[] {
  return Array.from({ length: d.c }, (_, k) => {
    let s = 0;
    for (let p = 0; p < d.h * d.w; p++) s += f(k, p);
    return s;
  });
}

const at = (d: LayerData, v: Float32Array, k: number, p: number) => v[p * d.c + k];

/** Eigenvalues and eigenvectors (columns) of a symmetric matrix by cyclic Jacobi rotations. */
function jacobiEigen(s: number[][]): { values: number[]; vectors: number[][] } {
  const n = s.length;
  const a = s.map((r) => [...r]);
  const v = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j): number => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i][j] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cos = 1 / Math.sqrt(t * t + 1);
        const sin = t * cos;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p], akq = a[k][q];
          a[k][p] = cos * akp - sin * akq;
          a[k][q] = sin * akp + cos * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k], aqk = a[q][k];
          a[p][k] = cos * apk - sin * aqk;
          a[q][k] = sin * apk + cos * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p], vkq = v[k][q];
          v[k][p] = cos * vkp - sin * vkq;
          v[k][q] = sin * vkp + cos * vkq;
        }
      }
    }
  }
  return { values: a.map((r, i) => r[i]), vectors: v };
}

/** conv "feat" (channel 2: zero kernel, bias 0.7, so a constant 0.7) stride 2 → GAP → Dense. */
function constantChannelModel(head: 'softmax' | 'linear'): tfl.LayersModel {
  const m = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'feat' }),
      tfl.layers.globalAveragePooling2d({ name: 'gap' }),
      tfl.layers.dense({ units: 3, activation: head, name: 'out' }),
    ],
  });
  randomizeWeights(m, 31);
  const feat = m.getLayer('feat');
  const [kernel, bias] = feat.getWeights();
  const k = kernel.arraySync() as number[][][][];
  for (const row of k) for (const col of row) for (const inCh of col) inCh[2] = 0;
  const b = bias.arraySync() as number[];
  b[2] = 0.7;
  feat.setWeights([tf.tensor4d(k), tf.tensor1d(b)]);
  return m;
}

describe('CAM methods on small networks (cpu)', () => {
  before(() => useBackend('cpu'));

  test('the family lists its eight methods in order, ids and labels as documented', () => {
    assert.deepEqual(CAM_METHODS.map((m) => m.id), ['cam', 'gradcam', 'gradcampp', 'scorecam', 'layercam', 'xgradcam', 'eigencam', 'hirescam']);
    assert.deepEqual(CAM_METHODS.map((m) => m.label), ['CAM', 'Grad-CAM', 'Grad-CAM++', 'Score-CAM', 'Layer-CAM', 'XGrad-CAM', 'Eigen-CAM', 'HiResCAM']);
    assert.ok(CAM_METHODS.every((m) => m.family === 'cam' && m.needs.spatialLayer));
    assert.deepEqual(CAM_METHODS.filter((m) => m.needs.gradients).map((m) => m.id), ['gradcam', 'gradcampp', 'layercam', 'xgradcam', 'hirescam']);
    assert.deepEqual(CAM_METHODS.filter((m) => m.needs.gapDenseHead).map((m) => m.id), ['cam']);
  });

  test('Grad-CAM++ equals its closed form computed from a hand-written head and tf.grad', async () => {
    // conv "feat" [5, 5, 3] → Flatten → Dense(6, relu) → Dense(3, softmax): the gradient varies
    // over space and depends on A through the hidden ReLUs. Channel 0 reaches nothing, so its
    // gradient is exactly 0 (α must be 0 there, not 0/0).
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [5, 5, 3], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'feat' }),
        tfl.layers.flatten({ name: 'flat' }),
        tfl.layers.dense({ units: 6, activation: 'relu', name: 'hidden' }),
        tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
      ],
    });
    randomizeWeights(model, 5);
    const hidden = model.getLayer('hidden');
    const [w1, b1] = hidden.getWeights();
    const w1z = tf.tidy(() => tf.mul(w1, tf.tensor2d(Array.from({ length: 75 }, (_, r) => (r % 3 === 0 ? 0 : 1)), [75, 1])));
    hidden.setWeights([w1z, b1]);
    const [w2, b2] = model.getLayer('out').getWeights();
    const adapter = new LayersModelAdapter(model);
    const x = input(5, 5, 3, 8);
    for (const c of [0, 2]) {
      // S(A) = logit_c = relu(flat(A) · W1 + b1) · W2[:, c] + b2[c], written out; g = dS/dA by tf.grad.
      const head = (a: tf.Tensor) => tf.sum(tf.slice(tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(tf.reshape(a, [1, -1]), w1z), b1)), w2), b2), [0, c], [1, 1]));
      const a = adapter.activations(x, 'feat');
      const g = tf.grad(head)(a);
      const d: LayerData = { a: a.dataSync() as Float32Array, g: g.dataSync() as Float32Array, h: 5, w: 5, c: 3 };
      tf.dispose([a, g]);
      const sumA = channelSums(d, (k, p) => at(d, d.a, k, p));
      const weights = channelSums(d, (k, p) => {
        const gi = at(d, d.g, k, p);
        const den = 2 * gi * gi + sumA[k] * gi ** 3;
        const alpha = gi === 0 || den === 0 ? 0 : (gi * gi) / den;
        return alpha * Math.max(0, gi);
      });
      assert.equal(weights[0], 0, 'the unused channel gets weight 0');
      assert.ok(weights.slice(1).every((v) => v !== 0), 'the other channels count');
      const expected = reluSum(d, (k, p) => weights[k] * at(d, d.a, k, p));
      assert.ok(expected.some((v) => v > 0), 'a non-trivial map');
      // A probability target too: Grad-CAM++ is derived for the logit and uses it regardless.
      for (const space of ['logit', 'probability'] as const) {
        const map = await gradCamPlusPlus.explain({ adapter, input: x, target: { index: c, space } });
        assert.deepEqual([map.height, map.width, map.layer], [5, 5, 'feat']);
        assertClose(map.data, expected, 1e-5, `Grad-CAM++ class ${c} (${space} target)`);
      }
    }
    tf.dispose([x, w1z]);
  });

  test('on a GAP → Dense model CAM uses the dense kernel and equals h·w × Grad-CAM, and HiResCAM equals Grad-CAM', async () => {
    const model = gapModel();
    const adapter = new LayersModelAdapter(model);
    const x = input(12, 12, 3, 4);
    const kernel = model.getLayer('pred').getWeights()[0].dataSync(); // [8, 4]
    let clipped = 0;
    for (let c = 0; c < 4; c++) {
      const target: Target = { index: c, space: 'logit' };
      const d = layerData(adapter, x, 'feat', target);
      const expected = reluSum(d, (k, p) => kernel[k * 4 + c] * at(d, d.a, k, p));
      const camMap = await cam.explain({ adapter, input: x, target });
      assert.deepEqual([camMap.height, camMap.width, camMap.layer], [12, 12, 'feat']);
      assertClose(camMap.data, expected, 1e-5, `CAM class ${c} from the kernel column`);
      // dS/dA_k,ij = w_k / (h·w) everywhere: Grad-CAM's weights are CAM's divided by h·w = 144, and
      // HiResCAM's elementwise product, with the same constant gradient, is Grad-CAM itself.
      const grad = await gradCam.explain({ adapter, input: x, target });
      const hires = await hiResCam.explain({ adapter, input: x, target });
      const nonzero = [...camMap.data.keys()].filter((i) => camMap.data[i] > 1e-6 * Math.max(...camMap.data));
      assert.ok(nonzero.length > 0, `class ${c}: some pixels positive`);
      clipped += 144 - nonzero.length;
      for (const i of nonzero) assert.ok(Math.abs(camMap.data[i] / grad.data[i] - 144) < 1e-3, `CAM / Grad-CAM = ${camMap.data[i] / grad.data[i]} at ${i}`);
      assertClose(grad.data.map((v) => v * 144), camMap.data, 1e-5, 'h·w × Grad-CAM = CAM');
      assertClose(hires.data, grad.data, 1e-5, 'HiResCAM = Grad-CAM');
    }
    assert.ok(clipped > 0, 'the ReLU clips some pixels: the identities hold on the clipped maps too');
    x.dispose();
  });

  test('CAM without a GAP → Dense head is not applicable, with the reason, and explain throws a UserError', async () => {
    const adapter = new LayersModelAdapter(nestedModel());
    const reason = 'CAM needs a GlobalAveragePooling2D → Dense head after "bout"; it is followed by Flatten "flatten"';
    assert.equal(await assertNoLeak(() => whyNotApplicable(cam, adapter)), reason);
    assert.equal(whyNotApplicable(cam, new LayersModelAdapter(gapModel())), undefined);
    const x = input(10, 10, 3, 2);
    await assertNoLeak(() => assert.rejects(cam.explain({ adapter, input: x, target: { index: 0, space: 'logit' } }), (e: Error) => e instanceof UserError && e.message === reason));
    x.dispose();
  });

  test('Layer-CAM, XGrad-CAM, HiResCAM and Grad-CAM equal their formulas on (A, g) from layerGradient', async () => {
    const cases = [
      { adapter: new LayersModelAdapter(branchingModel()), size: 8, layer: 'add' },
      { adapter: new LayersModelAdapter(branchingModel()), size: 8, layer: 'c1' },
      { adapter: new LayersModelAdapter(nestedModel()), size: 10, layer: 'bout' },
    ];
    for (const { adapter, size, layer } of cases) {
      const x = input(size, size, 3, 13);
      for (const target of [{ index: 0, space: 'logit' }, { index: 2, space: 'probability' }] as Target[]) {
        const d = layerData(adapter, x, layer, target);
        const what = `${layer}, class ${target.index} (${target.space})`;
        const A = (k: number, p: number) => at(d, d.a, k, p);
        const G = (k: number, p: number) => at(d, d.g, k, p);
        const meanG = channelSums(d, (k, p) => G(k, p) / (d.h * d.w));
        const sumA = channelSums(d, A);
        const xgradW = channelSums(d, (k, p) => (A(k, p) / (sumA[k] + 1e-7)) * G(k, p));
        const expected: [Explainer, Float32Array][] = [
          [layerCam, reluSum(d, (k, p) => Math.max(0, G(k, p)) * A(k, p))],
          [xGradCam, reluSum(d, (k, p) => xgradW[k] * A(k, p))],
          [hiResCam, reluSum(d, (k, p) => G(k, p) * A(k, p))],
          [gradCam, reluSum(d, (k, p) => meanG[k] * A(k, p))],
        ];
        for (const [method, ref] of expected) {
          assert.ok(ref.some((v) => v > 0), `${method.label} ${what}: a non-trivial reference`);
          const map = await method.explain({ adapter, input: x, target, layer });
          assert.deepEqual([map.height, map.width, map.layer], [d.h, d.w, layer]);
          assertClose(map.data, ref, 1e-5, `${method.label} ${what}`);
        }
      }
      x.dispose();
    }
  });

  test('power iteration finds the top eigenpair of a matrix with known eigenvectors', () => {
    // K = Q diag(5, 2, 1, 0.25) Qᵀ with Q = I − 2uuᵀ/‖u‖² (a reflection, orthogonal).
    const u = [1, -2, 0.5, 3];
    const uu = u.reduce((s, v) => s + v * v, 0);
    const q = u.map((ui, i) => u.map((uj, j) => (i === j ? 1 : 0) - (2 * ui * uj) / uu));
    const lambda = [5, 2, 1, 0.25];
    const k = new Float64Array(16);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) for (let m = 0; m < 4; m++) k[i * 4 + j] += q[i][m] * lambda[m] * q[j][m];
    const top = topEigenpair(k, 4, 1);
    assert.ok(top.converged);
    assert.ok(Math.abs(top.value - 5) < 1e-9, `λ = ${top.value}`);
    const v0 = q.map((r) => r[0]);
    const cos = top.vector.reduce((s, v, i) => s + v * v0[i], 0);
    assert.ok(Math.abs(Math.abs(cos) - 1) < 1e-9, `|cos| = ${Math.abs(cos)}`);
    assert.equal(topEigenpair(new Float64Array(9), 3, 1).value, 0, 'the zero matrix');
  });

  test('Eigen-CAM is the projection on the first principal component, from a Jacobi eigen-decomposition', async () => {
    // n = h·w > c (the c × c Gram) and n < c (the n × n one).
    const wide = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [6, 6, 3], filters: 10, kernelSize: 3, strides: 2, activation: 'relu', name: 'wide' }),
        tfl.layers.globalAveragePooling2d({ name: 'gap' }),
        tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
      ],
    });
    randomizeWeights(wide, 9);
    const cases = [
      { adapter: new LayersModelAdapter(gapModel()), x: input(12, 12, 3, 21), layer: 'feat' },
      { adapter: new LayersModelAdapter(gapModel()), x: input(12, 12, 3, 22), layer: 'dw' },
      { adapter: new LayersModelAdapter(wide), x: input(6, 6, 3, 23), layer: 'wide' },
    ];
    for (const { adapter, x, layer } of cases) {
      const act = adapter.activations(x, layer);
      const [, h, w, c] = act.shape;
      const a = act.dataSync();
      act.dispose();
      const n = h * w;
      const colMean = Array.from({ length: c }, (_, k) => { let s = 0; for (let p = 0; p < n; p++) s += a[p * c + k]; return s / n; });
      const m = (p: number, k: number) => a[p * c + k] - colMean[k];
      const cov = Array.from({ length: c }, (_, i) => Array.from({ length: c }, (_, j) => { let s = 0; for (let p = 0; p < n; p++) s += m(p, i) * m(p, j); return s; }));
      const { values, vectors } = jacobiEigen(cov);
      const order = values.map((v, i) => [v, i]).sort((p, q) => q[0] - p[0]);
      const [l1, top] = order[0];
      assert.ok(order[1][0] < 0.9 * l1, `${layer}: a clear first component (λ₂/λ₁ = ${order[1][0] / l1})`);
      const projection = Array.from({ length: n }, (_, p) => { let s = 0; for (let k = 0; k < c; k++) s += m(p, k) * vectors[k][top]; return s; });
      const channelMean = Array.from({ length: n }, (_, p) => { let s = 0; for (let k = 0; k < c; k++) s += a[p * c + k]; return s / c; });
      const sign = pearson(projection, channelMean) < 0 ? -1 : 1;
      const expected = projection.map((v) => Math.max(0, sign * v));
      const map = await eigenCam.explain({ adapter, input: x, target: { index: 0, space: 'logit' }, layer });
      assert.deepEqual([map.height, map.width, map.layer], [h, w, layer]);
      assert.ok(expected.some((v) => v > 0) && expected.some((v) => v === 0), `${layer}: a non-trivial map`);
      assertClose(map.data, expected, 1e-4, `Eigen-CAM at ${layer} (${n} pixels, ${c} channels)`);
      const total = values.reduce((s, v) => s + v, 0);
      assert.ok(Math.abs(map.stats!.explainedVariance - l1 / total) < 1e-4, `explained variance ${map.stats!.explainedVariance} vs ${l1 / total}`);
      // Not class specific: another target gives the same map.
      const other = await eigenCam.explain({ adapter, input: x, target: { index: 2, space: 'logit' }, layer });
      assert.deepEqual(other.data, map.data);
      x.dispose();
    }
  });

  for (const head of ['softmax', 'linear'] as const) {
    test(`Score-CAM (${head} head): weights are the softmax of each mask's increase of confidence, sum to 1, and a constant channel gives no NaN`, async () => {
      const adapter = new LayersModelAdapter(constantChannelModel(head));
      const x = input(8, 8, 3, 17);
      // The paper scores probabilities behind a softmax head (whatever the target's space), logits otherwise.
      const space: Target['space'] = head === 'softmax' ? 'probability' : 'logit';
      for (const black of [undefined, tf.fill([1, 8, 8, 3], -0.5) as tf.Tensor4D]) {
        const target: Target = { index: 1, space: 'logit' };
        const act = adapter.activations(x, 'feat') as tf.Tensor4D; // [1, 4, 4, 4]
        const req = { adapter, input: x, target, black };
        const { weights, scores } = await assertNoLeak(() => scoreCamWeights(req, act));
        // Reference, pixel by pixel: upsample each channel with resizeMap (JS), min–max normalise,
        // mask black + (x − black)·mask, score one image at a time; the weights as the paper
        // defines them, the softmax of the increase over the black image's score.
        const a = act.dataSync();
        const xs = x.dataSync() as Float32Array;
        const bs = black ? (black.dataSync() as Float32Array) : new Float32Array(xs.length);
        const scoreOf = (pixels: Float32Array) => tf.tidy(() => adapter.score(tf.tensor4d(pixels, [1, 8, 8, 3]), { index: 1, space }).dataSync()[0]);
        const baseline = scoreOf(Float32Array.from(bs));
        const refScores = Array.from({ length: 4 }, (_, k) => {
          const up = resizeMap(Array.from({ length: 16 }, (_, p) => a[p * 4 + k]), 4, 4, 8, 8);
          const lo = Math.min(...up), hi = Math.max(...up);
          return scoreOf(xs.map((v, i) => bs[i] + (v - bs[i]) * ((up[Math.floor(i / 3)] - lo) / (hi - lo + 1e-8))));
        });
        const e = refScores.map((s) => Math.exp(s - baseline));
        const refWeights = e.map((v) => v / e.reduce((s, t) => s + t, 0));
        assertClose(scores, refScores, 1e-5, `masked scores (black ${black ? '−0.5' : '0'})`);
        assertClose(weights, refWeights, 1e-5, 'weights');
        assert.ok(Math.abs(scores[2] - baseline) < 1e-6, 'the constant channel masks everything out: the black image\'s score');
        assert.ok(weights.every(Number.isFinite));
        assert.ok(Math.abs(weights.reduce((s, v) => s + v, 0) - 1) < 1e-6, 'weights sum to 1');
        // The batch size changes nothing (4 masks in batches of 3: a full batch and a partial one).
        const small = await scoreCamWeights({ ...req, batchSize: 3 }, act);
        assertClose(small.weights, weights, 1e-6, 'batch size 3');
        // The map: relu(Σ_k w_k A_k), finite everywhere.
        const map = await scoreCam.explain(req);
        assert.deepEqual([map.height, map.width, map.layer], [4, 4, 'feat']);
        assert.ok(map.data.every(Number.isFinite), 'no NaN in the map');
        const expected = Float32Array.from({ length: 16 }, (_, p) => Math.max(0, weights.reduce((s, w, k) => s + w * a[p * 4 + k], 0)));
        assertClose(map.data, expected, 1e-5, 'map');
        tf.dispose([act, black ?? []]);
      }
      x.dispose();
    });
  }

  test('every CAM method leaves no tensors behind, reports progress and stops on an aborted signal', async () => {
    const adapter = new LayersModelAdapter(gapModel());
    const x = input(12, 12, 3, 6);
    const target: Target = { index: 3, space: 'logit' };
    for (const method of CAM_METHODS) {
      const progress: number[] = [];
      const map = await assertNoLeak(() => method.explain({ adapter, input: x, target, batchSize: 3, onProgress: (f) => progress.push(f) }));
      assert.deepEqual([map.height, map.width, map.layer], [12, 12, 'feat'], method.id);
      assert.ok(map.data.every((v) => Number.isFinite(v) && v >= 0), `${method.id}: finite, non-negative`);
      assert.equal(progress[progress.length - 1], 1, `${method.id} ends its progress at 1`);
      assert.ok(progress.every((f, i) => i === 0 || f >= progress[i - 1]), `${method.id}: progress never goes back`);
      const aborted = new AbortController();
      aborted.abort();
      await assertNoLeak(() => assert.rejects(method.explain({ adapter, input: x, target, signal: aborted.signal }), CancelledError, method.id));
    }
    // Score-CAM stops between batches: cancelled after its first batch of 2 masks.
    const mid = new AbortController();
    let calls = 0;
    await assertNoLeak(() => assert.rejects(scoreCam.explain({
      adapter, input: x, target, batchSize: 2, signal: mid.signal, onProgress: () => { calls++; mid.abort(); },
    }), CancelledError));
    assert.equal(calls, 1, 'one batch ran');
    x.dispose();
  });

  test('a batch of images, or an out-of-range target, is a UserError', async () => {
    const adapter = new LayersModelAdapter(gapModel());
    const batch = tf.concat([input(12, 12, 3, 1), input(12, 12, 3, 2)]) as tf.Tensor4D;
    const one = input(12, 12, 3, 3);
    for (const method of CAM_METHODS) {
      await assert.rejects(method.explain({ adapter, input: batch, target: { index: 0, space: 'logit' } }), UserError, method.id);
    }
    for (const method of CAM_METHODS.filter((m) => m.id !== 'eigencam')) {
      await assert.rejects(method.explain({ adapter, input: one, target: { index: 4, space: 'logit' } }), (e: Error) => e instanceof UserError && /out of range/.test(e.message), method.id);
    }
    tf.dispose([batch, one]);
  });
});

describe('CAM methods on the trained demo model (wasm)', () => {
  const ROOT = path.resolve(__dirname, '../../../..');
  let model: LoadedModel;
  before(async () => {
    await useBackend('wasm');
    model = await loadModel(path.join(ROOT, 'demo', 'models', 'shapes'));
  });

  const inside = (p: { x: number; y: number }, b: Box, margin: number) =>
    p.x >= b.x - margin && p.x < b.x + b.w + margin && p.y >= b.y - margin && p.y < b.y + b.h + margin;

  // Measured on 100 fresh images of this stream: every one of these methods peaks inside the box
  // (margin 2 px) on 100/100. Eigen-CAM is not class specific and is left out.
  const CLASS_DISCRIMINATIVE = ['cam', 'gradcam', 'gradcampp', 'scorecam', 'layercam', 'xgradcam', 'hirescam'];

  test('each class-discriminative CAM method peaks inside the shape on ≥ 9 of 10 fresh images', async (t) => {
    const size = 64;
    const rng = mulberry32(13579); // a stream neither the training script nor other tests use
    const images = Array.from({ length: 10 }, () => makeShapeImage(rng, size));
    const before = tf.memory().numTensors;
    for (const id of CLASS_DISCRIMINATIVE) {
      const method = CAM_METHODS.find((m) => m.id === id)!;
      let hits = 0;
      for (const img of images) {
        const x = tf.tensor4d(toUnit(img.pixels), [1, size, size, 3]);
        const map = await method.explain({ adapter: model.adapter, input: x, target: { index: img.label, space: 'logit' } });
        x.dispose();
        assert.equal(map.layer, 'last_conv');
        const up = resizeMap(map.data, map.height, map.width, size, size);
        if (inside(argmax2d(up, size, size), img.box, 2)) hits++;
      }
      t.diagnostic(`${method.label}: ${hits}/10 peaks inside the box`);
      assert.ok(hits >= 9, `${method.label} pointing game: ${hits}/10`);
    }
    assert.equal(tf.memory().numTensors, before, 'numTensors unchanged');
  });
});

/**
 * The faithfulness metrics on known answers: deletion / insertion curves computed by hand on a
 * 2 × 2 linear model, ROAD's imputation on images it must reproduce exactly, the pointing game's
 * tolerance, and, on the trained demo model, Grad-CAM beating the random map.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import type { Target } from '../../../src/extension/model/types';
import { deletionCurve, deletionInsertion, insertionBlurSigma, insertionCurve } from '../../../src/extension/metrics/deletion-insertion';
import { road } from '../../../src/extension/metrics/road';
import { noisyLinearImputation } from '../../../src/extension/metrics/linear-imputation';
import { pointingGame, pointingTolerance } from '../../../src/extension/metrics/pointing-game';
import { importanceOrder } from '../../../src/extension/metrics/pixel-order';
import { trapezoidAuc } from '../../../src/extension/metrics/curve-auc';
import { gaussianSource, mulberry32 as rngOf } from '../../../src/extension/util/seeded-random';
import { gaussianBlur } from '../../../src/extension/explain/blur';
import { gradCam } from '../../../src/extension/explain/methods/cam/gradcam';
import { randomBaseline } from '../../../src/extension/explain/methods/perturbation/random-baseline';
import { CancelledError, UserError } from '../../../src/shared/errors';
import { resizeMap } from '../../../src/shared/map-ops';
import { makeBackgroundImage, makeShapeImage, mulberry32, toUnit } from '../../../demo/synthetic';
import { assertClose, assertNoLeak, seededArray, useBackend } from '../../helpers/tf-test';

/** Flatten → Dense(units) with the given kernel [h·w·c, units] and bias. */
function denseAdapter(shape: [number, number, number], kernel: Float32Array, bias: number[]): LayersModelAdapter {
  const units = bias.length;
  const m = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: shape }), tfl.layers.dense({ units, name: 'dense' })] });
  tf.tidy(() => m.getLayer('dense').setWeights([tf.tensor2d(kernel, [kernel.length / units, units]), tf.tensor1d(bias)]));
  return new LayersModelAdapter(m);
}

const LOGIT: Target = { index: 0, space: 'logit' };

describe('on cpu: known answers', () => {
  before(() => useBackend('cpu'));

  test('pixel order: by decreasing saliency, ties by index, NaN last', () => {
    assert.deepEqual([...importanceOrder([0.4, 0.6, 0.6, 0.4, NaN, 1])], [5, 1, 2, 0, 3, 4]);
  });

  test('deletion on a 2 × 2 linear model with saliency w ⊙ x: the hand-computed curve and AUC', async () => {
    // f = 1·x0 + 2·x1 + 3·x2 + 4·x3 + 0.5; x = (0.4, 0.3, 0.2, 0.1): f(x) = 2.5.
    const adapter = denseAdapter([2, 2, 1], new Float32Array([1, 2, 3, 4]), [0.5]);
    const x = tf.tensor4d([0.4, 0.3, 0.2, 0.1], [1, 2, 2, 1]);
    // w ⊙ x = (0.4, 0.6, 0.6, 0.4): pixels in the order 1, 2, 0, 3.
    const saliency = new Float32Array([0.4, 0.6, 0.6, 0.4]);
    const black = tf.fill([1, 2, 2, 1], 0.1) as tf.Tensor4D;
    try {
      const zero = await assertNoLeak(() => deletionCurve(adapter, x, LOGIT, saliency, { steps: 4 }));
      // Each step sets the next pixel to 0: 2.5 − 0.6, − 0.6, − 0.4, − 0.4.
      assertClose(zero.curve, [2.5, 1.9, 1.3, 0.9, 0.5], 1e-6, 'curve');
      // Trapezoids of width 1/4: (2.5 + 1.9 + 1.9 + 1.3 + 1.3 + 0.9 + 0.9 + 0.5) / 8 = 1.4.
      assert.ok(Math.abs(zero.auc - 1.4) < 1e-6, `AUC ${zero.auc}`);
      for (let k = 1; k < zero.curve.length; k++) assert.ok(zero.curve[k] <= zero.curve[k - 1], 'non-increasing');
      // With black = 0.1: 2.5 − 2·0.2, − 3·0.1, − 1·0.3, − 4·0.
      const grey = await assertNoLeak(() => deletionCurve(adapter, x, LOGIT, saliency, { steps: 4, black }));
      assertClose(grey.curve, [2.5, 2.1, 1.8, 1.5, 1.5], 1e-6, 'curve to 0.1');
      assert.ok(Math.abs(grey.auc - (2.5 + 2 * 2.1 + 2 * 1.8 + 2 * 1.5 + 1.5) / 8) < 1e-6);
      // Two steps: chunks of two pixels.
      assertClose((await deletionCurve(adapter, x, LOGIT, saliency, { steps: 2 })).curve, [2.5, 1.3, 0.5], 1e-6, 'two steps');
    } finally {
      tf.dispose([x, black]);
      adapter.dispose();
    }
  });

  test('deletion is non-increasing for positive weights and saliency w ⊙ x; insertion runs from f(blurred) to f(x)', async () => {
    const [h, w, c] = [6, 5, 3];
    const kernel = seededArray(h * w * c, 41).map((v) => Math.abs(v) + 0.01);
    const adapter = denseAdapter([h, w, c], kernel, [-0.2]);
    const xData = seededArray(h * w * c, 42).map((v) => (v + 1) / 2); // [0, 1)
    const x = tf.tensor4d(xData, [1, h, w, c]);
    const saliency = Float32Array.from({ length: h * w }, (_, p) => kernel[3 * p] * xData[3 * p] + kernel[3 * p + 1] * xData[3 * p + 1] + kernel[3 * p + 2] * xData[3 * p + 2]);
    const f = (img: ArrayLike<number>) => Array.from(img).reduce((s, v, i) => s + v * kernel[i], -0.2);
    try {
      const del = await assertNoLeak(() => deletionCurve(adapter, x, LOGIT, saliency, { batchSize: 5 }));
      assert.equal(del.curve.length, 33);
      for (let k = 1; k < del.curve.length; k++) assert.ok(del.curve[k] <= del.curve[k - 1] + 1e-6, `step ${k}: ${del.curve[k - 1]} → ${del.curve[k]}`);
      assert.ok(Math.abs(del.curve[0] - f(xData)) < 1e-5 && Math.abs(del.curve[32] + 0.2) < 1e-6);

      const sigma = 1.5;
      const blurred = tf.tidy(() => gaussianBlur(x, sigma).dataSync());
      const ins = await assertNoLeak(() => insertionCurve(adapter, x, LOGIT, saliency, { steps: 10, blurSigma: sigma }));
      assert.equal(ins.curve.length, 11);
      assert.ok(Math.abs(ins.curve[0] - f(blurred)) < 1e-5, 'starts at f(blurred)');
      assert.ok(Math.abs(ins.curve[10] - f(xData)) < 1e-5, 'ends at f(x)');
      // In between: the blurred image with the top round(k·30/10) pixels put back.
      const order = importanceOrder(saliency);
      for (let k = 0; k <= 10; k++) {
        const img = Float32Array.from(blurred);
        for (const p of order.slice(0, 3 * k)) for (let ch = 0; ch < 3; ch++) img[3 * p + ch] = xData[3 * p + ch];
        assert.ok(Math.abs(ins.curve[k] - f(img)) < 1e-5, `insertion step ${k}`);
      }
      assert.ok(Math.abs(ins.auc - trapezoidAuc(Array.from({ length: 11 }, (_, k) => k / 10), ins.curve)) < 1e-9);

      // Both at once, batches straddling the two curves: the same numbers.
      const both = await assertNoLeak(() => deletionInsertion(adapter, x, LOGIT, saliency, { steps: 10, blurSigma: sigma, batchSize: 4 }));
      assertClose(both.insertion.curve, ins.curve, 1e-6, 'insertion');
      assertClose(both.deletion.curve, (await deletionCurve(adapter, x, LOGIT, saliency, { steps: 10 })).curve, 1e-6, 'deletion');
      assert.equal(insertionBlurSigma(224, 300), 5);
    } finally {
      x.dispose();
      adapter.dispose();
    }
  });

  test('ROAD imputation: a linear ramp is reproduced exactly in interior holes, a constant stays constant', () => {
    const [h, w, c] = [9, 10, 2];
    const ramp = new Float32Array(h * w * c);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      ramp[(y * w + x) * c] = 0.1 * y - 0.05 * x + 0.3;
      ramp[(y * w + x) * c + 1] = -0.02 * y + 0.07 * x;
    }
    // A 4 × 5 block, an L-shaped hole and a lone pixel, none on the border.
    const removed = new Uint8Array(h * w);
    for (let y = 2; y < 6; y++) for (let x = 2; x < 7; x++) removed[y * w + x] = 1;
    for (const [y, x] of [[7, 1], [7, 2], [6, 1], [1, 8]]) removed[y * w + x] = 1;
    const filled = noisyLinearImputation(ramp, h, w, c, removed);
    assertClose(filled, ramp, 1e-5, 'ramp');
    // A constant stays constant wherever the holes are, borders and corners included.
    const constant = new Float32Array(h * w * c).fill(0.7);
    const most = Uint8Array.from({ length: h * w }, (_, i) => (i % 7 === 3 ? 0 : 1));
    assertClose(noisyLinearImputation(constant, h, w, c, most), constant, 1e-6, 'constant');
  });

  test('ROAD imputation: every removed pixel is the renormalised weighted mean of its neighbours, on a large blob hole too', () => {
    const [h, w, c] = [96, 80, 3];
    const img = Float32Array.from(seededArray(h * w * c, 13));
    // 90% of the pixels, nearest to a point near the top edge first (a large blob that reaches
    // the border), then every 7th pixel as well: holes of every size.
    const dist = Float32Array.from({ length: h * w }, (_, p) => Math.hypot(Math.floor(p / w) - 10, (p % w) - 50));
    const order = importanceOrder(dist.map((d) => -d));
    const removed = new Uint8Array(h * w);
    order.slice(0, Math.round(0.9 * h * w)).forEach((p) => { removed[p] = 1; });
    for (let p = 0; p < h * w; p += 7) removed[p] = 1;
    const out = noisyLinearImputation(img, h, w, c, removed);
    let worst = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (!removed[p]) {
        for (let ch = 0; ch < c; ch++) assert.equal(out[p * c + ch], img[p * c + ch]);
        continue;
      }
      for (let ch = 0; ch < c; ch++) {
        let sum = 0;
        let weight = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
          if ((dy === 0 && dx === 0) || y + dy < 0 || y + dy >= h || x + dx < 0 || x + dx >= w) continue;
          const wt = dy === 0 || dx === 0 ? 1 / 6 : 1 / 12;
          sum += wt * out[((y + dy) * w + x + dx) * c + ch];
          weight += wt;
        }
        worst = Math.max(worst, Math.abs(out[p * c + ch] - sum / weight));
      }
    }
    assert.ok(worst < 1e-5, `largest deviation from the neighbour mean ${worst}`);
  });

  test('ROAD imputation: hand-solved systems, and noise of the requested size on removed pixels only', () => {
    // 3 × 3, only the centre removed: the weighted mean of its neighbours.
    const img = Float32Array.from([1, 2, 3, 4, 0, 6, 7, 8, 10]);
    const centre = new Uint8Array(9);
    centre[4] = 1;
    const expectedCentre = (2 + 4 + 6 + 8) / 6 + (1 + 3 + 7 + 10) / 12;
    assertClose(noisyLinearImputation(img, 3, 3, 1, centre), [1, 2, 3, 4, expectedCentre, 6, 7, 8, 10], 1e-6, 'centre');
    // A corner: 2 direct + 1 diagonal neighbour, weights renormalised by 1/6 + 1/6 + 1/12 = 5/12.
    const corner = new Uint8Array(9);
    corner[0] = 1;
    assert.ok(Math.abs(noisyLinearImputation(img, 3, 3, 1, corner)[0] - ((2 + 4) / 6 + 0 / 12) / (5 / 12)) < 1e-6);
    // One row a ? ? d: u1 = (a + u2)/2, u2 = (u1 + d)/2 ⇒ u1 = (2a + d)/3, u2 = (a + 2d)/3.
    const row = noisyLinearImputation([3, 99, 99, 9], 1, 4, 1, Uint8Array.from([0, 1, 1, 0]));
    assertClose(row, [3, 5, 7, 9], 1e-6, 'row');

    const [h, w] = [40, 50];
    const removed = Uint8Array.from({ length: h * w }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const base = Float32Array.from(seededArray(h * w, 12));
    const clean = noisyLinearImputation(base, h, w, 1, removed);
    const noisy = noisyLinearImputation(base, h, w, 1, removed, 0.05, gaussianSource(rngOf(3)));
    let ss = 0;
    let n = 0;
    for (let i = 0; i < h * w; i++) {
      if (removed[i]) {
        ss += (noisy[i] - clean[i]) ** 2;
        n++;
      } else assert.equal(noisy[i], base[i], 'known pixels are untouched');
    }
    const std = Math.sqrt(ss / n);
    assert.ok(Math.abs(std - 0.05) < 0.005, `noise std ${std} (${n} pixels)`);
    assert.deepEqual(noisyLinearImputation(base, h, w, 1, removed, 0.05, gaussianSource(rngOf(3))), noisy);
  });

  test('ROAD on a linear model: the true attribution removes score faster (MoRF) than its reverse', async () => {
    const [h, w, c] = [8, 8, 3];
    const kernel = seededArray(h * w * c, 51);
    const adapter = denseAdapter([h, w, c], kernel, [0.1]);
    const xData = seededArray(h * w * c, 52).map((v) => (v + 1) / 2);
    const x = tf.tensor4d(xData, [1, h, w, c]);
    // Removing a pixel replaces it by about the local mean (≈ 0.5 for this noise image), so its
    // true effect is Σ_c w_c (x_c − 0.5).
    const truth = Float32Array.from({ length: h * w }, (_, p) => [0, 1, 2].reduce((s, ch) => s + kernel[3 * p + ch] * (xData[3 * p + ch] - 0.5), 0));
    const reversed = truth.map((v) => -v);
    try {
      const a = await assertNoLeak(() => road(adapter, x, LOGIT, truth, { seed: 4, batchSize: 5 }));
      const b = await road(adapter, x, LOGIT, reversed, { seed: 4 });
      assert.deepEqual(a.fractions, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
      assert.equal(a.morf.curve.length, 9);
      for (let k = 0; k < 9; k++) {
        assert.ok(a.morf.curve[k] < b.morf.curve[k], `${a.fractions[k]}: MoRF ${a.morf.curve[k]} ≥ reversed ${b.morf.curve[k]}`);
        assert.ok(a.lerf.curve[k] > a.morf.curve[k], 'LeRF above MoRF');
      }
      assert.ok(a.morf.auc < b.morf.auc && a.lerf.auc > b.lerf.auc);
      assert.ok(Math.abs(a.morf.auc - trapezoidAuc(a.fractions, a.morf.curve)) < 1e-12);
      // Noise 0: MoRF at 10% is f of the image imputed by hand.
      const quiet = await road(adapter, x, LOGIT, truth, { noiseStd: 0, percentages: [10, 50] });
      const removed = new Uint8Array(h * w);
      importanceOrder(truth).slice(0, Math.round(0.1 * h * w)).forEach((p) => { removed[p] = 1; });
      const img = noisyLinearImputation(xData, h, w, c, removed);
      assert.ok(Math.abs(quiet.morf.curve[0] - img.reduce((s, v, i) => s + v * kernel[i], 0.1)) < 1e-5);
      // Same seed, same curves.
      assert.deepEqual((await road(adapter, x, LOGIT, truth, { seed: 4 })).morf.curve, a.morf.curve);
      await assert.rejects(road(adapter, x, LOGIT, truth, { percentages: [50, 20] }), UserError);
      await assert.rejects(road(adapter, x, LOGIT, new Float32Array(10)), (e) => e instanceof UserError && /64 pixels/.test(e.message));
    } finally {
      x.dispose();
      adapter.dispose();
    }
  });

  test('metrics cancel cleanly, before the start and between batches, leaking nothing', async () => {
    const adapter = denseAdapter([4, 4, 3], seededArray(48, 61), [0]);
    const x = tf.tensor4d(seededArray(48, 62), [1, 4, 4, 3]);
    const saliency = seededArray(16, 63);
    const runs = {
      deletionInsertion: (o: { signal: AbortSignal; onProgress?: (f: number) => void }) => deletionInsertion(adapter, x, LOGIT, saliency, { ...o, batchSize: 4 }),
      road: (o: { signal: AbortSignal; onProgress?: (f: number) => void }) => road(adapter, x, LOGIT, saliency, { ...o, batchSize: 4 }),
    };
    try {
      for (const [name, run] of Object.entries(runs)) {
        const aborted = new AbortController();
        aborted.abort();
        await assertNoLeak(() => assert.rejects(run({ signal: aborted.signal }), CancelledError, name));
        const ctrl = new AbortController();
        let calls = 0;
        await assertNoLeak(() => assert.rejects(run({ signal: ctrl.signal, onProgress: () => { calls++; ctrl.abort(); } }), CancelledError, name));
        assert.equal(calls, 1, `${name} stopped at the next check`);
      }
    } finally {
      x.dispose();
      adapter.dispose();
    }
  });

  test('pointing game: hits, misses, the tolerance and ties', () => {
    assert.equal(pointingTolerance(224, 224), 15);
    assert.equal(pointingTolerance(64, 80), 4); // round(4.29)
    assert.equal(pointingTolerance(8, 8), 1); // round(0.54) = 1, and at least 1 anyway
    assert.equal(pointingTolerance(4, 4), 1);
    const [h, w] = [64, 64];
    const map = new Float32Array(h * w);
    map[30 * w + 20] = 1; // peak at x = 20, y = 30
    const box = (x: number, y: number) => ({ x, y, w: 10, h: 5 });
    assert.deepEqual(pointingGame(map, h, w, box(15, 28), 0), { hit: true, peak: { x: 20, y: 30 } });
    // Box columns 24..33: 4 px to the right of the peak, exactly the tolerance at 64 px.
    assert.equal(pointingGame(map, h, w, box(24, 28)).hit, true);
    assert.equal(pointingGame(map, h, w, box(25, 28)).hit, false);
    assert.equal(pointingGame(map, h, w, box(24, 28), 3).hit, false);
    // Rows 31..35 below the peak; 35..39 is 5 rows away.
    assert.equal(pointingGame(map, h, w, box(18, 31), 0).hit, false);
    assert.equal(pointingGame(map, h, w, box(18, 31)).hit, true);
    assert.equal(pointingGame(map, h, w, box(18, 35)).hit, false);
    // Box columns 6..15 end 5 px left of the peak: outside even with the tolerance.
    assert.equal(pointingGame(map, h, w, box(6, 28)).hit, false);
    assert.equal(pointingGame(map, h, w, box(7, 28)).hit, true);
    // Ties: any maximum inside is a hit, and is the peak reported.
    map[2 * w + 2] = 1;
    assert.deepEqual(pointingGame(map, h, w, box(15, 28), 0), { hit: true, peak: { x: 20, y: 30 } });
    assert.deepEqual(pointingGame(map, h, w, box(40, 50), 0), { hit: false, peak: { x: 2, y: 2 } });
    map[3] = NaN;
    assert.equal(pointingGame(map, h, w, box(15, 28), 0).hit, true, 'NaN is ignored');
    assert.throws(() => pointingGame(map, h, w, { x: 0, y: 0, w: 0, h: 3 }), UserError);
  });
});

describe('on wasm: the trained demo model', () => {
  let model: LoadedModel;
  before(async () => {
    await useBackend('wasm');
    model = await loadModel(path.resolve(__dirname, '../../../..', 'demo', 'models', 'shapes'));
  });

  /**
   * The brief for these metrics expected Grad-CAM's deletion AUC to beat the random map's on ≥ 90%
   * of fresh images. It does not (58% measured): deleting Grad-CAM's top pixels paints a black
   * blob over the shape, and on this data set a black disc or square is itself a circle or a
   * square (next test), so the score of those classes stays up while the map is right. Deletion
   * still wins on triangles, which a smooth blob cannot draw, and ROAD, whose imputation leaves
   * no blob, ranks Grad-CAM above the random map on every image.
   */
  test('Grad-CAM beats the random map: deletion AUC on the triangles, ROAD MoRF AUC on all of 50 fresh images', async () => {
    // demo/make-fixtures.ts uses the streams 20240611 … 20240616 and demo-model.test.ts 987654321.
    const rng = mulberry32(1357924680);
    const size = 64;
    const adapter = model.adapter;
    const deletionWins = { all: 0, triangles: 0, triangleCount: 0 };
    let roadWins = 0;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) {
      const img = makeShapeImage(rng, size);
      const x = tf.tensor4d(toUnit(img.pixels), [1, size, size, 3]);
      const target: Target = { index: img.label, space: 'probability' };
      const cam = await gradCam.explain({ adapter, input: x, target: { index: img.label, space: 'logit' } });
      const camMap = resizeMap(cam.data, cam.height, cam.width, size, size);
      const random = (await randomBaseline.explain({ adapter, input: x, target, seed: i + 1 })).data;
      const camWins = (await deletionCurve(adapter, x, target, camMap)).auc < (await deletionCurve(adapter, x, target, random)).auc;
      if (camWins) deletionWins.all++;
      if (img.label === 2) {
        deletionWins.triangleCount++;
        if (camWins) deletionWins.triangles++;
      }
      const roadOpts = { inputRange: [0, 1] as [number, number], percentages: [10, 30, 50, 70, 90], seed: i };
      if ((await road(adapter, x, target, camMap, roadOpts)).morf.auc < (await road(adapter, x, target, random, roadOpts)).morf.auc) roadWins++;
      x.dispose();
    }
    assert.equal(tf.memory().numTensors, before, 'numTensors unchanged');
    console.log(`# Grad-CAM vs random map on 50 fresh images: deletion AUC lower on ${deletionWins.all}/50 ` +
      `(triangles ${deletionWins.triangles}/${deletionWins.triangleCount}), ROAD MoRF AUC lower on ${roadWins}/50`);
    assert.ok(deletionWins.triangleCount >= 10, `only ${deletionWins.triangleCount} triangles`);
    assert.ok(deletionWins.triangles >= 0.9 * deletionWins.triangleCount, `deletion on triangles: ${deletionWins.triangles}/${deletionWins.triangleCount}`);
    assert.ok(roadWins >= 45, `ROAD MoRF: ${roadWins}/50`);
  });

  test('why deletion misleads here: a black disc or square pasted on a shape-free background is classified as a circle or a square', () => {
    const rng = mulberry32(24680);
    const hits = { disc: 0, square: 0 };
    for (let i = 0; i < 20; i++) {
      const background = toUnit(makeBackgroundImage(rng, 64));
      const [cx, cy] = [16 + 2 * (i % 16), 18 + (i % 5) * 6];
      for (const [kind, label] of [['disc', 0], ['square', 1]] as const) {
        const img = Float32Array.from(background);
        for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) {
          const inside = kind === 'disc' ? Math.hypot(y - cy, x - cx) <= 9 : Math.abs(y - cy) <= 8 && Math.abs(x - cx) <= 8;
          if (inside) img.fill(0, (y * 64 + x) * 3, (y * 64 + x) * 3 + 3);
        }
        const p = tf.tidy(() => Array.from(model.adapter.probabilities(tf.tensor4d(img, [1, 64, 64, 3])).dataSync()));
        if (p.indexOf(Math.max(...p)) === label) hits[kind]++;
      }
    }
    assert.ok(hits.disc >= 18 && hits.square >= 18, `black disc → circle ${hits.disc}/20, black square → square ${hits.square}/20`);
  });
});

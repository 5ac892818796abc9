/**
 * Occlusion, RISE and the random reference map, on known answers: small dense models whose
 * score is an explicit sum, so every window drop and every RISE value can be recomputed by hand.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import type { ModelAdapter, Target } from '../../../src/extension/model/types';
import type { ExplainRequest, Explainer } from '../../../src/extension/explain/explainer';
import { averageWindowDrops, occlusion, occlusionDrops, occlusionWindows, windowStarts } from '../../../src/extension/explain/methods/perturbation/occlusion';
import { drawMasks, fillMasks, maskGeometry, rise } from '../../../src/extension/explain/methods/perturbation/rise';
import { randomBaseline } from '../../../src/extension/explain/methods/perturbation/random-baseline';
import { mulberry32 } from '../../../src/extension/util/seeded-random';
import { PERTURBATION_METHODS } from '../../../src/extension/explain/methods/perturbation/perturbation-family';
import { gaussianBlur } from '../../../src/extension/explain/blur';
import { CancelledError, UserError } from '../../../src/shared/errors';
import { argmax2d, resizeMap } from '../../../src/shared/map-ops';
import { assertClose, assertNoLeak, seededArray, useBackend } from '../../helpers/tf-test';
import { linearModel } from '../../helpers/models';

/** Flatten → Dense(units) with the given kernel [h·w·c, units] and bias. */
function denseAdapter(shape: [number, number, number], kernel: Float32Array, bias: number[], activation: 'linear' | 'softmax' = 'linear'): LayersModelAdapter {
  const units = bias.length;
  const m = tfl.sequential({
    layers: [tfl.layers.flatten({ inputShape: shape }), tfl.layers.dense({ units, activation, name: 'dense' })],
  });
  tf.tidy(() => m.getLayer('dense').setWeights([tf.tensor2d(kernel, [kernel.length / units, units]), tf.tensor1d(bias)]));
  return new LayersModelAdapter(m);
}

/** Column `k` of a [rows, units] kernel. */
function column(kernel: ArrayLike<number>, units: number, k: number): Float64Array {
  return Float64Array.from({ length: kernel.length / units }, (_, r) => kernel[r * units + k]);
}

const logit = (index: number): Target => ({ index, space: 'logit' });

before(() => useBackend('cpu'));

describe('occlusion', () => {
  test('window starts cover the axis, the last one flush with the edge', () => {
    assert.deepEqual(windowStarts(4, 2, 1), [0, 1, 2]);
    assert.deepEqual(windowStarts(4, 2, 3), [0, 2]);
    assert.deepEqual(windowStarts(10, 4, 4), [0, 4, 6]);
    assert.deepEqual(windowStarts(5, 5, 2), [0]);
    assert.equal(windowStarts(64, 8, 4).length, 15);
    assert.deepEqual(occlusionWindows(3, 4, 2, 3, 1), [{ y: 0, x: 0 }, { y: 0, x: 1 }, { y: 1, x: 0 }, { y: 1, x: 1 }]);
  });

  test("every window's drop on a linear model is Σ_window w ⊙ (x − baseline), and the map averages the covering windows", async () => {
    const model = linearModel('linear'); // [4, 4, 3] → Dense(5), no softmax
    const adapter = new LayersModelAdapter(model);
    const kernel = tf.tidy(() => model.getLayer('dense').getWeights()[0].dataSync());
    const xData = seededArray(48, 21).map((v) => v + 0.5);
    const blackData = new Float32Array(48).fill(-0.3);
    const x = tf.tensor4d(xData, [1, 4, 4, 3]);
    const black = tf.tensor4d(blackData, [1, 4, 4, 3]);
    try {
      for (const [k, win, stride] of [[2, 2, 1], [4, 3, 2], [0, 1, 1]] as const) {
        const wk = column(kernel, 5, k);
        const windows = occlusionWindows(4, 4, win, win, stride);
        const { drops } = await assertNoLeak(() => occlusionDrops(adapter, x, black, logit(k), windows, win, win, { batchSize: 4 }));
        const expected = windows.map(({ y, x: x0 }) => {
          let s = 0;
          for (let r = y; r < y + win; r++) for (let c = x0; c < x0 + win; c++) {
            for (let ch = 0; ch < 3; ch++) {
              const i = (r * 4 + c) * 3 + ch;
              s += wk[i] * (xData[i] - blackData[i]);
            }
          }
          return s;
        });
        assertClose(drops, expected, 1e-5, `drops, class ${k}, window ${win}, stride ${stride}`);

        // The method: the same drops, averaged per pixel over the windows that contain it.
        const map = await assertNoLeak(() => occlusion.explain({ adapter, input: x, target: logit(k), black, params: { window: win, stride }, batchSize: 5 }));
        assert.equal(map.signed, true);
        assert.deepEqual([map.height, map.width], [4, 4]);
        const perPixel = Array.from({ length: 16 }, (_, p) => {
          const covering = windows.map((wd, i) => ({ wd, i })).filter(({ wd }) =>
            Math.floor(p / 4) >= wd.y && Math.floor(p / 4) < wd.y + win && p % 4 >= wd.x && p % 4 < wd.x + win);
          return covering.reduce((s, { i }) => s + expected[i], 0) / covering.length;
        });
        assertClose(map.data, perPixel, 1e-5, `map, class ${k}, window ${win}`);
        assertClose(averageWindowDrops(4, 4, windows, drops, win, win), perPixel, 1e-5, 'averageWindowDrops');
      }
    } finally {
      tf.dispose([x, black]);
      adapter.dispose();
    }
  });

  test('the mean and blurred baselines replace the window by the mean colour and by the blurred input', async () => {
    const model = linearModel('linear');
    const adapter = new LayersModelAdapter(model);
    const kernel = tf.tidy(() => model.getLayer('dense').getWeights()[0].dataSync());
    const wk = column(kernel, 5, 1);
    const xData = seededArray(48, 33);
    const x = tf.tensor4d(xData, [1, 4, 4, 3]);
    const mean = [0, 1, 2].map((ch) => xData.filter((_, i) => i % 3 === ch).reduce((a, b) => a + b, 0) / 16);
    const blurred = tf.tidy(() => gaussianBlur(x, 1).dataSync()); // σ = window / 2
    try {
      for (const [kind, base] of [['mean', (i: number) => mean[i % 3]], ['blurred', (i: number) => blurred[i]]] as const) {
        // A 2 × 2 window with stride 2: four disjoint windows, so each pixel shows its window's drop.
        const map = await assertNoLeak(() => occlusion.explain({ adapter, input: x, target: logit(1), params: { window: 2, stride: 2, baseline: kind } }));
        const expected = Array.from({ length: 16 }, (_, p) => {
          const [wy, wx] = [Math.floor(p / 4) & ~1, (p % 4) & ~1];
          let s = 0;
          for (let r = wy; r < wy + 2; r++) for (let c = wx; c < wx + 2; c++) {
            for (let ch = 0; ch < 3; ch++) s += wk[(r * 4 + c) * 3 + ch] * (xData[(r * 4 + c) * 3 + ch] - base((r * 4 + c) * 3 + ch));
          }
          return s;
        });
        assertClose(map.data, expected, 1e-5, `${kind} baseline`);
      }
    } finally {
      x.dispose();
      adapter.dispose();
    }
  });

  test('auto window is 1/8 of the shorter side, auto stride half of it', async () => {
    const adapter = denseAdapter([64, 48, 1], seededArray(64 * 48, 5), [0]);
    const x = tf.tensor4d(seededArray(64 * 48, 6), [1, 64, 48, 1]);
    try {
      const map = await occlusion.explain({ adapter, input: x, target: logit(0) });
      assert.equal(map.stats?.window, 6); // round(48 / 8)
      assert.equal(map.stats?.stride, 3);
      assert.equal(map.stats?.windows, windowStarts(64, 6, 3).length * windowStarts(48, 6, 3).length);
      assert.deepEqual([map.height, map.width], [64, 48]);
    } finally {
      x.dispose();
      adapter.dispose();
    }
  });

  test('bad parameters and inputs are UserErrors', async () => {
    const adapter = new LayersModelAdapter(linearModel('linear'));
    const x = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    const two = tf.zeros([2, 4, 4, 3]) as tf.Tensor4D;
    try {
      await assert.rejects(occlusion.explain({ adapter, input: x, target: logit(0), params: { window: 2.5 } }), (e) => e instanceof UserError && /window must be a whole number/.test(e.message));
      await assert.rejects(occlusion.explain({ adapter, input: x, target: logit(0), params: { baseline: 'grey' } }), (e) => e instanceof UserError && /baseline must be one of black, blurred, mean/.test(e.message));
      await assert.rejects(occlusion.explain({ adapter, input: two, target: logit(0) }), (e) => e instanceof UserError && /one image at a time/.test(e.message));
      await assert.rejects(occlusion.explain({ adapter, input: x, target: logit(0), batchSize: 0 }), UserError);
    } finally {
      tf.dispose([x, two]);
      adapter.dispose();
    }
  });
});

describe('RISE', () => {
  test('masks are the bilinearly upsampled grids (half-pixel centres) cropped at their shifts', () => {
    for (const [cells, h, w] of [[4, 16, 16], [3, 10, 7], [8, 64, 64]] as const) {
      const g = maskGeometry(cells, h, w);
      assert.equal(g.cellH, Math.ceil(h / cells));
      const draws = drawMasks(mulberry32(9), 5, g, 0.5);
      const masks = fillMasks(draws, g);
      const upH = (cells + 1) * g.cellH;
      const upW = (cells + 1) * g.cellW;
      const expected = new Float32Array(5 * h * w);
      for (let i = 0; i < 5; i++) {
        const up = resizeMap(draws.grids.subarray(i * cells * cells, (i + 1) * cells * cells), cells, cells, upH, upW);
        const [dy, dx] = [draws.shifts[2 * i], draws.shifts[2 * i + 1]];
        assert.ok(dy >= 0 && dy < g.cellH && dx >= 0 && dx < g.cellW, 'shift within one cell');
        for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) expected[(i * h + r) * w + c] = up[(dy + r) * upW + dx + c];
      }
      assertClose(masks, expected, 1e-5, `masks ${cells} cells, ${h}×${w}`);
      // tfjs' own bilinear resize followed by a crop agrees too.
      const up = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(draws.grids, [5, cells, cells, 1]), [upH, upW], false, true).dataSync());
      const cropped = Float32Array.from(expected, (_, j) => {
        const [i, r, c] = [Math.floor(j / (h * w)), Math.floor(j / w) % h, j % w];
        return up[(i * upH + draws.shifts[2 * i] + r) * upW + draws.shifts[2 * i + 1] + c];
      });
      assertClose(masks, cropped, 1e-5, 'tf.image.resizeBilinear + crop');
    }
  });

  for (const c of [3, 1]) test(`the map equals Σᵢ f(black + (x − black) ⊙ Mᵢ) · Mᵢ / (N·p), recomputed by hand for a linear model, ${c} channel(s)`, async () => {
    const [h, w] = [6, 5];
    const kernel = seededArray(h * w * c, 71);
    const adapter = denseAdapter([h, w, c], kernel, [0.3]);
    const xData = seededArray(h * w * c, 72);
    const blackData = new Float32Array(h * w * c).fill(-0.2);
    const x = tf.tensor4d(xData, [1, h, w, c]);
    const black = tf.tensor4d(blackData, [1, h, w, c]);
    const [n, cells, p, seed] = [40, 3, 0.4, 1234];
    try {
      const map = await assertNoLeak(() => rise.explain({ adapter, input: x, target: logit(0), black, seed, batchSize: 7, params: { masks: n, cells, p } }));
      const g = maskGeometry(cells, h, w);
      const masks = fillMasks(drawMasks(mulberry32(seed), n, g, p), g);
      const expected = new Float64Array(h * w);
      for (let i = 0; i < n; i++) {
        let f = 0.3;
        for (let px = 0; px < h * w; px++) {
          const m = masks[i * h * w + px];
          for (let ch = 0; ch < c; ch++) f += kernel[px * c + ch] * (blackData[px * c + ch] + (xData[px * c + ch] - blackData[px * c + ch]) * m);
        }
        for (let px = 0; px < h * w; px++) expected[px] += (f * masks[i * h * w + px]) / (n * p);
      }
      assertClose(map.data, expected, 1e-4, 'RISE map');
      assert.deepEqual([map.height, map.width], [h, w]);
      // The same masks whatever the batch size: one random stream in mask order.
      const other = await rise.explain({ adapter, input: x, target: logit(0), black, seed, batchSize: 40, params: { masks: n, cells, p } });
      assertClose(other.data, map.data, 1e-5, 'batch size 40 vs 7');
    } finally {
      tf.dispose([x, black]);
      adapter.dispose();
    }
  });

  test('with p = 1 nothing is masked: every value is f(x)', async () => {
    const adapter = new LayersModelAdapter(linearModel('linear'));
    const x = tf.tensor4d(seededArray(48, 3), [1, 4, 4, 3]);
    try {
      const fx = tf.tidy(() => adapter.score(x, logit(2)).dataSync()[0]);
      const map = await rise.explain({ adapter, input: x, target: logit(2), params: { masks: 10, cells: 2, p: 1 } });
      assertClose(map.data, new Float32Array(16).fill(fx), 1e-5, 'p = 1');
    } finally {
      x.dispose();
      adapter.dispose();
    }
  });

  test('on a model that looks at one region only, the map peaks there; same seed, same map', async () => {
    const [h, w] = [24, 24];
    // Class 0 sums the pixels of rows 4..9, columns 14..19; class 1 is a constant.
    const kernel = new Float32Array(h * w * 3 * 2);
    const inRegion = (y: number, x: number) => y >= 4 && y < 10 && x >= 14 && x < 20;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      if (inRegion(y, x)) for (let ch = 0; ch < 3; ch++) kernel[((y * w + x) * 3 + ch) * 2] = 0.2;
    }
    const adapter = denseAdapter([h, w, 3], kernel, [0, 1], 'softmax');
    const x = tf.tensor4d(seededArray(h * w * 3, 8).map((v) => 0.75 + 0.25 * v), [1, h, w, 3]);
    try {
      const req: ExplainRequest = { adapter, input: x, target: logit(0), seed: 5, params: { masks: 400, cells: 6 } };
      const map = await assertNoLeak(() => rise.explain(req));
      const peak = argmax2d(map.data, h, w);
      assert.ok(inRegion(peak.y, peak.x), `peak ${JSON.stringify(peak)} outside the region`);
      let inside = 0;
      let outside = 0;
      for (let i = 0; i < h * w; i++) {
        if (inRegion(Math.floor(i / w), i % w)) inside += map.data[i] / 36;
        else outside += map.data[i] / (h * w - 36);
      }
      assert.ok(inside > outside, `mean inside ${inside} ≤ mean outside ${outside}`);
      const again = await rise.explain(req);
      assert.deepEqual(again.data, map.data);
      const otherSeed = await rise.explain({ ...req, seed: 6 });
      assert.notDeepEqual(otherSeed.data, map.data);
      // Softmax head: RISE scores probabilities whichever space the target names.
      const prob = await rise.explain({ ...req, target: { index: 0, space: 'probability' } });
      assert.deepEqual(prob.data, map.data);
    } finally {
      x.dispose();
      adapter.dispose();
    }
  });

  test('bad parameters are UserErrors', async () => {
    const adapter = new LayersModelAdapter(linearModel('linear'));
    const x = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    try {
      await assert.rejects(rise.explain({ adapter, input: x, target: logit(0), params: { p: 0 } }), (e) => e instanceof UserError && /p must be a number from 0.01 to 1/.test(e.message));
      await assert.rejects(rise.explain({ adapter, input: x, target: logit(0), params: { masks: 0 } }), UserError);
    } finally {
      x.dispose();
      adapter.dispose();
    }
  });
});

describe('random baseline', () => {
  test('a seeded uniform map in [0, 1) at the input resolution', async () => {
    const adapter = denseAdapter([20, 30, 1], new Float32Array(600), [0]);
    const x = tf.zeros([1, 20, 30, 1]) as tf.Tensor4D;
    try {
      const a = await assertNoLeak(() => randomBaseline.explain({ adapter, input: x, target: logit(0), seed: 1 }));
      assert.deepEqual([a.height, a.width, a.data.length], [20, 30, 600]);
      assert.ok(a.data.every((v) => v >= 0 && v < 1), 'values in [0, 1)');
      const mean = a.data.reduce((s, v) => s + v, 0) / 600;
      assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
      assert.deepEqual((await randomBaseline.explain({ adapter, input: x, target: logit(0), seed: 1 })).data, a.data);
      assert.notDeepEqual((await randomBaseline.explain({ adapter, input: x, target: logit(0), seed: 2 })).data, a.data);
      // No seed: the fixed default, so still reproducible.
      const d = await randomBaseline.explain({ adapter, input: x, target: logit(0) });
      assert.deepEqual((await randomBaseline.explain({ adapter, input: x, target: logit(0) })).data, d.data);
      assert.equal(randomBaseline.family, 'reference');
    } finally {
      x.dispose();
      adapter.dispose();
    }
  });
});

describe('every perturbation method', () => {
  test('is registered in order and cancels cleanly, before the start and between batches, leaking nothing', async () => {
    assert.deepEqual(PERTURBATION_METHODS.map((m) => m.id), ['occlusion', 'rise', 'random']);
    const adapter: ModelAdapter = new LayersModelAdapter(linearModel());
    const x = tf.tensor4d(seededArray(48, 4), [1, 4, 4, 3]);
    const params: Record<string, Record<string, number>> = { occlusion: { window: 1, stride: 1 }, rise: { masks: 50 } };
    try {
      for (const m of PERTURBATION_METHODS as Explainer[]) {
        const aborted = new AbortController();
        aborted.abort();
        await assertNoLeak(() => assert.rejects(m.explain({ adapter, input: x, target: logit(1), signal: aborted.signal, params: params[m.id] }), CancelledError));
        if (m.id === 'random') continue; // no batches to cancel between
        const ctrl = new AbortController();
        const progress: number[] = [];
        await assertNoLeak(() => assert.rejects(m.explain({
          adapter, input: x, target: logit(1), batchSize: 4, signal: ctrl.signal, params: params[m.id],
          onProgress: (f) => { progress.push(f); ctrl.abort(); },
        }), CancelledError));
        assert.equal(progress.length, 1, `${m.id} stopped after its first batch`);
        // Uncancelled: progress climbs to 1.
        const full: number[] = [];
        await assertNoLeak(() => m.explain({ adapter, input: x, target: logit(1), batchSize: 8, params: params[m.id], onProgress: (f) => full.push(f) }));
        assert.equal(full[full.length - 1], 1);
        assert.ok(full.every((f, i) => i === 0 || f > full[i - 1]), `${m.id} progress increases`);
      }
    } finally {
      x.dispose();
      adapter.dispose();
    }
  });
});

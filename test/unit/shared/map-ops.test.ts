import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { argmax2d, normalizeMap, resizeMap } from '../../../src/shared/map-ops';
import { seededArray } from '../../helpers/tf-test';

const randomMap = seededArray;

before(async () => {
  await tf.setBackend('cpu');
});

test('normalizeMap scales min..max to 0..1', () => {
  assert.deepEqual([...normalizeMap(new Float32Array([2, 4, 3, 6]))], [0, 0.5, 0.25, 1]);
  assert.deepEqual([...normalizeMap(new Float32Array([-1, 1]))], [0, 1]);
});

test('normalizeMap of a constant or all-zero map is all zeros, never NaN', () => {
  assert.deepEqual([...normalizeMap(new Float32Array(5))], [0, 0, 0, 0, 0]);
  assert.deepEqual([...normalizeMap(new Float32Array([7, 7, 7]))], [0, 0, 0]);
  assert.deepEqual([...normalizeMap(new Float32Array([]))], []);
});

test('normalizeMap treats NaN and ±Infinity as 0', () => {
  const out = normalizeMap(new Float32Array([NaN, 2, Infinity, -Infinity, 4]));
  assert.deepEqual([...out], [0, 0.5, 0, 0, 1]);
  assert.deepEqual([...normalizeMap(new Float32Array([NaN, NaN]))], [0, 0]);
});

test('normalizeMap survives float32 extremes and tiny ranges', () => {
  const big = normalizeMap(new Float32Array([-3.4e38, 0, 3.4e38]));
  assert.deepEqual([...big].map((v) => Math.round(v * 100) / 100), [0, 0.5, 1]);
  const tiny = normalizeMap(new Float32Array([1e-30, 2e-30, 3e-30]));
  assert.deepEqual([...tiny].map((v) => Math.round(v * 100) / 100), [0, 0.5, 1]);
});

function tfResize(data: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  return tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(data, [h, w, 1]), [outH, outW], false, true).dataSync() as Float32Array);
}

const CASES: [string, number, number, number, number][] = [
  ['upsample 7×7 → 224×224 (Grad-CAM on ResNet)', 7, 7, 224, 224],
  ['upsample by a non-integer factor 5×9 → 17×40', 5, 9, 17, 40],
  ['downsample 224×224 → 7×7', 224, 224, 7, 7],
  ['downsample by a non-integer factor 50×37 → 13×11', 50, 37, 13, 11],
  ['up in one axis, down in the other 12×80 → 31×9', 12, 80, 31, 9],
  ['identity 6×4 → 6×4', 6, 4, 6, 4],
  ['from a single pixel 1×1 → 3×5', 1, 1, 3, 5],
  ['to a single pixel 8×6 → 1×1', 8, 6, 1, 1],
];

for (const [name, h, w, outH, outW] of CASES) {
  test(`resizeMap equals tf.image.resizeBilinear(halfPixelCenters): ${name}`, () => {
    const map = randomMap(h * w, h * 1000 + w);
    const ours = resizeMap(map, h, w, outH, outW);
    const theirs = tfResize(map, h, w, outH, outW);
    assert.equal(ours.length, outH * outW);
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - theirs[i]));
    assert.ok(worst <= 1e-5, `max difference ${worst}`);
  });
}

test('resizeMap samples at pixel centres (a 2×2 map upsampled to 4×4)', () => {
  // Half-pixel centres: output pixel 1 maps to source 0.25, so it is 3/4 of the first pixel.
  const out = resizeMap(new Float32Array([0, 4, 8, 12]), 2, 2, 4, 4);
  assert.deepEqual([...out.subarray(0, 4)], [0, 1, 3, 4]);
  assert.deepEqual([...out.subarray(12, 16)], [8, 9, 11, 12]);
});

test('resizeMap rejects a map of the wrong length', () => {
  assert.throws(() => resizeMap(new Float32Array(5), 2, 3, 4, 4), RangeError);
  assert.throws(() => resizeMap(new Float32Array(6), 2, 3, 0, 4), RangeError);
});

test('argmax2d finds the row and column of the maximum', () => {
  const map = new Float32Array(12);
  map[2 * 4 + 1] = 5;
  assert.deepEqual(argmax2d(map, 3, 4), { y: 2, x: 1 });
  map[0 * 4 + 3] = 5; // a tie: the first in row-major order wins
  assert.deepEqual(argmax2d(map, 3, 4), { y: 0, x: 3 });
  assert.deepEqual(argmax2d(new Float32Array([NaN, -2, -1, NaN]), 2, 2), { y: 1, x: 0 });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { upsampleNearest } from '../../../src/webview/util/upsample';

test('upsampleNearest doubles a 2×2 map to 4×4 as 2×2 blocks', () => {
  const out = upsampleNearest(new Float32Array([1, 2, 3, 4]), 2, 2, 4, 4);
  assert.deepEqual([...out], [
    1, 1, 2, 2,
    1, 1, 2, 2,
    3, 3, 4, 4,
    3, 3, 4, 4,
  ]);
});

test('upsampleNearest with a non-integer factor gives the left/top patch the extra pixels', () => {
  // Columns 0..4 of 5 map to floor(x·2/5) = 0,0,0,1,1; rows 0..2 of 3 to floor(y·2/3) = 0,0,1.
  const out = upsampleNearest(new Float32Array([1, 2, 3, 4]), 2, 2, 3, 5);
  assert.deepEqual([...out], [
    1, 1, 1, 2, 2,
    1, 1, 1, 2, 2,
    3, 3, 3, 4, 4,
  ]);
});

test('upsampleNearest of a non-square map keeps rows and columns apart', () => {
  // 1×3 → 2×6: each value twice across, the row repeated.
  const out = upsampleNearest(new Float32Array([5, 6, 7]), 1, 3, 2, 6);
  assert.deepEqual([...out], [5, 5, 6, 6, 7, 7, 5, 5, 6, 6, 7, 7]);
});

test('upsampleNearest to a smaller size picks the top-left sample of each block', () => {
  const out = upsampleNearest(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), 3, 3, 2, 2);
  assert.deepEqual([...out], [1, 2, 4, 5]);
});

test('upsampleNearest at the same size is a copy, and NaN passes through', () => {
  const src = new Float32Array([NaN, 1, -2, 0.5]);
  const out = upsampleNearest(src, 2, 2, 2, 2);
  assert.notEqual(out, src);
  assert.deepEqual([...out], [NaN, 1, -2, 0.5]);
  assert.deepEqual([...upsampleNearest(new Float32Array([7]), 1, 1, 2, 3)], [7, 7, 7, 7, 7, 7]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topK } from '../../../src/webview/util/top-k';

test('topK returns the k largest values with their indices, largest first', () => {
  assert.deepEqual(topK([0.1, 0.5, 0.3, 0.05], 2), [{ index: 1, value: 0.5 }, { index: 2, value: 0.3 }]);
  assert.deepEqual(topK(new Float32Array([0.25, 0.75]), 1), [{ index: 1, value: 0.75 }]);
});

test('topK breaks ties by index', () => {
  assert.deepEqual(topK([1, 3, 3, 2, 3], 3), [{ index: 1, value: 3 }, { index: 2, value: 3 }, { index: 4, value: 3 }]);
  assert.deepEqual(topK([2, 2], 1), [{ index: 0, value: 2 }]);
});

test('topK with k above the length gives every value, sorted; k of 0 or below gives none', () => {
  assert.deepEqual(topK([2, -1, 5], 10), [{ index: 2, value: 5 }, { index: 0, value: 2 }, { index: 1, value: -1 }]);
  assert.deepEqual(topK([2, -1, 5], 0), []);
  assert.deepEqual(topK([2, -1, 5], -1), []);
  assert.deepEqual(topK([], 3), []);
});

test('topK ranks ±Infinity as numbers and NaN after everything', () => {
  assert.deepEqual(topK([NaN, 1, -Infinity, NaN, Infinity, -Infinity], 6), [
    { index: 4, value: Infinity },
    { index: 1, value: 1 },
    { index: 2, value: -Infinity },
    { index: 5, value: -Infinity },
    { index: 0, value: NaN },
    { index: 3, value: NaN },
  ]);
});

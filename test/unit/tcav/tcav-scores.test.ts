/**
 * TCAV scores on known vectors: directional derivatives are the hand-computed dot products, the
 * score counts strictly positive derivatives, and the magnitude variant weighs them by size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { directionalDerivatives, tcavScore } from '../../../src/extension/tcav/scores';

test('directional derivatives equal the dot products computed by hand', () => {
  const direction = Float32Array.from([0.5, -1, 2]);
  const grads = [Float32Array.from([1, 2, 3]), Float32Array.from([0, -1, 0.5]), Float32Array.from([4, 2, 0])];
  // 0.5 − 2 + 6 = 4.5;  0 + 1 + 1 = 2;  2 − 2 + 0 = 0.
  assert.deepEqual(Array.from(directionalDerivatives(grads, direction)), [4.5, 2, 0]);
  assert.equal(directionalDerivatives([], direction).length, 0);
});

test('directional derivatives accumulate in double precision', () => {
  // 2²⁴ + 1 is not a Float32, but the sum of the products is exact in Float64.
  const direction = Float32Array.from([1, 1]);
  assert.equal(directionalDerivatives([Float32Array.from([2 ** 24, 1])], direction)[0], 2 ** 24 + 1);
});

test('a gradient of the wrong length is refused', () => {
  assert.throws(() => directionalDerivatives([new Float32Array(3), new Float32Array(2)], new Float32Array(3)), /gradient 1 has 2 values but the CAV has 3/);
});

test('TCAV score and magnitude of known vectors', () => {
  assert.deepEqual(tcavScore([1, -2, 3, 0]), { score: 0.5, magnitude: 4 / 6 });
  assert.deepEqual(tcavScore(Float64Array.from([2, 2, 2])), { score: 1, magnitude: 1 });
  assert.deepEqual(tcavScore([-1, -0.5]), { score: 0, magnitude: 0 });
  assert.deepEqual(tcavScore([0.25, -0.75, 0.5, -1, 0]), { score: 0.4, magnitude: 0.75 / 2.5 });
});

test('all-zero derivatives: score 0 and magnitude 0, not NaN', () => {
  assert.deepEqual(tcavScore([0, 0, -0]), { score: 0, magnitude: 0 });
});

test('no derivatives or non-finite ones are refused', () => {
  assert.throws(() => tcavScore([]), /at least one class image/);
  assert.throws(() => tcavScore([1, NaN]), /derivative 1 is not finite/);
});

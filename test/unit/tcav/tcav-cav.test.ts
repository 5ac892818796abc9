/**
 * CAV training on planted data with known answers: separable blobs give held-out accuracy 1 and
 * recover the planted direction, the boundary sits between the blobs, a common offset only moves
 * the bias, sides swap the sign, seeds are reproducible and change the split, bad input is
 * refused, a 62,720-dimensional layer trains quickly, and the dual solver reaches the optimum
 * certified by an independent projected-gradient (FISTA) dual solver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { solveLinearSvm, trainCav } from '../../../src/extension/tcav/cav';
import { gaussianSource, mulberry32 } from '../../../src/extension/util/seeded-random';

/** A seeded random unit vector u, and blobs centred at (offset ± sep)·u with noise σ per value. */
function blobs(dim: number, n: number, sep: number, sigma: number, seed: number, offset = 0) {
  const g = gaussianSource(mulberry32(seed));
  const u = Float64Array.from({ length: dim }, () => g());
  const norm = Math.hypot(...u);
  u.forEach((v, j) => (u[j] = v / norm));
  const side = (sign: number) =>
    Array.from({ length: n }, () => Float32Array.from({ length: dim }, (_, j) => (offset + sign * sep) * u[j] + sigma * g()));
  return { u, positive: side(1), negative: side(-1) };
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j] * b[j];
  return s;
};

test('separable blobs: held-out accuracy 1, the planted direction, a unit vector, the split sizes', () => {
  const { u, positive, negative } = blobs(30, 100, 2, 0.05, 11);
  const cav = trainCav(positive, negative, { seed: 3 });
  assert.equal(cav.accuracy, 1);
  assert.equal(cav.trainAccuracy, 1);
  assert.ok(dot(cav.direction, u) > 0.99, `cosine ${dot(cav.direction, u)}`);
  assert.ok(Math.abs(Math.hypot(...cav.direction) - 1) < 1e-6);
  // 100 per side, a third (33) of each held out.
  assert.equal(cav.testSize, 66);
  assert.equal(cav.trainSize, 134);
  assert.ok(cav.epochs >= 1 && cav.epochs < 1000, `epochs ${cav.epochs}`);
});

test('the bias puts the boundary between blobs that are offset along the direction', () => {
  // Centres at 5u ± 2u: the boundary is near 5u, so directionᵀx + bias ≈ 0 there → bias ≈ −5.
  const { positive, negative } = blobs(30, 60, 2, 0.05, 12, 5);
  const cav = trainCav(positive, negative, { seed: 1 });
  assert.equal(cav.accuracy, 1);
  assert.ok(Math.abs(cav.bias + 5) < 0.25, `bias ${cav.bias}`);
});

test('a common offset of all activations leaves the direction alone and only moves the bias', () => {
  // The rows are centred before training, so adding c to every row gives the same direction and
  // bias − directionᵀc (up to Float32 rounding of the shifted rows), however large c is.
  const { positive, negative } = blobs(200, 40, 2, 0.1, 18);
  const g = gaussianSource(mulberry32(19));
  const c = Float64Array.from({ length: 200 }, () => 10 * Math.abs(g())); // ‖c‖ ≈ 120, all positive like ReLU outputs
  const shift = (rows: Float32Array[]) => rows.map((r) => Float32Array.from(r, (v, j) => v + c[j]));
  const a = trainCav(positive, negative, { seed: 4 });
  const b = trainCav(shift(positive), shift(negative), { seed: 4 });
  assert.ok(dot(a.direction, b.direction) > 1 - 1e-9, `cosine ${dot(a.direction, b.direction)}`);
  assert.ok(Math.abs(b.bias - (a.bias - dot(b.direction, c))) < 1e-5, `bias ${b.bias} vs ${a.bias - dot(b.direction, c)}`);
  assert.equal(b.epochs, a.epochs);
});

test('swapping the concept and random sets flips the direction and the bias', () => {
  // Tight blobs, so the optimum hardly depends on which rows the two (different) splits hold.
  const { positive, negative } = blobs(30, 100, 2, 0.005, 13, 1);
  const a = trainCav(positive, negative, { seed: 5 });
  const b = trainCav(negative, positive, { seed: 5 });
  assert.ok(dot(a.direction, b.direction) < -0.9999, `cosine ${dot(a.direction, b.direction)}`);
  assert.ok(Math.abs(a.bias + b.bias) < 5e-3, `biases ${a.bias} ${b.bias}`);
  assert.equal(b.accuracy, 1);
  // On the same rows with the labels negated, the solver's path is the exact mirror image.
  const rows = [...positive, ...negative];
  const labels = rows.map((_, i) => (i < positive.length ? 1 : -1));
  const opts = { maxEpochs: 1000, tolerance: 1e-4 };
  const p = solveLinearSvm(rows, labels, 0.5, mulberry32(1), opts);
  const n = solveLinearSvm(rows, labels.map((y) => -y), 0.5, mulberry32(1), opts);
  assert.deepEqual(n.w, p.w.map((v) => -v));
  assert.equal(n.bias, -p.bias);
  assert.equal(n.epochs, p.epochs);
});

test('the same seed gives bit-identical CAVs; other seeds give other splits', () => {
  const { positive, negative } = blobs(20, 30, 2, 0.05, 14);
  assert.deepEqual(trainCav(positive, negative, { seed: 9 }), trainCav(positive, negative, { seed: 9 }));
  // One concept row sits in the middle of the random blob: whichever split it lands in, it is
  // the one misclassified row there, so the seed's split shows in which accuracy is below 1.
  const outlier = Float32Array.from(negative[0]);
  const concept = [...positive, outlier];
  const heldOut = new Set<boolean>();
  for (let seed = 1; seed <= 12; seed++) {
    const cav = trainCav(concept, negative.slice(1), { seed });
    assert.ok((cav.accuracy < 1) !== (cav.trainAccuracy < 1), `seed ${seed}: ${cav.accuracy} ${cav.trainAccuracy}`);
    heldOut.add(cav.accuracy < 1);
  }
  assert.deepEqual([...heldOut].sort(), [false, true]);
});

test('refuses rows of differing lengths, a side with fewer than 2 rows, and all-zero activations', () => {
  const { positive, negative } = blobs(10, 5, 2, 0.1, 15);
  assert.throws(() => trainCav(positive, [...negative, new Float32Array(9)], { seed: 1 }), /differing lengths.*negative\[5\] has 9/);
  assert.throws(() => trainCav(positive.slice(0, 1), negative, { seed: 1 }), /at least 2 activation rows per side.*concept \(positive\) set has 1/);
  assert.throws(() => trainCav(positive, [], { seed: 1 }), /random \(negative\) set has 0/);
  // A dead layer: every activation the same, so nothing separates the sets and w is exactly 0.
  for (const value of [0, 0.3]) {
    const same = () => Array.from({ length: 6 }, () => new Float32Array(10).fill(value));
    assert.throws(() => trainCav(same(), same(), { seed: 1 }), /cannot be told apart at all/);
  }
});

test('a 62,720-dimensional layer (7×7×1280), 40 rows per side, separates in few epochs', () => {
  // Noise of norm ≈ 10 per row against a separation of 10: the direction is recovered to ~15°.
  const { u, positive, negative } = blobs(62_720, 40, 5, 0.04, 16, 1);
  const cav = trainCav(positive, negative, { seed: 2 });
  assert.equal(cav.accuracy, 1);
  assert.equal(cav.trainAccuracy, 1);
  assert.equal(cav.testSize, 26);
  const cosine = dot(cav.direction, u);
  assert.ok(cosine > 0.95, `cosine ${cosine}`);
  // The boundary passes through the midpoint of the blobs, 1·u: directionᵀu + bias ≈ 0.
  assert.ok(Math.abs(cosine + cav.bias) < 0.01, `bias ${cav.bias}, cosine ${cosine}`);
  assert.ok(cav.epochs < 100, `epochs ${cav.epochs}`);
});

/**
 * The same problem, min ½(‖w‖² + β²) + C Σ hinge(wᵀ(x − μ) + sβ), solved independently through its
 * dual min_{0 ≤ a ≤ C} ½ aᵀQa − Σa, Q_ij = y_i y_j ((x_i − μ)ᵀ(x_j − μ) + s²), by FISTA with
 * projection on the box. Returns the dual value's negation: a lower bound on the primal optimum
 * (weak duality), equal to it once FISTA has converged. `xs` are the centred rows.
 */
function dualLowerBound(xs: number[][], ys: number[], C: number, s: number, iterations: number): number {
  const n = xs.length;
  const q = xs.map((xi, i) => xs.map((xj, j) => ys[i] * ys[j] * (dot(xi, xj) + s * s)));
  const lip = q.reduce((sum, row, i) => sum + row[i], 0); // trace ≥ largest eigenvalue
  const f = (a: number[]) => 0.5 * dot(a, q.map((row) => dot(row, a))) - a.reduce((sum, v) => sum + v, 0);
  let a = new Array<number>(n).fill(0);
  let z = a.slice();
  let t = 1;
  for (let k = 0; k < iterations; k++) {
    const grad = q.map((row) => dot(row, z) - 1);
    const next = z.map((v, i) => Math.min(C, Math.max(0, v - grad[i] / lip)));
    const tNext = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    z = next.map((v, i) => v + ((t - 1) / tNext) * (v - a[i]));
    a = next;
    t = tNext;
  }
  return -f(a);
}

test('the dual coordinate descent reaches the optimum of an overlapping toy problem', () => {
  const g = gaussianSource(mulberry32(17));
  const rows: Float32Array[] = [];
  const ys: number[] = [];
  for (let i = 0; i < 14; i++) {
    const y = i % 2 === 0 ? 1 : -1;
    rows.push(Float32Array.from([0.8 * y + g(), 0.3 * y + g(), 1.5 + 0.5 * g()])); // overlapping: some hinge > 0
    ys.push(y);
  }
  const C = 0.7;
  for (const [center, s] of [[undefined, 1], [Float64Array.from([0.25, -0.5, 1.5]), 2.5]] as const) {
    const mu = center ?? new Float64Array(3);
    const xs = rows.map((r) => Array.from(r, (v, j) => v - mu[j]));
    // The primal objective of the solver's answer wᵀx + bias: b = sβ = bias + wᵀμ.
    const primal = (w: ArrayLike<number>, bias: number) => {
      const b = bias + dot(w, mu);
      return 0.5 * (dot(w, w) + (b / s) ** 2) + C * xs.reduce((sum, x, i) => sum + Math.max(0, 1 - ys[i] * (dot(w, x) + b)), 0);
    };
    const lower = dualLowerBound(xs, ys, C, s, 100_000);
    for (const [tolerance, gap] of [[1e-4, 1e-4], [1e-9, 1e-8]]) {
      const svm = solveLinearSvm(rows, ys, C, mulberry32(1), { maxEpochs: 100_000, tolerance, center, interceptScaling: s });
      assert.ok(svm.converged);
      const value = primal(svm.w, svm.bias);
      // primal(w) ≥ optimum ≥ lower bound: their difference bounds the distance to the optimum.
      assert.ok(value >= lower - 1e-12, `primal ${value} below the dual bound ${lower}`);
      assert.ok(value - lower <= gap * value, `s ${s}, tolerance ${tolerance}: primal ${value} vs dual ${lower}`);
    }
  }
});

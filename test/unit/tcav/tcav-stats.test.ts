/**
 * TCAV statistics with known answers: mean and sample standard deviation, Welch's t-test against
 * an independent computation (t and Welch–Satterthwaite df by formula, p by Simpson integration
 * of the Student t density) and against R's printed results, the degenerate cases defined by
 * welchTTest, and the Bonferroni correction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bonferroni, meanStd, welchTTest } from '../../../src/extension/tcav/stats';
import { mulberry32 } from '../../../src/extension/util/seeded-random';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('meanStd: known values, one value, no values', () => {
  // Σ(x − 5)² = 9+1+1+1+0+0+4+16 = 32 → sample variance 32/7 (the population SD is 2).
  const r = meanStd([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(r.mean, 5);
  close(r.std, Math.sqrt(32 / 7), 1e-15, 'std');
  assert.deepEqual(meanStd([3.5]), { mean: 3.5, std: 0 });
  // Equal values (a CAV scoring the same in every run) give exactly that mean and SD 0, where a
  // plain sum gives 0.7·3/3 = 0.7000000000000001.
  assert.deepEqual(meanStd([0.7, 0.7, 0.7]), { mean: 0.7, std: 0 });
  close(meanStd([1e9 + 1, 1e9 + 2, 1e9 + 3]).std, 1, 1e-12, 'std with a large offset');
  assert.throws(() => meanStd([]), /no values/);
});

/** Composite Simpson's rule on [a, b] with n (even) intervals. */
function simpson(f: (x: number) => number, a: number, b: number, n: number): number {
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}

/**
 * Two-sided p of Student's t with ν degrees of freedom, P(|T| ≥ |t|). The density
 * ∝ (1 + x²/ν)^(−(ν+1)/2) becomes ∝ cos^(ν−1) θ under x = √ν·tan θ, so both the tail and the
 * normalising constant are Simpson integrals over finite intervals (no Gamma function needed).
 */
function studentTwoSidedP(t: number, nu: number): number {
  const density = (theta: number) => Math.cos(theta) ** (nu - 1);
  const edge = Math.atan(Math.abs(t) / Math.sqrt(nu));
  return simpson(density, edge, Math.PI / 2, 200_000) / simpson(density, 0, Math.PI / 2, 200_000);
}

function welchByFormula(a: number[], b: number[]) {
  const m = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const v = (xs: number[]) => xs.reduce((s, x) => s + (x - m(xs)) ** 2, 0) / (xs.length - 1);
  const ea = v(a) / a.length;
  const eb = v(b) / b.length;
  const t = (m(a) - m(b)) / Math.sqrt(ea + eb);
  const df = (ea + eb) ** 2 / (ea ** 2 / (a.length - 1) + eb ** 2 / (b.length - 1));
  return { t, df, p: studentTwoSidedP(t, df) };
}

test("Welch's t-test agrees with t, df by formula and p by integrating the t density", () => {
  const rng = mulberry32(42);
  const sample = (n: number, mean: number, spread: number) => Array.from({ length: n }, () => mean + spread * (rng() - 0.5));
  const pairs: [number[], number[]][] = [
    [sample(20, 0.6, 0.2), sample(20, 0.5, 0.3)],
    [sample(5, 0.9, 0.05), sample(12, 0.5, 0.4)], // unequal sizes and variances: df ≈ 11.5, not 15
    [sample(3, 0.4, 1), sample(2, 0.3, 1)], // tiny samples: df ≈ 2.2, a heavy-tailed t
    [sample(30, 0.5, 0.1), sample(25, 0.5, 0.1)],
  ];
  for (const [a, b] of pairs) {
    const got = welchTTest(a, b);
    const want = welchByFormula(a, b);
    close(got.t, want.t, 1e-12 * Math.max(1, Math.abs(want.t)), 't');
    close(got.df, want.df, 1e-10 * want.df, 'df');
    close(got.p, want.p, 1e-7, `p (df ${want.df})`);
  }
});

test("Welch's t-test reproduces R's t.test examples", () => {
  // R: t.test(1:10, y = c(7:20))        → t = -5.4349, df = 21.982, p-value = 1.855e-05
  let r = welchTTest(range(1, 10), range(7, 20));
  close(r.t, -5.4349, 5e-5, 't');
  close(r.df, 21.982, 5e-4, 'df');
  close(r.p, 1.855e-5, 5e-9, 'p');
  // R: t.test(1:10, y = c(7:20, 200))   → t = -1.6329, df = 14.165, p-value = 0.1245
  r = welchTTest(range(1, 10), [...range(7, 20), 200]);
  close(r.t, -1.6329, 5e-5, 't');
  close(r.df, 14.165, 5e-4, 'df');
  close(r.p, 0.1245, 5e-5, 'p');
  // R: t.test(extra ~ group, data = sleep) → t = -1.8608, df = 17.776, p-value = 0.07939
  const g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
  const g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
  r = welchTTest(g1, g2);
  close(r.t, -1.8608, 5e-5, 't');
  close(r.df, 17.776, 5e-4, 'df');
  close(r.p, 0.07939, 5e-6, 'p');
  // Swapping the samples negates t only.
  const s = welchTTest(g2, g1);
  assert.equal(s.t, -r.t);
  assert.equal(s.p, r.p);
});

test('one constant sample: t with 2 df in closed form', () => {
  // b has variance 1, n 3: t = (1 − 2)/√(1/3) = −√3, df = 2; with 2 df P(|T| ≥ |t|) = 1 − |t|/√(2 + t²).
  const r = welchTTest([1, 1, 1], [1, 2, 3]);
  close(r.t, -Math.sqrt(3), 1e-12, 't');
  close(r.df, 2, 1e-12, 'df');
  close(r.p, 1 - Math.sqrt(3 / 5), 1e-10, 'p');
});

test('both samples constant: equal → t 0, p 1; different → t ±Infinity, p 0; df n_a + n_b − 2', () => {
  assert.deepEqual(welchTTest([0.5, 0.5, 0.5], [0.5, 0.5]), { t: 0, p: 1, df: 3 });
  // 0.1 three times has a rounded mean ≠ 0.1: constancy is decided on the values, not a variance.
  assert.deepEqual(welchTTest([0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1]), { t: 0, p: 1, df: 5 });
  assert.deepEqual(welchTTest([1, 1], [0.25, 0.25, 0.25]), { t: Infinity, p: 0, df: 3 });
  assert.deepEqual(welchTTest([0, 0], [1, 1]), { t: -Infinity, p: 0, df: 2 });
});

test('fewer than 2 values or non-finite values are refused', () => {
  assert.throws(() => welchTTest([0.5], [0.1, 0.2]), /at least 2 values per sample; the first sample has 1/);
  assert.throws(() => welchTTest([0.5, 0.6], []), /the second sample has 0/);
  assert.throws(() => welchTTest([0.5, NaN], [0.1, 0.2]), /not finite/);
});

test('bonferroni multiplies by the number of tests and clamps at 1', () => {
  close(bonferroni(0.01, 3), 0.03, 1e-17, '0.01 × 3');
  assert.equal(bonferroni(0.4, 3), 1);
  assert.equal(bonferroni(1 / 3, 3), 1);
  assert.equal(bonferroni(0, 12), 0);
  assert.equal(bonferroni(0.2, 1), 0.2);
  assert.throws(() => bonferroni(0.1, 0), /positive integer/);
  assert.throws(() => bonferroni(1.5, 2), /\[0, 1\]/);
});

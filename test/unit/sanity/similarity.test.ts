/**
 * The sanity checks' similarity measures on maps with known answers: identities, negation,
 * a Spearman value computed by hand with ties, SSIM against an independent implementation of
 * Wang et al.'s formula, and HOG correlations that follow orientation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleRankCorrelation } from 'simple-statistics';
import { ssim as ssimJs } from 'ssim.js';
import { hog, hogCellSize, MapReference, similarities, spearman, spearmanAbs, ssim, ssimWindowSize } from '../../../src/extension/sanity/similarity';
import { midranks } from '../../../src/extension/sanity/ranks';
import { SIMILARITY_NAMES } from '../../../src/extension/sanity/types';
import { seededArray } from '../../helpers/tf-test';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('identical maps have similarity 1 on all four measures', () => {
  const a = seededArray(24 * 20, 1);
  const s = similarities(a, Float32Array.from(a), 24, 20);
  for (const k of SIMILARITY_NAMES) close(s[k], 1, 1e-12, k);
});

test('known answers at a model input size (224×224): identical → 1 on all four, negation → Spearman −1', () => {
  const a = seededArray(224 * 224, 13);
  const ref = new MapReference(a, 224, 224);
  const same = ref.compare(Float32Array.from(a));
  for (const k of SIMILARITY_NAMES) close(same[k], 1, 1e-12, k);
  const neg = ref.compare(a.map((v) => -v));
  close(neg.spearman, -1, 1e-12, 'spearman');
  close(neg.spearmanAbs, 1, 1e-12, 'spearmanAbs');
});

test('a map against its negation: Spearman −1, Spearman of |map| 1', () => {
  const a = seededArray(16 * 16, 2);
  const neg = a.map((v) => -v);
  close(spearman(a, neg), -1, 1e-12, 'spearman');
  close(spearmanAbs(a, neg), 1, 1e-12, 'spearmanAbs');
  const s = similarities(a, neg, 16, 16);
  close(s.spearman, -1, 1e-12, 'similarities().spearman');
  close(s.spearmanAbs, 1, 1e-12, 'similarities().spearmanAbs');
});

test('Spearman with ties equals the hand-computed midrank correlation', () => {
  // a: 1 2 2 3 5 4 → midranks 0 1.5 1.5 3 5 4;  b: 2 1 3 3 6 4 → 1 0 2.5 2.5 5 4.
  // Both mean 2.5; deviations (−2.5 −1 −1 .5 2.5 1.5) and (−1.5 −2.5 0 0 2.5 1.5):
  // Σ products 14.75, Σ squares 17 and 17, so rho = 14.75 / 17.
  const a = Float32Array.from([1, 2, 2, 3, 5, 4]);
  const b = Float32Array.from([2, 1, 3, 3, 6, 4]);
  assert.deepEqual(Array.from(midranks(a)), [0, 1.5, 1.5, 3, 5, 4]);
  close(spearman(a, b), 14.75 / 17, 1e-12, 'rho');
});

test('Spearman equals simple-statistics sampleRankCorrelation on maps with many ties', () => {
  // Values on a coarse grid (21 levels), so most values are tied; negative zeros included.
  const q = (x: Float32Array) => x.map((v) => Math.round(v * 10) / 10);
  const a = q(seededArray(4096, 3));
  const b = q(seededArray(4096, 4).map((v, i) => v + 0.5 * a[i]));
  a[0] = -0;
  a[1] = 0;
  close(spearman(a, b), sampleRankCorrelation(Array.from(a), Array.from(b)), 1e-12, 'spearman');
  const absA = Array.from(a, Math.abs);
  const absB = Array.from(b, Math.abs);
  close(spearmanAbs(a, b), sampleRankCorrelation(absA, absB), 1e-12, 'spearmanAbs');
});

test('constant maps: defined values, never NaN', () => {
  const flat = new Float32Array(64).fill(0.3);
  const other = new Float32Array(64).fill(-2);
  const a = seededArray(64, 5);
  assert.equal(spearman(flat, a), 0);
  assert.equal(spearman(flat, other), 1);
  const s = similarities(a, flat, 8, 8);
  assert.equal(s.spearman, 0);
  assert.equal(s.spearmanAbs, 0);
  assert.equal(s.hog, 0);
  assert.ok(Number.isFinite(s.ssim), `ssim ${s.ssim}`);
  // Two constant maps normalise to the same all-zero image: every measure says identical.
  const c = similarities(flat, other, 8, 8);
  for (const k of SIMILARITY_NAMES) assert.equal(c[k], 1, k);
});

/** Wang et al. 2004, written independently: Gaussian window σ = 1.5, every 'valid' position. */
function handSsim(a: number[], b: number[], h: number, w: number, size: number): number {
  const r = (size - 1) / 2;
  const g: number[] = [];
  for (let y = -r; y <= r; y++) for (let x = -r; x <= r; x++) g.push(Math.exp(-(x * x + y * y) / (2 * 1.5 * 1.5)));
  const total = g.reduce((s, v) => s + v, 0);
  const L = 255;
  const c1 = (0.01 * L) ** 2;
  const c2 = (0.03 * L) ** 2;
  let sum = 0;
  let count = 0;
  for (let y0 = 0; y0 + size <= h; y0++) {
    for (let x0 = 0; x0 + size <= w; x0++) {
      let ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
      for (let dy = 0; dy < size; dy++) {
        for (let dx = 0; dx < size; dx++) {
          const k = g[dy * size + dx] / total;
          const va = a[(y0 + dy) * w + x0 + dx];
          const vb = b[(y0 + dy) * w + x0 + dx];
          ma += k * va; mb += k * vb; saa += k * va * va; sbb += k * vb * vb; sab += k * va * vb;
        }
      }
      const varA = saa - ma * ma, varB = sbb - mb * mb, cov = sab - ma * mb;
      sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (varA + varB + c2));
      count++;
    }
  }
  return sum / count;
}

/** An 8-bit gray map holding both 0 and 255, so min–max normalisation leaves its values as they are. */
function gray8(h: number, w: number, seed: number): number[] {
  const v = Array.from(seededArray(h * w, seed), (x) => Math.round(((x + 1) / 2) * 255));
  v[0] = 0;
  v[1] = 255;
  return v;
}

test('SSIM equals the hand computation: 11×11 window on 13×14 maps, 5×5 on 6×7 maps', () => {
  for (const [h, w, size] of [[13, 14, 11], [6, 7, 5]]) {
    assert.equal(ssimWindowSize(h, w), size);
    const a = gray8(h, w, 6);
    const b = gray8(h, w, 7).map((v, i) => Math.round((v + a[i]) / 2));
    b[0] = 0;
    b[1] = 255;
    const got = ssim(Float32Array.from(a), Float32Array.from(b), h, w);
    close(got, handSsim(a, b, h, w, size), 1e-9, `ssim ${h}×${w}`);
    // The scale of a map does not matter: it is normalised first.
    close(ssim(Float32Array.from(a, (v) => v / 255 - 3), Float32Array.from(b), h, w), got, 1e-9, 'rescaled');
  }
});

test("SSIM's 'fast' variant gives ssim.js's 'original' Matlab port's value", () => {
  const [h, w] = [24, 20];
  const a = gray8(h, w, 8);
  const b = gray8(h, w, 9);
  const rgba = (v: number[]) => ({ data: Uint8ClampedArray.from(v.flatMap((x) => [x, x, x, 255])), width: w, height: h });
  const original = ssimJs(rgba(a), rgba(b), { ssim: 'original', k1: 0.01, k2: 0.03, windowSize: 11, bitDepth: 8, downsample: false }).mssim;
  close(ssim(Float32Array.from(a), Float32Array.from(b), h, w), original, 1e-12, 'ssim');
});

const N = 32;
/** A bright 6×24 bar in the middle of a dark 32×32 map, upright or lying. */
function bar(upright: boolean, shift = 0): Float32Array {
  const a = new Float32Array(N * N);
  for (let y = 4; y < 28; y++) for (let x = 13 + shift; x < 19 + shift; x++) a[upright ? y * N + x : x * N + y] = 1;
  return a;
}

test('HOG correlation: 1 for identical and positively scaled maps, low across orientations', () => {
  const a = seededArray(N * N, 10);
  close(hog(a, Float32Array.from(a), N, N), 1, 1e-12, 'identical');
  close(hog(a, a.map((v) => 3 * v + 1), N, N), 1, 1e-9, 'scaled by 3 (and shifted)');
  assert.equal(hogCellSize(N, N), 2);
  // An upright bar has vertical edges, a lying one horizontal edges: their orientation
  // histograms share almost nothing; the same bar one pixel to the side shares most cells.
  const across = hog(bar(true), bar(false), N, N);
  const shifted = hog(bar(true), bar(true, 1), N, N);
  assert.ok(Math.abs(across) < 0.1, `upright vs lying: ${across}`);
  assert.ok(shifted > 0.5, `upright vs shifted: ${shifted}`);
});

test('a prepared reference compares like similarities()', () => {
  const a = seededArray(20 * 30, 11);
  const b = seededArray(20 * 30, 12).map((v, i) => v + a[i]);
  const ref = new MapReference(a, 20, 30);
  assert.deepEqual(ref.compare(b), similarities(a, b, 20, 30));
  assert.throws(() => similarities(a, b, 30, 30), RangeError);
});

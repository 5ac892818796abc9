/**
 * The similarity measures against the packages they replaced, on random maps: simple-statistics
 * (midranks, Pearson), ssim.js ('fast' variant) and hog-features. The new code repeats the
 * packages' arithmetic operation for operation, so the values must be equal to the last bit —
 * on signed and non-negative maps, maps with many ties, maps with flat regions, constant maps,
 * NaN / ±Infinity / −0, and sizes from 2×3 to 224×224.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractHOG } from 'hog-features';
import { sampleCorrelation, sampleRankCorrelation } from 'simple-statistics';
import { ssim as ssimJs } from 'ssim.js';
import { normalizeMap } from '../../../src/shared/map-ops';
import { hogCellSize, hogDescriptor } from '../../../src/extension/sanity/hog';
import { correlation } from '../../../src/extension/sanity/pearson';
import { absoluteOf, midranks, midranksOf, sortValues } from '../../../src/extension/sanity/ranks';
import { MapReference, ssimWindowSize } from '../../../src/extension/sanity/similarity';
import { SIMILARITY_NAMES, type Similarities } from '../../../src/extension/sanity/types';
import { seededArray } from '../../helpers/tf-test';

// ---- The previous implementation, on the packages ----

const sanitized = (x: Float32Array) => Array.from(x, (v) => (Number.isFinite(v) ? v + 0 : 0));
const isConstant = (x: number[]) => x.every((v) => v === x[0]);

/** Pearson with the constant rule (0 if one input is constant, 1 if both), clamped. */
function previousCorrelation(x: number[], y: number[], pearson: (x: number[], y: number[]) => number): number {
  const cx = isConstant(x);
  const cy = isConstant(y);
  if (cx || cy) return cx && cy ? 1 : 0;
  return Math.max(-1, Math.min(1, pearson(x, y)));
}

function previousHog(normalised: Float32Array, h: number, w: number): number[] {
  const image = { width: w, height: h, components: 1, maxValue: 1, getValueXY: (x: number, y: number) => normalised[y * w + x] };
  return extractHOG(image, { cellSize: hogCellSize(h, w), blockSize: 2, blockStride: 1, bins: 9, norm: 'L2' });
}

function previousSsim(a: Float32Array, b: Float32Array, h: number, w: number): number {
  const rgba = (m: Float32Array) => {
    const data = new Uint8ClampedArray(4 * h * w);
    normalizeMap(m).forEach((v, i) => data.fill(Math.round(255 * v), 4 * i, 4 * i + 3).fill(255, 4 * i + 3, 4 * i + 4));
    return { data, width: w, height: h };
  };
  return ssimJs(rgba(a), rgba(b), { ssim: 'fast', k1: 0.01, k2: 0.03, windowSize: ssimWindowSize(h, w), bitDepth: 8, downsample: false }).mssim;
}

function previous(a: Float32Array, b: Float32Array, h: number, w: number): Similarities {
  const sa = sanitized(a);
  const sb = sanitized(b);
  return {
    spearman: previousCorrelation(sa, sb, sampleRankCorrelation),
    spearmanAbs: previousCorrelation(sa.map(Math.abs), sb.map(Math.abs), sampleRankCorrelation),
    ssim: previousSsim(a, b, h, w),
    hog: previousCorrelation(previousHog(normalizeMap(a), h, w), previousHog(normalizeMap(b), h, w), sampleCorrelation),
  };
}

// ---- Random maps ----

/** A smooth map: noise averaged over a (2r+1)² box, so neighbouring values are alike, as in saliency maps. */
function smooth(h: number, w: number, seed: number, r = 3): Float32Array {
  const noise = seededArray(h * w, seed);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) s += noise[Math.min(h - 1, Math.max(0, y + dy)) * w + Math.min(w - 1, Math.max(0, x + dx))];
      out[y * w + x] = s;
    }
  }
  return out;
}

/** Pairs of maps (reference, other) of one size, of every kind the cascade can produce. */
function pairs(h: number, w: number, seed: number): [string, Float32Array, Float32Array][] {
  const n = h * w;
  const a = seededArray(n, seed);
  const b = seededArray(n, seed + 1).map((v, i) => v + 0.5 * a[i]);
  const coarse = (x: Float32Array) => x.map((v) => Math.round(v * 4) / 4);
  const relu = (x: Float32Array) => x.map((v) => Math.max(0, v));
  const sa = smooth(h, w, seed + 2);
  const sb = smooth(h, w, seed + 3).map((v, i) => v + sa[i]);
  const odd = Float32Array.from(a);
  odd[0] = NaN;
  odd[1] = Infinity;
  odd[2 % n] = -Infinity;
  odd[3 % n] = -0;
  return [
    ['signed', a, b],
    ['non-negative', a.map(Math.abs), b.map(Math.abs)],
    ['many ties', coarse(a), coarse(b)],
    ['smooth with flat zero regions (ReLU)', relu(sa), relu(sb)],
    ['smooth signed', sa, sb],
    ['negation', a, a.map((v) => -v)],
    ['identical', a, Float32Array.from(a)],
    ['against a constant map', a, new Float32Array(n).fill(0.25)],
    ['constant against a map', new Float32Array(n).fill(-3), b],
    ['two constant maps', new Float32Array(n).fill(1), new Float32Array(n)],
    ['NaN, ±Infinity and −0', odd, b],
    ['small magnitudes (subnormal floats)', a.map((v) => v * 1e-40), b.map((v) => v * 1e-40)],
  ];
}

const SIZES: [number, number][] = [[2, 3], [8, 9], [13, 14], [37, 53], [64, 64], [224, 224]];

test('MapReference.compare equals the previous implementation to the last bit', () => {
  for (const [h, w] of SIZES) {
    for (const [kind, a, b] of pairs(h, w, h * 1000 + w)) {
      const got = new MapReference(a, h, w).compare(b);
      const want = previous(a, b, h, w);
      for (const k of SIMILARITY_NAMES) assert.equal(got[k], want[k], `${k}, ${kind}, ${h}×${w}`);
    }
  }
});

test('one reference compared with many maps gives what fresh references give (no state leaks between comparisons)', () => {
  const [h, w] = [40, 36];
  const list = pairs(h, w, 77);
  const ref = new MapReference(list[0][1], h, w);
  for (const [kind, , b] of list) assert.deepEqual(ref.compare(b), new MapReference(list[0][1], h, w).compare(b), kind);
});

test('each measure alone (MapReference.measure) equals its value in compare()', () => {
  const [h, w] = [30, 31];
  for (const [kind, a, b] of pairs(h, w, 5)) {
    const ref = new MapReference(a, h, w);
    const all = ref.compare(b);
    for (const k of SIMILARITY_NAMES) assert.equal(ref.measure(k, b), all[k], `${k}, ${kind}`);
  }
});

/** A linear ramp rising towards `degrees`: its gradients point there, give or take float32 rounding. */
function ramp(h: number, w: number, degrees: number): Float32Array {
  const [c, s] = [Math.cos((degrees * Math.PI) / 180), Math.sin((degrees * Math.PI) / 180)];
  return Float32Array.from({ length: h * w }, (_, i) => c * (i % w) + s * Math.floor(i / w));
}

test('HOG descriptors equal hog-features to the last bit', () => {
  for (const [h, w] of [[2, 2], [16, 17], [33, 64], [64, 64], [100, 90]] as const) {
    for (const [kind, a] of pairs(h, w, 9)) {
      const normalised = normalizeMap(a);
      assert.deepEqual(Array.from(hogDescriptor(normalised, h, w)), previousHog(normalised, h, w), `${kind}, ${h}×${w}`);
    }
  }
});

test('HOG bins equal hog-features on and near the edges between bins (10°, 30°, …, 170°)', () => {
  // Ramps along each edge put most gradients within float32 rounding of it (the 90° one exactly
  // on it); the ones between edges and the axes are bin centres and flat directions.
  for (let degrees = 0; degrees < 360; degrees += 5) {
    const normalised = normalizeMap(ramp(40, 40, degrees));
    assert.deepEqual(Array.from(hogDescriptor(normalised, 40, 40)), previousHog(normalised, 40, 40), `ramp at ${degrees}°`);
  }
});

/** Midranks by definition: sort (value, index) pairs with a comparator, average the positions of ties. */
function referenceMidranks(values: number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((p, q) => p[0] - q[0]);
  const ranks = new Array<number>(values.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    for (let k = i; k <= j; k++) ranks[order[k][1]] = (i + j) / 2;
    i = j + 1;
  }
  return ranks;
}

test('radix-sorted midranks equal comparator-sorted ones, signed and absolute, across the float range', () => {
  const n = 5000;
  const wide = seededArray(n, 21).map((v, i) => v * 10 ** ((i % 77) - 38)); // every exponent, both signs
  const extremes = Float32Array.from([3.4e38, -3.4e38, 1e-45, -1e-45, 0, -0, 1, -1, 1.0000001, -1.0000001, 2, -2]);
  const sameExponent = seededArray(n, 22).map((v) => 1 + Math.abs(v) / 2); // all in [1, 1.5]: shared high digits
  const fewLevels = seededArray(n, 23).map((v) => Math.round(v * 3) / 3); // ties everywhere, ±x pairs
  const allEqual = new Float32Array(n).fill(-7);
  for (const [kind, values] of [['wide', wide], ['extremes', extremes], ['same exponent', sameExponent], ['few levels', fewLevels], ['all equal', allEqual]] as const) {
    const plain = sanitized(values);
    assert.deepEqual(Array.from(midranks(values)), referenceMidranks(plain), `signed, ${kind}`);
    // |values| from the signed order, without a sort of their own.
    assert.deepEqual(Array.from(midranksOf(absoluteOf(sortValues(values)))), referenceMidranks(plain.map(Math.abs)), `absolute, ${kind}`);
  }
  // Plain arrays hold doubles: beyond float32's range they are finite, and rank as the ±Infinity they round to.
  assert.deepEqual(Array.from(midranks([1e39, 1, NaN, -Infinity, -1e39, -0, 0])), [6, 5, 2.5, 2.5, 0, 2.5, 2.5]);
});

test('Pearson equals simple-statistics sampleCorrelation to the last bit', () => {
  for (const seed of [1, 2, 3]) {
    const x = Array.from(seededArray(1000, seed), (v) => v * 1e3 + 5);
    const y = Array.from(seededArray(1000, seed + 10), (v, i) => v + x[i] * 1e-3);
    assert.equal(correlation(x, y), sampleCorrelation(x, y));
  }
});

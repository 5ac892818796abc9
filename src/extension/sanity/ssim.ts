/**
 * SSIM of two 8-bit gray maps (Wang et al. 2004) as ssim.js 3.5's 'fast' variant computes it —
 * Gaussian window σ = 1.5 as two 1-D passes, 'valid' windows only, L = 255, C1 = (0.01 L)²,
 * C2 = (0.03 L)², mean over the windows — with the same operations in the same order, so the
 * values are the same to the last bit (the unit tests check it against ssim.js).
 *
 * Cost: ssim.js computes five 'full' convolutions of plain arrays per pair and then crops them
 * to the 'valid' part, and allocates a fresh array for every element-wise step. Here only the
 * 'valid' outputs are computed, over typed arrays; the reference's mean and variance maps are
 * computed once, and a comparison costs the three filtered maps that involve the other map
 * (its mean, its square's mean, the product's mean) in one pass over it, through a ring of a
 * window's height of filtered rows that stays in cache.
 */

const K1 = 0.01;
const K2 = 0.03;
const L = 2 ** 8 - 1;
const C1 = (K1 * L) ** 2;
const C2 = (K2 * L) ** 2;
const SIGMA = 1.5;
const MAX_WINDOW = 11;
/** √(2π) as ssim.js's normpdf writes it. */
const SQ2PI = 2.506628274631000502415765284811;

/** The SSIM window side for an h × w map: 11, or the largest odd size ≤ min(h, w). */
export function ssimWindowSize(h: number, w: number): number {
  const m = Math.min(MAX_WINDOW, h, w);
  return m % 2 === 1 ? m : m - 1;
}

/** A normalised map (values in [0, 1]) quantised to 8-bit gray. */
export function gray8(normalised: Float32Array): Uint8Array {
  const out = new Uint8Array(normalised.length);
  for (let i = 0; i < normalised.length; i++) out[i] = Math.round(255 * normalised[i]);
  return out;
}

/** The 1-D window: normpdf(|x|, 0, σ) over −r..r, divided by its sum (ssim.js's arithmetic). */
function gaussianWindow(size: number): Float64Array {
  const r = Math.floor(size / 2);
  const g = new Float64Array(2 * r + 1);
  for (let x = -r; x <= r; x++) {
    const z = Math.abs(x) / SIGMA;
    g[x + r] = Math.exp(-(z ** 2) / 2) / (SIGMA * SQ2PI);
  }
  let sum = 0;
  for (let i = 0; i < g.length; i++) sum += g[i];
  for (let i = 0; i < g.length; i++) g[i] /= sum;
  return g;
}

/** Where a pass writes: the ring of the last s row-filtered rows of b, b² and a·b, or an output row. */
interface Moments {
  b: Float64Array;
  bSq: Float64Array;
  ab: Float64Array;
}

/**
 * Row pass, one image row (starting at `src`) into `out` at `dst`, for any window size s:
 * output x sums the taps k = 0..s−1 over input x + s−1−k, in that order (see windowMeans).
 */
function filterRow(a: Uint8Array, b: Uint8Array, src: number, g: Float64Array, out: Moments, dst: number, outW: number): void {
  const s = g.length;
  for (let x = 0; x < outW; x++) {
    const last = src + x + s - 1;
    let accB = 0;
    let accBSq = 0;
    let accAB = 0;
    for (let k = 0; k < s; k++) {
      const v = b[last - k];
      accB += v * g[k];
      accBSq += v * v * g[k];
      accAB += a[last - k] * v * g[k];
    }
    out.b[dst + x] = accB;
    out.bSq[dst + x] = accBSq;
    out.ab[dst + x] = accAB;
  }
}

/**
 * filterRow for the 11-tap window of every map of 11 pixels or more, the taps written out: V8
 * does not unroll loops, and an 11-step loop's bookkeeping costs as much as its arithmetic
 * (this pass and the next take half the time). The sums run in the same order.
 */
function filterRow11(a: Uint8Array, b: Uint8Array, src: number, g: Float64Array, out: Moments, dst: number, outW: number): void {
  const [g0, g1, g2, g3, g4, g5, g6, g7, g8, g9, g10] = g;
  for (let x = 0; x < outW; x++) {
    const l = src + x + 10;
    const b0 = b[l], b1 = b[l - 1], b2 = b[l - 2], b3 = b[l - 3], b4 = b[l - 4], b5 = b[l - 5];
    const b6 = b[l - 6], b7 = b[l - 7], b8 = b[l - 8], b9 = b[l - 9], b10 = b[l - 10];
    out.b[dst + x] = b0 * g0 + b1 * g1 + b2 * g2 + b3 * g3 + b4 * g4 + b5 * g5 + b6 * g6 + b7 * g7 + b8 * g8 + b9 * g9 + b10 * g10;
    out.bSq[dst + x] = b0 * b0 * g0 + b1 * b1 * g1 + b2 * b2 * g2 + b3 * b3 * g3 + b4 * b4 * g4 + b5 * b5 * g5
      + b6 * b6 * g6 + b7 * b7 * g7 + b8 * b8 * g8 + b9 * b9 * g9 + b10 * b10 * g10;
    out.ab[dst + x] = a[l] * b0 * g0 + a[l - 1] * b1 * g1 + a[l - 2] * b2 * g2 + a[l - 3] * b3 * g3 + a[l - 4] * b4 * g4
      + a[l - 5] * b5 * g5 + a[l - 6] * b6 * g6 + a[l - 7] * b7 * g7 + a[l - 8] * b8 * g8 + a[l - 9] * b9 * g9 + a[l - 10] * b10 * g10;
  }
}

/**
 * Column pass: output row x sums ring rows rows[0], rows[1], … (the newest first) with taps
 * 0, 1, …, in that order.
 */
function filterColumns(ring: Moments, rows: Int32Array, g: Float64Array, out: Moments, outW: number): void {
  const s = g.length;
  for (let x = 0; x < outW; x++) {
    let accB = 0;
    let accBSq = 0;
    let accAB = 0;
    for (let k = 0; k < s; k++) {
      const at = rows[k] + x;
      accB += ring.b[at] * g[k];
      accBSq += ring.bSq[at] * g[k];
      accAB += ring.ab[at] * g[k];
    }
    out.b[x] = accB;
    out.bSq[x] = accBSq;
    out.ab[x] = accAB;
  }
}

/** filterColumns for the 11-tap window, the taps written out (see filterRow11). */
function filterColumns11(ring: Moments, rows: Int32Array, g: Float64Array, out: Moments, outW: number): void {
  columns11(ring.b, rows, g, out.b, outW);
  columns11(ring.bSq, rows, g, out.bSq, outW);
  columns11(ring.ab, rows, g, out.ab, outW);
}

function columns11(src: Float64Array, rows: Int32Array, g: Float64Array, dst: Float64Array, outW: number): void {
  const [g0, g1, g2, g3, g4, g5, g6, g7, g8, g9, g10] = g;
  const [r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10] = rows;
  for (let x = 0; x < outW; x++) {
    dst[x] = src[r0 + x] * g0 + src[r1 + x] * g1 + src[r2 + x] * g2 + src[r3 + x] * g3 + src[r4 + x] * g4 + src[r5 + x] * g5
      + src[r6 + x] * g6 + src[r7 + x] * g7 + src[r8 + x] * g8 + src[r9 + x] * g9 + src[r10 + x] * g10;
  }
}

const moments = (n: number): Moments => ({ b: new Float64Array(n), bSq: new Float64Array(n), ab: new Float64Array(n) });

/**
 * The window means of b, b² and a·b for two 8-bit h × w maps, one 'valid' output row at a time:
 * `row(y, means)` gets rows of w − s + 1 values, y = 0 .. h − s. The window is separable: rows
 * are filtered first, into a ring of the last s filtered rows (it stays in cache), then columns.
 * A full convolution (ssim.js's) accumulates output (y, x) over the taps k = 0..s−1 from input
 * (y, x + s−1−k), then likewise over rows: the window is symmetric, but that summation order is
 * kept so that the rounding is ssim.js's. Squares and products of 8-bit values are exact, as
 * they are in ssim.js.
 */
function windowMeans(a: Uint8Array, b: Uint8Array, h: number, w: number, g: Float64Array, row: (y: number, means: Moments) => void): void {
  const s = g.length;
  const outW = w - s + 1;
  const ring = moments(s * outW);
  const means = moments(outW);
  const rows = new Int32Array(s);
  const rowPass = s === 11 ? filterRow11 : filterRow;
  const columnPass = s === 11 ? filterColumns11 : filterColumns;
  for (let y = 0; y < h; y++) {
    rowPass(a, b, y * w, g, ring, (y % s) * outW, outW);
    if (y < s - 1) continue;
    // Output row y − s + 1 sums filtered rows y, y − 1, …, y − s + 1 (taps 0, 1, …, s − 1).
    for (let k = 0; k < s; k++) rows[k] = ((y - k) % s) * outW;
    columnPass(ring, rows, g, means, outW);
    row(y - s + 1, means);
  }
}

/**
 * A gray reference map prepared once: its window means μ1 and variances σ1² (E[a²] − μ1²).
 * compare() gives the mean SSIM against another gray map of the same size.
 */
export class SsimReference {
  private readonly g: Float64Array;
  private readonly outW: number;
  private readonly mu1: Float64Array;
  private readonly mu1Sq: Float64Array;
  private readonly sigma1Sq: Float64Array;

  constructor(private readonly gray: Uint8Array, readonly height: number, readonly width: number) {
    if (gray.length !== height * width) throw new RangeError(`gray map has ${gray.length} values, expected ${height}×${width}`);
    this.g = gaussianWindow(ssimWindowSize(height, width));
    this.outW = width - this.g.length + 1;
    const valid = (height - this.g.length + 1) * this.outW;
    this.mu1 = new Float64Array(valid);
    this.mu1Sq = new Float64Array(valid);
    this.sigma1Sq = new Float64Array(valid);
    // The reference against itself: its means, and its squares' means.
    windowMeans(gray, gray, height, width, this.g, (y, means) => {
      const at = y * this.outW;
      for (let x = 0; x < this.outW; x++) {
        const mu = means.b[x];
        this.mu1[at + x] = mu;
        this.mu1Sq[at + x] = mu * mu;
        this.sigma1Sq[at + x] = means.bSq[x] - mu * mu;
      }
    });
  }

  compare(gray: Uint8Array): number {
    if (gray.length !== this.gray.length) throw new RangeError(`gray map has ${gray.length} values, expected ${this.height}×${this.width}`);
    const { mu1, mu1Sq, sigma1Sq, outW } = this;
    // genSSIM's element-wise steps, in its order of operations, summed in row-major order.
    let sum = 0;
    windowMeans(this.gray, gray, this.height, this.width, this.g, (y, { b: mu2, bSq: bSqMean, ab: abMean }) => {
      const at = y * outW;
      for (let x = 0; x < outW; x++) {
        const i = at + x;
        const mu2Sq = mu2[x] * mu2[x];
        const mu12 = mu1[i] * mu2[x];
        const sigma2Sq = bSqMean[x] - mu2Sq;
        const sigma12 = abMean[x] - mu12;
        const num1 = mu12 * 2 + C1;
        const num2 = sigma12 * 2 + C2;
        const den1 = mu1Sq[i] + mu2Sq + C1;
        const den2 = sigma1Sq[i] + sigma2Sq + C2;
        sum += (num1 * num2) / (den1 * den2);
      }
    });
    return sum / mu1.length;
  }
}

/**
 * Midranks and correlations for the similarity metrics, with one rule for constant inputs.
 *
 * Spearman's rho is Pearson's correlation of midranks (tied values share the mean of the ranks
 * they span), which is what simple-statistics' sampleRankCorrelation computes. Its midranks sort
 * arrays of [value, index] pairs with a comparator: about 60 ms per comparison of two 224×224
 * maps, more than a Grad-CAM run on MobileNetV2, and twice per map (raw and |map|). Here the
 * same midranks come from one numeric sort of packed keys (a few ms), and a map's ranks can be
 * computed once and compared with many; the Pearson step is simple-statistics' own. The unit
 * tests check the result against sampleRankCorrelation.
 */
import { sampleCorrelation } from 'simple-statistics';

/** Indices fit in 21 bits so that (32-bit key) · 2²¹ + index stays an exact double (< 2⁵³). */
const INDEX_BITS = 2 ** 21;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** A float32's bits mapped to an unsigned integer with the same order as the floats. */
function orderedBits(v: number): number {
  f32[0] = v;
  const b = u32[0];
  // Negative floats order backwards by their bits: flip them all; positives: set the sign bit.
  return b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
}

/** The map's values as float32, NaN and ±Infinity as 0 (as normalizeMap does), −0 as +0. */
function sanitize(values: ArrayLike<number>): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number.isFinite(values[i]) ? values[i] + 0 : 0;
  return out;
}

/** Indices of `v` in ascending order of value. */
function ascendingOrder(v: Float32Array): Uint32Array {
  const n = v.length;
  if (n > INDEX_BITS) return Uint32Array.from({ length: n }, (_, i) => i).sort((i, j) => v[i] - v[j]);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = orderedBits(v[i]) * INDEX_BITS + i;
  keys.sort();
  const order = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[k] = keys[k] % INDEX_BITS;
  return order;
}

/**
 * 0-based midranks: the values at sorted positions i..j that are equal all get (i + j) / 2.
 * (simple-statistics uses the same 0-based midranks; correlations do not see the offset.)
 */
export function midranks(values: ArrayLike<number>): number[] {
  const v = sanitize(values);
  const order = ascendingOrder(v);
  // A plain array: simple-statistics reads it twice as fast as a typed one, and converting costs more.
  const ranks = new Array<number>(v.length);
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && v[order[j + 1]] === v[order[i]]) j++;
    const rank = (i + j) / 2;
    for (let k = i; k <= j; k++) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

export function isConstant(x: ArrayLike<number>): boolean {
  for (let i = 1; i < x.length; i++) if (x[i] !== x[0]) return false;
  return true;
}

/**
 * Pearson's correlation (simple-statistics' sampleCorrelation), clamped to [−1, 1] against
 * rounding. It is undefined (0/0) when an input is constant; then the result is 0 when only one
 * is (a constant has no ordering to share) and 1 when both are (identical, empty orderings) —
 * so a map always has similarity 1 with itself, and never NaN.
 */
export function correlation(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError(`cannot correlate ${x.length} values with ${y.length}`);
  const cx = isConstant(x);
  const cy = isConstant(y);
  if (cx || cy) return cx && cy ? 1 : 0;
  const r = sampleCorrelation(x, y);
  return Math.max(-1, Math.min(1, r));
}

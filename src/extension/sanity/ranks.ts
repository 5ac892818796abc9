/**
 * Ranks for the Spearman measures: Spearman's rho is Pearson's correlation of midranks — tied
 * values share the mean of the ranks they span — which is what simple-statistics'
 * sampleRankCorrelation computes; the values are the same to the last bit (the unit tests check
 * it).
 *
 * Cost: every map of the cascade is ranked twice (raw and |map|) and correlated with its
 * original's ranks. The values are float32, so their bit patterns, mapped to unsigned integers
 * in the same order, sort with an LSD radix sort — three counting passes of 11 bits, O(n), no
 * comparator calls (four passes of 8 bits measured slower, on 64² maps too). The order of |map|
 * follows from the signed order without a second sort: the negatives, read backwards, are the
 * ascending order of their magnitudes, merged with the non-negatives. And a map's ranks are
 * never written out: the correlation reads the sorted order group by group (RankReference).
 */

const DIGIT_BITS = 11;
const RADIX = 1 << DIGIT_BITS;
const MASK = RADIX - 1;
const PASSES = 3;
const SIGN = 0x80000000;
const EXPONENT = 0x7f800000;

/**
 * Unsigned integers in the order of the values as float32, with NaN and ±Infinity as 0 (as
 * normalizeMap does) and −0 as +0: negative floats order backwards by their bits (flip them all),
 * non-negative ones forwards (set the sign bit). Equal floats get equal keys.
 */
function orderedKeys(values: ArrayLike<number>): Uint32Array {
  // Float32 maps (all the cascade's) are copied as they are and cleaned up as bits; other arrays
  // are cleaned up value by value before they round to float32 (a double beyond float32's range
  // is finite, and ranks as the ±Infinity it rounds to).
  const f32 = values instanceof Float32Array;
  const v = f32 ? values.slice() : Float32Array.from(values, (x) => (Number.isFinite(x) ? x : 0));
  const keys = new Uint32Array(v.buffer, v.byteOffset, v.length);
  for (let i = 0; i < keys.length; i++) {
    let b = keys[i];
    if (b === SIGN || (f32 && (b & EXPONENT) === EXPONENT)) b = 0; // −0; NaN, ±Infinity
    keys[i] = b & SIGN ? ~b >>> 0 : (b | SIGN) >>> 0;
  }
  return keys;
}

/** A map's values in ascending order: their keys, and the position each came from (ties in any order). */
export interface Sorted {
  keys: Uint32Array;
  order: Uint32Array;
}

/** Sorts `keys`, whose buffer it reuses as scratch space. */
function radixSort(keys: Uint32Array): Sorted {
  const n = keys.length;
  // All three digits' counts in one read of the keys (a loop over the digits here costs a fifth more).
  const counts = new Uint32Array(PASSES * RADIX);
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    counts[k & MASK]++;
    counts[RADIX + ((k >>> DIGIT_BITS) & MASK)]++;
    counts[2 * RADIX + (k >>> (2 * DIGIT_BITS))]++;
  }
  let srcKeys: Uint32Array = keys;
  let srcOrder: Uint32Array = new Uint32Array(n);
  for (let i = 0; i < n; i++) srcOrder[i] = i;
  let dstKeys: Uint32Array = new Uint32Array(n);
  let dstOrder: Uint32Array = new Uint32Array(n);
  for (let p = 0; p < PASSES; p++) {
    const shift = p * DIGIT_BITS;
    const base = p * RADIX;
    // A digit all keys share would move nothing (maps often span few exponents): skip its pass.
    if (n === 0 || counts[base + ((srcKeys[0] >>> shift) & MASK)] === n) continue;
    let offset = 0;
    for (let d = base; d < base + RADIX; d++) {
      const c = counts[d];
      counts[d] = offset;
      offset += c;
    }
    for (let i = 0; i < n; i++) {
      const k = srcKeys[i];
      const at = counts[base + ((k >>> shift) & MASK)]++;
      dstKeys[at] = k;
      dstOrder[at] = srcOrder[i];
    }
    [srcKeys, dstKeys] = [dstKeys, srcKeys];
    [srcOrder, dstOrder] = [dstOrder, srcOrder];
  }
  return { keys: srcKeys, order: srcOrder };
}

/** 0-based midranks from sorted keys: equal keys at sorted positions i..j all get (i + j) / 2. */
export function midranksOf({ keys, order }: Sorted): Float64Array {
  const n = keys.length;
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && keys[j + 1] === keys[i]) j++;
    const rank = (i + j) / 2;
    for (let k = i; k <= j; k++) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

/**
 * The sorted keys of |v| from the sorted keys of v. A negative float's key is ~bits, and its
 * magnitude's key is bits (sign bit set, as every non-negative key has): ~key.
 */
export function absoluteOf(sorted: Sorted): Sorted {
  const { keys, order } = sorted;
  const n = keys.length;
  let negatives = 0;
  while (negatives < n && keys[negatives] < SIGN) negatives++;
  if (negatives === 0) return sorted;
  const absKeys = new Uint32Array(n);
  const absOrder = new Uint32Array(n);
  let neg = negatives - 1;
  let pos = negatives;
  let k = 0;
  while (neg >= 0 && pos < n) {
    const fromNeg = ~keys[neg] >>> 0;
    const fromPos = keys[pos];
    if (fromNeg <= fromPos) {
      absKeys[k] = fromNeg;
      absOrder[k++] = order[neg--];
    } else {
      absKeys[k] = fromPos;
      absOrder[k++] = order[pos++];
    }
  }
  for (; neg >= 0; neg--, k++) {
    absKeys[k] = ~keys[neg] >>> 0;
    absOrder[k] = order[neg];
  }
  for (; pos < n; pos++, k++) {
    absKeys[k] = keys[pos];
    absOrder[k] = order[pos];
  }
  return { keys: absKeys, order: absOrder };
}

/** The values (NaN and ±Infinity as 0, −0 as +0) in ascending order. */
export function sortValues(values: ArrayLike<number>): Sorted {
  return radixSort(orderedKeys(values));
}

/**
 * 0-based midranks: the values at sorted positions i..j that are equal all get (i + j) / 2.
 * (simple-statistics uses the same 0-based midranks; correlations do not see the offset.)
 */
export function midranks(values: ArrayLike<number>): Float64Array {
  return midranksOf(sortValues(values));
}

const isConstant = ({ keys }: Sorted) => keys.length < 2 || keys[0] === keys[keys.length - 1];

/**
 * A reference map's midranks, prepared once, to correlate with other maps' (Spearman's rho).
 * Pearson's correlation is undefined (0/0) when a map is constant; then the result is 0 when
 * only one is (a constant has no ordering to share) and 1 when both are (identical, empty
 * orderings) — so a map always has similarity 1 with itself, and never NaN.
 *
 * The arithmetic is simple-statistics' sampleCorrelation: cov / sd(x) / sd(y) with Bessel's
 * correction. Midranks are multiples of ½ and their mean (n − 1) / 2 is too, so every deviation
 * is a multiple of ½, every product and square a multiple of ¼, and every sum below 2⁵³ / 4 for
 * maps up to 300 000 pixels: all exact, whatever the order of summation — which is why the
 * other map's sum can run in sorted order, one tie group at a time, and still equal the package's.
 */
export class RankReference {
  private readonly mean: number;
  /** Midrank − mean, by position. */
  private readonly d: Float64Array;
  private readonly squares: number;
  private readonly constant: boolean;

  constructor(sorted: Sorted) {
    const n = sorted.keys.length;
    this.constant = isConstant(sorted);
    this.mean = (n - 1) / 2;
    this.d = midranksOf(sorted);
    let squares = 0;
    for (let i = 0; i < n; i++) {
      const v = this.d[i] - this.mean;
      this.d[i] = v;
      squares += v * v;
    }
    this.squares = squares;
  }

  correlate(other: Sorted): number {
    const { keys, order } = other;
    const n = this.d.length;
    if (keys.length !== n) throw new RangeError(`cannot correlate ${n} values with ${keys.length}`);
    const otherConstant = isConstant(other);
    if (this.constant || otherConstant) return this.constant && otherConstant ? 1 : 0;
    const d = this.d;
    let products = 0;
    let squares = 0;
    let i = 0;
    while (i < n) {
      let j = i;
      while (j + 1 < n && keys[j + 1] === keys[i]) j++;
      const dev = (i + j) / 2 - this.mean;
      let sum = 0;
      for (let k = i; k <= j; k++) sum += d[order[k]];
      products += sum * dev;
      squares += (j - i + 1) * dev * dev;
      i = j + 1;
    }
    const bessel = n - 1;
    const r = products / bessel / Math.sqrt(this.squares / bessel) / Math.sqrt(squares / bessel);
    return Math.max(-1, Math.min(1, r));
  }
}

/**
 * Pearson's correlation (of HOG descriptors; the ranks have their own, ranks.ts), with one rule
 * for constant inputs, and a prepared form for a reference that is correlated with many others.
 *
 * The arithmetic is simple-statistics' sampleCorrelation step for step — a compensated sum for
 * the means, then cov / sd(x) / sd(y) with Bessel's correction — so the values are the same to
 * the last bit (the unit tests check it), while the reference's deviations are computed once
 * and nothing goes through plain arrays.
 */

/** simple-statistics' sum: Neumaier's compensated summation (the order of operations matters). */
function compensatedSum(x: ArrayLike<number>): number {
  if (x.length === 0) return 0;
  let sum = x[0];
  let correction = 0;
  for (let i = 1; i < x.length; i++) {
    const v = x[i];
    const t = sum + v;
    correction += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
    sum = t;
  }
  return sum + correction;
}

function isConstant(x: ArrayLike<number>): boolean {
  for (let i = 1; i < x.length; i++) if (x[i] !== x[0]) return false;
  return true;
}

/** x minus its mean, and the sum of its squares. */
function deviations(x: ArrayLike<number>): { d: Float64Array; squares: number } {
  const mean = compensatedSum(x) / x.length;
  const d = new Float64Array(x.length);
  let squares = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] - mean;
    d[i] = v;
    squares += v * v;
  }
  return { d, squares };
}

/**
 * A reference series prepared once. Pearson's correlation is undefined (0/0) when an input is
 * constant (fewer than two values count as constant); then the result is 0 when only one is (a
 * constant has no ordering to share) and 1 when both are (identical, empty orderings) — so a
 * map always has similarity 1 with itself, and never NaN. Results are clamped to [−1, 1]
 * against rounding.
 */
export class PearsonReference {
  private readonly d: Float64Array;
  private readonly squares: number;
  private readonly constant: boolean;

  constructor(x: ArrayLike<number>) {
    this.constant = isConstant(x);
    ({ d: this.d, squares: this.squares } = deviations(x));
  }

  correlate(y: ArrayLike<number>): number {
    const n = this.d.length;
    if (y.length !== n) throw new RangeError(`cannot correlate ${n} values with ${y.length}`);
    const cy = isConstant(y);
    if (this.constant || cy) return this.constant && cy ? 1 : 0;
    const mean = compensatedSum(y) / n;
    const dx = this.d;
    let products = 0;
    let squares = 0;
    for (let i = 0; i < n; i++) {
      const v = y[i] - mean;
      products += dx[i] * v;
      squares += v * v;
    }
    // sampleCovariance / sampleStandardDeviation(x) / sampleStandardDeviation(y), as written there.
    const bessel = n - 1;
    const r = products / bessel / Math.sqrt(this.squares / bessel) / Math.sqrt(squares / bessel);
    return Math.max(-1, Math.min(1, r));
  }
}

/** Pearson's correlation of two series of the same length (constant inputs: see PearsonReference). */
export function correlation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`cannot correlate ${x.length} values with ${y.length}`);
  return new PearsonReference(x).correlate(y);
}

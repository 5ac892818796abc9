/**
 * The statistics of a TCAV experiment: mean and sample standard deviation over runs, Welch's
 * two-sided t-test of a concept's scores against the random-vs-random scores (stdlib), and the
 * Bonferroni correction.
 */
import ttest2 from '@stdlib/stats-ttest2';

/**
 * Mean and sample standard deviation (n − 1; 0 for a single value). The sums are taken relative to
 * the first value, so equal values give exactly that mean and a standard deviation of exactly 0.
 * Throws on no values.
 */
export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const n = xs.length;
  if (n === 0) throw new RangeError('mean and standard deviation of no values');
  let shifted = 0;
  for (const x of xs) shifted += x - xs[0];
  const mean = xs[0] + shifted / n;
  if (n < 2) return { mean, std: 0 };
  let ss = 0;
  for (const x of xs) ss += (x - mean) ** 2;
  return { mean, std: Math.sqrt(ss / (n - 1)) };
}

/**
 * Two-sided Welch t-test of mean(a) = mean(b) via @stdlib/stats-ttest2; t > 0 when mean(a) is
 * larger. Cases the library cannot handle (both samples constant: zero standard error) are
 * defined here, with df = n_a + n_b − 2:
 * - both constant and equal → t = 0, p = 1;
 * - both constant and different → t = ±Infinity, p = 0.
 * Throws when a sample has fewer than 2 values or a value is not finite.
 */
export function welchTTest(a: readonly number[], b: readonly number[]): { t: number; p: number; df: number } {
  for (const [name, xs] of [['first', a], ['second', b]] as const) {
    if (xs.length < 2) throw new RangeError(`Welch's t-test needs at least 2 values per sample; the ${name} sample has ${xs.length}`);
    if (!xs.every(Number.isFinite)) throw new RangeError(`Welch's t-test: the ${name} sample has a value that is not finite`);
  }
  // Exact constancy, not a zero computed variance: [0.1, 0.1, 0.1] may round to a tiny variance.
  if (isConstant(a) && isConstant(b)) {
    const df = a.length + b.length - 2;
    if (a[0] === b[0]) return { t: 0, p: 1, df };
    return { t: a[0] > b[0] ? Infinity : -Infinity, p: 0, df };
  }
  const r = ttest2(a as number[], b as number[], { variance: 'unequal', alternative: 'two-sided' });
  return { t: r.statistic, p: r.pValue, df: r.df };
}

/** Bonferroni-adjusted p-value: min(1, p · tests). */
export function bonferroni(p: number, tests: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`a p-value must be in [0, 1], got ${p}`);
  if (!(Number.isInteger(tests) && tests >= 1)) throw new RangeError(`the number of tests must be a positive integer, got ${tests}`);
  return Math.min(1, p * tests);
}

function isConstant(xs: readonly number[]): boolean {
  return xs.every((x) => x === xs[0]);
}

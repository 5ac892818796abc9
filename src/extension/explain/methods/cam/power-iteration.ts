/**
 * The largest eigenvalue of a symmetric positive semi-definite matrix and its unit eigenvector,
 * by power iteration (Golub & Van Loan, Matrix Computations, §8.2.1) from a seeded random start:
 * x ← Kx / ‖Kx‖ until the residual ‖Kx − λx‖ with λ = xᵀKx falls to `tolerance`·λ. The error
 * shrinks like (λ₂/λ₁)^k, so a clear leading eigenvalue converges in a few dozen steps; when the
 * top two are nearly equal the leading direction is ill-defined anyway and the iteration stops
 * at `maxIterations`. Plain TypeScript in double precision: tfjs has no eigen-solver.
 */
import { mulberry32 } from '../../../util/seeded-random';

export interface Eigenpair {
  value: number;
  /** Unit length. */
  vector: Float64Array;
  iterations: number;
  converged: boolean;
}

/** `k` is the m × m matrix, row-major. */
export function topEigenpair(k: ArrayLike<number>, m: number, seed: number, tolerance = 1e-9, maxIterations = 2000): Eigenpair {
  if (k.length !== m * m) throw new RangeError(`matrix has ${k.length} values, expected ${m}×${m}`);
  const rng = mulberry32(seed);
  let x = Float64Array.from({ length: m }, () => rng() - 0.5);
  scale(x, 1 / norm(x));
  const y = new Float64Array(m);
  let value = 0;
  for (let it = 1; it <= maxIterations; it++) {
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += k[i * m + j] * x[j];
      y[i] = s;
    }
    value = dot(x, y);
    const ny = norm(y);
    if (ny === 0) return { value: 0, vector: x, iterations: it, converged: true }; // K x = 0: K is zero (PSD)
    let residual = 0;
    for (let i = 0; i < m; i++) residual += (y[i] - value * x[i]) ** 2;
    x = Float64Array.from(y, (v) => v / ny);
    if (Math.sqrt(residual) <= tolerance * value) return { value, vector: x, iterations: it, converged: true };
  }
  return { value, vector: x, iterations: maxIterations, converged: false };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function norm(a: Float64Array): number {
  return Math.sqrt(dot(a, a));
}

function scale(a: Float64Array, f: number): void {
  for (let i = 0; i < a.length; i++) a[i] *= f;
}

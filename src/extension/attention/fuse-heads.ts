/**
 * Fusing the heads of one attention layer into a single [n, n] matrix (the mean, maximum or
 * minimum over heads of each entry), plus the shape check shared by the attention math.
 */
import type { HeadFusion } from './types';

/** Throws a clear Error unless `layer` holds `heads` row-major [n, n] matrices. */
export function checkLayer(layer: ArrayLike<number>, heads: number, n: number, what = 'attention layer'): void {
  if (!Number.isInteger(heads) || heads < 1) throw new Error(`${what}: heads must be a positive integer, got ${heads}`);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: tokens must be a positive integer, got ${n}`);
  if (layer.length !== heads * n * n) {
    throw new Error(`${what}: expected heads·tokens·tokens = ${heads}·${n}·${n} = ${heads * n * n} values, got ${layer.length}`);
  }
}

/** Throws unless `fusion` is one of the HeadFusion names (callers may pass unchecked strings). */
export function checkFusion(fusion: HeadFusion): void {
  if (fusion !== 'mean' && fusion !== 'max' && fusion !== 'min') {
    throw new Error(`unknown head fusion '${String(fusion)}' (expected 'mean', 'max' or 'min')`);
  }
}

/**
 * Fuses a layer's heads: `layer` is row-major [heads, n, n]; the result is row-major [n, n]
 * with, per entry, the mean / max / min over heads. The mean of row-stochastic heads is
 * row-stochastic; the max and min in general are not (rollout renormalises them).
 */
export function fuseHeads(layer: Float32Array, heads: number, n: number, fusion: HeadFusion): Float64Array {
  checkLayer(layer, heads, n);
  checkFusion(fusion);
  const nn = n * n;
  const out = new Float64Array(layer.subarray(0, nn));
  for (let h = 1; h < heads; h++) {
    const off = h * nn;
    if (fusion === 'mean') for (let i = 0; i < nn; i++) out[i] += layer[off + i];
    else if (fusion === 'max') for (let i = 0; i < nn; i++) out[i] = Math.max(out[i], layer[off + i]);
    else for (let i = 0; i < nn; i++) out[i] = Math.min(out[i], layer[off + i]);
  }
  if (fusion === 'mean' && heads > 1) for (let i = 0; i < nn; i++) out[i] /= heads;
  return out;
}

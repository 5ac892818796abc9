/**
 * Fusing the heads of one attention layer: one head's [q, k] rows, or the mean, maximum or
 * minimum over heads of each entry; plus the shape checks shared by the attention math.
 */
import { UserError } from '../../shared/errors';
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

/** A UserError unless `head` is a head index of `layer` (a layer name) or a HeadFusion name. */
export function checkHead(head: number | HeadFusion, heads: number, layer: string): void {
  if (typeof head !== 'number') return checkFusion(head);
  if (!Number.isInteger(head) || head < 0 || head >= heads) throw new UserError(`head ${head} is out of range: ${layer} has ${heads} heads (0..${heads - 1})`);
}

/**
 * Rows `first` .. `first + count − 1` of one head of a row-major [heads, q, k] layer, or of the
 * mean / max / min over its heads, entry by entry: row-major [count, k]. The head (index or
 * fusion) is the caller's to check.
 */
export function headRows(layer: ArrayLike<number>, heads: number, q: number, k: number, head: number | HeadFusion, first = 0, count = q): Float64Array {
  if (layer.length !== heads * q * k) throw new Error(`expected heads·queries·keys = ${heads}·${q}·${k} = ${heads * q * k} values, got ${layer.length}`);
  if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 0 || first + count > q) throw new Error(`rows ${first}..${first + count - 1} are not rows of ${q}`);
  const size = count * k;
  const at = (h: number) => (h * q + first) * k;
  const out = new Float64Array(size);
  const start = at(typeof head === 'number' ? head : 0);
  for (let i = 0; i < size; i++) out[i] = layer[start + i];
  if (typeof head === 'number') return out;
  for (let h = 1; h < heads; h++) {
    const off = at(h);
    if (head === 'mean') for (let i = 0; i < size; i++) out[i] += layer[off + i];
    else if (head === 'max') for (let i = 0; i < size; i++) out[i] = Math.max(out[i], layer[off + i]);
    else for (let i = 0; i < size; i++) out[i] = Math.min(out[i], layer[off + i]);
  }
  if (head === 'mean' && heads > 1) for (let i = 0; i < size; i++) out[i] /= heads;
  return out;
}

/**
 * Fuses a layer's heads: `layer` is row-major [heads, n, n]; the result is row-major [n, n]
 * with, per entry, the mean / max / min over heads. The mean of row-stochastic heads is
 * row-stochastic; the max and min in general are not (rollout renormalises them).
 */
export function fuseHeads(layer: Float32Array, heads: number, n: number, fusion: HeadFusion): Float64Array {
  checkLayer(layer, heads, n);
  checkFusion(fusion);
  return headRows(layer, heads, n, n, fusion);
}

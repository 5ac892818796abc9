/**
 * Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers", as
 * popularised by jacobgil/vit-explain) and its gradient-weighted, class-specific variant
 * (vit-explain's grad_rollout). Per layer: fuse the heads, discard the weakest entries, add the
 * residual path (Â = 0.5·A + 0.5·I), renormalise rows to sum 1; then R = Â_L · … · Â_1.
 *
 * Differences from vit-explain, on purpose: rows are renormalised (vit-explain's
 * `a / a.sum(dim=-1)` broadcasts the row sums over columns), and the discard rule below is the
 * same for both variants (vit-explain's grad_rollout protects nothing).
 */
import { checkFusion, checkLayer, fuseHeads } from './fuse-heads';
import type { AttentionStack, HeadFusion } from './types';

export interface RolloutOptions {
  fusion: HeadFusion;
  /** Fraction 0..1 of each fused matrix's entries to zero, the lowest first; default 0. */
  discardRatio?: number;
  /** The token whose column is never discarded; default 0 (the CLS token). */
  keepToken?: number;
}

export type GradRolloutOptions = Omit<RolloutOptions, 'fusion'>;

/**
 * The discard rule: zeroes k = min(⌊discardRatio·n²⌋, n·(n−1)) entries of the row-major [n, n]
 * matrix `m` in place and returns k. k counts over the whole flattened matrix like vit-explain,
 * but entries in column `keepToken` (attention to that token) are never discarded, so the k
 * lowest entries outside that column are zeroed; equal values go in flat-index order.
 */
export function discardLowest(m: Float64Array, n: number, discardRatio: number, keepToken: number): number {
  checkDiscard(n, discardRatio, keepToken);
  if (m.length !== n * n) throw new Error(`discardLowest: expected ${n}·${n} = ${n * n} values, got ${m.length}`);
  const k = Math.min(Math.floor(discardRatio * n * n), n * (n - 1));
  if (k === 0) return 0;
  const eligible = new Float64Array(n * (n - 1));
  for (let p = 0, e = 0; p < n * n; p++) if (p % n !== keepToken) eligible[e++] = m[p];
  eligible.sort();
  const threshold = eligible[k - 1];
  let below = 0;
  for (let e = 0; e < eligible.length; e++) if (eligible[e] < threshold) below++;
  let ties = k - below; // entries equal to the threshold still to zero, lowest index first
  for (let p = 0; p < n * n; p++) {
    if (p % n === keepToken) continue;
    if (m[p] < threshold) m[p] = 0;
    else if (m[p] === threshold && ties > 0) {
      m[p] = 0;
      ties--;
    }
  }
  return k;
}

/**
 * Attention rollout of the whole stack: the row-major [n, n] matrix R = Â_L · … · Â_1 (the last
 * layer on the left), whose row i says how much each input token flows into token i's output.
 * Every row of R sums to 1: Â's row sums are 0.5·(fused row sum) + 0.5 > 0, and a fused row
 * that is all zero (e.g. min fusion of heads looking at different tokens) makes that row of Â
 * the identity row.
 */
export function rollout(stack: AttentionStack, opts: RolloutOptions): Float64Array {
  checkStack(stack);
  checkFusion(opts.fusion);
  const { heads, tokens: n } = stack;
  return multiplyLayers(stack, opts, (l) => fuseHeads(stack.layers[l], heads, n, opts.fusion));
}

/**
 * Gradient-weighted (class-specific) rollout after vit-explain's grad_rollout: per layer the
 * fused matrix is max(0, mean over heads of A ⊙ ∂y/∂A) — the mean first, then negatives
 * clamped (not the mean of clamped products) — then discard, residual, renormalise and
 * multiply as in `rollout`. `grads` has the shapes of `stack.layers`. Rows of R sum to 1; a
 * fused row that is all zero makes that row of Â the identity row. With all-ones gradients
 * this is exactly `rollout` with mean fusion.
 */
export function gradRollout(stack: AttentionStack, grads: Float32Array[], opts: GradRolloutOptions = {}): Float64Array {
  checkStack(stack);
  const { heads, tokens: n, layers } = stack;
  if (grads.length !== layers.length) {
    throw new Error(`gradRollout: ${layers.length} attention layers but ${grads.length} gradient layers`);
  }
  grads.forEach((g, l) => checkLayer(g, heads, n, `attention gradient ${l}`));
  const nn = n * n;
  return multiplyLayers(stack, opts, (l) => {
    const a = layers[l];
    const g = grads[l];
    const out = new Float64Array(nn);
    for (let i = 0; i < nn; i++) out[i] = a[i] * g[i];
    for (let h = 1; h < heads; h++) {
      const off = h * nn;
      for (let i = 0; i < nn; i++) out[i] += a[off + i] * g[off + i];
    }
    for (let i = 0; i < nn; i++) {
      const v = heads > 1 ? out[i] / heads : out[i];
      out[i] = v > 0 ? v : 0;
    }
    return out;
  });
}

function checkStack(stack: AttentionStack): void {
  const { layers, heads, tokens } = stack;
  if (layers.length === 0) throw new Error('attention rollout needs at least one attention layer');
  layers.forEach((layer, l) => checkLayer(layer, heads, tokens, `attention layer ${l}`));
}

function checkDiscard(n: number, discardRatio: number, keepToken: number): void {
  if (!(discardRatio >= 0 && discardRatio <= 1)) throw new Error(`discardRatio must be in [0, 1], got ${discardRatio}`);
  if (!Number.isInteger(keepToken) || keepToken < 0 || keepToken >= n) {
    throw new Error(`keepToken must be a token index in [0, ${n - 1}], got ${keepToken}`);
  }
}

/** Discards, adds the residual path and renormalises each fused layer, then multiplies them. */
function multiplyLayers(stack: AttentionStack, opts: GradRolloutOptions, fused: (layer: number) => Float64Array): Float64Array {
  const n = stack.tokens;
  const discardRatio = opts.discardRatio ?? 0;
  const keepToken = opts.keepToken ?? 0;
  checkDiscard(n, discardRatio, keepToken);
  let r: Float64Array | undefined;
  for (let l = 0; l < stack.layers.length; l++) {
    const a = fused(l);
    for (let i = 0; i < a.length; i++) {
      if (!(a[i] >= 0 && a[i] < Infinity)) throw new Error(`attention layer ${l}: fused attention ${a[i]} is not a finite value ≥ 0`);
    }
    discardLowest(a, n, discardRatio, keepToken);
    residualNormalise(a, n);
    r = r === undefined ? a : matmul(a, r, n);
  }
  return r as Float64Array;
}

/** In place: Â = 0.5·A + 0.5·I, then each row divided by its sum (> 0 since A ≥ 0). */
function residualNormalise(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const row = i * n;
    let sum = 0;
    for (let j = 0; j < n; j++) {
      a[row + j] = 0.5 * a[row + j] + (i === j ? 0.5 : 0);
      sum += a[row + j];
    }
    for (let j = 0; j < n; j++) a[row + j] /= sum;
  }
}

/** The row-major [n, n] product a · b. */
function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let k = 0; k < n; k++) {
      const aik = a[row + k];
      if (aik === 0) continue;
      const bk = k * n;
      for (let j = 0; j < n; j++) out[row + j] += aik * b[bk + j];
    }
  }
  return out;
}

/**
 * From token-by-token attention to maps over the image: the CLS (or mean) row of a rollout
 * matrix, reshaping patch weights to the ViT's patch grid, guessing that grid from the token
 * count, and one query token's raw attention row.
 */
import { checkFusion, checkLayer, headRows } from './fuse-heads';
import type { AttentionStack, HeadFusion } from './types';

/** Largest accepted ratio between a patch's height and width (input side / grid side) in inferPatchGrid. */
const MAX_PATCH_ASPECT = 1.2;

/**
 * The token weights to show from a row-major [n, n] rollout matrix `r`. With a CLS token
 * (index 0): row 0 without its own column, i.e. the n−1 patch tokens. Without one: the mean of
 * all n rows (length n).
 */
export function clsRow(r: Float64Array, n: number, opts: { cls: boolean }): Float64Array {
  if (!Number.isInteger(n) || n < 1 || r.length !== n * n) {
    throw new Error(`clsRow: expected an [n, n] matrix with n = ${n} (${n * n} values), got ${r.length} values`);
  }
  if (opts.cls) {
    if (n < 2) throw new Error('clsRow: with a CLS token there must be at least 2 tokens');
    return r.slice(1, n);
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[j] += r[i * n + j];
  for (let j = 0; j < n; j++) out[j] /= n;
  return out;
}

/** Reshapes row-major patch weights to the [gh, gw] patch grid (height gh, width gw). */
export function patchGrid(row: Float64Array, grid: [number, number]): { data: Float32Array; height: number; width: number } {
  const [gh, gw] = grid;
  if (!Number.isInteger(gh) || !Number.isInteger(gw) || gh < 1 || gw < 1) {
    throw new Error(`patchGrid: the grid must be positive integers, got ${gh}×${gw}`);
  }
  if (row.length !== gh * gw) {
    throw new Error(`patchGrid: ${row.length} patch weights do not fill a ${gh}×${gw} grid, which needs ${gh * gw}`);
  }
  return { data: Float32Array.from(row), height: gh, width: gw };
}

/**
 * Guesses a ViT's patch grid from its token count and input size [height, width]. The rule:
 * tokens = gh·gw with no CLS token, or gh·gw + 1 with one (index 0), where the patches are
 * square-ish: patch height H/gh and width W/gw differ by a factor of at most 1.2 (this allows
 * the floor of a stride that does not divide the input, and overlapping patch embeddings).
 * Of all fits the one with the squarest patches wins (|ln((H/gh)/(W/gw))| smallest); on a tie
 * the CLS reading wins, then the grid with fewer rows. Undefined when nothing fits.
 * E.g. 197 tokens at 224×224 → 14×14 + CLS; 196 → 14×14 without (195 = 13×15 fits less well).
 */
export function inferPatchGrid(tokens: number, inputHW: [number, number]): { grid: [number, number]; cls: boolean } | undefined {
  const [h, w] = inputHW;
  if (!Number.isInteger(tokens) || tokens < 1) throw new Error(`inferPatchGrid: tokens must be a positive integer, got ${tokens}`);
  if (!(h > 0 && w > 0 && h < Infinity && w < Infinity)) throw new Error(`inferPatchGrid: the input size must be positive, got ${h}×${w}`);
  let best: { grid: [number, number]; cls: boolean; misfit: number } | undefined;
  for (const cls of [true, false]) {
    const patches = cls ? tokens - 1 : tokens;
    for (let gh = 1; gh <= patches; gh++) {
      if (patches % gh !== 0) continue;
      const gw = patches / gh;
      const misfit = Math.abs(Math.log((h / gh) / (w / gw)));
      if (misfit > Math.log(MAX_PATCH_ASPECT) + 1e-9) continue;
      if (best === undefined || misfit < best.misfit - 1e-12) best = { grid: [gh, gw], cls, misfit };
    }
  }
  return best && { grid: best.grid, cls: best.cls };
}

/**
 * The attention row of one query token (e.g. the patch the user clicked) in layer `layer`:
 * one head's row, or the mean / max / min over heads of that row. Length n; index j is the
 * attention from `queryToken` to token j.
 */
export function rawAttention(stack: AttentionStack, layer: number, head: number | HeadFusion, queryToken: number): Float64Array {
  const { layers, heads, tokens: n } = stack;
  if (!Number.isInteger(layer) || layer < 0 || layer >= layers.length) {
    throw new Error(`rawAttention: layer must be in [0, ${layers.length - 1}], got ${layer}`);
  }
  const a = layers[layer];
  checkLayer(a, heads, n, `attention layer ${layer}`);
  if (!Number.isInteger(queryToken) || queryToken < 0 || queryToken >= n) {
    throw new Error(`rawAttention: queryToken must be in [0, ${n - 1}], got ${queryToken}`);
  }
  if (typeof head === 'number') {
    if (!Number.isInteger(head) || head < 0 || head >= heads) throw new Error(`rawAttention: head must be in [0, ${heads - 1}], got ${head}`);
  } else checkFusion(head);
  return headRows(a, heads, n, n, head, queryToken, 1);
}

/**
 * Attention over an image's patches, from one captured forward pass: attention rollout, the raw
 * attention of one layer and head for one query token, or gradient-weighted rollout; as a map
 * over the patch grid with a sentence saying what it shows.
 */
import { UserError } from '../../shared/errors';
import type { AttentionControls } from '../../shared/protocol';
import type { AttentionCapture, AttentionModel } from './attention-model';
import type { AttentionStack } from './types';
import { gradRollout, rollout } from './rollout';
import { clsRow, patchGrid, rawAttention } from './token-maps';

export type ImageMapRequest = AttentionControls;

export interface ImageMap {
  data: Float32Array;
  height: number;
  width: number;
  label: string;
}

/** The self-attention layers over the patch tokens, as one stack (indices into model.layers). */
export function patchStack(model: AttentionModel, cap: AttentionCapture): { stack: AttentionStack; indices: number[] } {
  const indices = model.layers.map((l, i) => (l.cross ? -1 : i)).filter((i) => i >= 0);
  if (indices.length === 0) throw new UserError(`${model.name} has no self-attention layer`);
  const first = model.layers[indices[0]];
  const n = first.queryTokens > 0 ? first.queryTokens : Math.round(Math.sqrt(cap.probabilities[indices[0]].length / first.heads));
  for (const i of indices) {
    const l = model.layers[i];
    if (l.heads !== first.heads || cap.probabilities[i].length !== l.heads * n * n) {
      throw new UserError(`the attention layers of ${model.name} differ in heads or tokens (${first.name}: ${first.heads} heads; ${l.name}: ${l.heads}); rollout needs them equal`);
    }
  }
  return { stack: { layers: indices.map((i) => cap.probabilities[i]), heads: first.heads, tokens: n }, indices };
}

const pct = (x: number) => `${Math.round(100 * x)}%`;

export function attentionImageMap(model: AttentionModel, cap: AttentionCapture, req: ImageMapRequest): ImageMap {
  const patches = model.patches;
  if (!patches) throw new UserError(`cannot tell how ${model.name}'s tokens map to image patches; add "patchGrid": [rows, cols] (and "clsToken") to its metadata.json`);
  const { stack, indices } = patchStack(model, cap);
  const n = stack.tokens;
  const rowName = patches.cls ? 'CLS row' : 'mean row';
  let row: Float64Array;
  let label: string;
  if (req.mode === 'raw') {
    const li = req.layer === undefined ? indices.length - 1 : indices.findIndex((i) => model.layers[i].name === req.layer);
    if (li < 0) throw new UserError(`${req.layer} is not a self-attention layer of ${model.name}`);
    const head = req.head ?? 'mean';
    const headName = typeof head === 'number' ? `head ${head}` : `${head} of heads`;
    const layerName = model.layers[indices[li]].name;
    if (req.query === undefined && !patches.cls) {
      const sum = new Float64Array(n);
      for (let q = 0; q < n; q++) rawAttention(stack, li, head, q).forEach((v, j) => { sum[j] += v / n; });
      row = sum;
      label = `raw attention of ${layerName}, ${headName}, mean over query tokens`;
    } else {
      const q = req.query ?? 0;
      if (!Number.isInteger(q) || q < 0 || q >= n) throw new UserError(`query token ${q} is out of range (0–${n - 1})`);
      row = rawAttention(stack, li, head, q);
      const who = q === 0 && patches.cls ? 'CLS token' : `patch ${patches.cls ? q - 1 : q}`;
      label = `raw attention of ${layerName}, ${headName}, from the ${who}`;
    }
    if (patches.cls) row = row.slice(1);
  } else if (req.mode === 'rollout') {
    const r = rollout(stack, { fusion: req.fusion, discardRatio: req.discardRatio, keepToken: 0 });
    row = clsRow(r, n, { cls: patches.cls });
    label = `attention rollout over ${indices.length} layers (${req.fusion} of heads, discard ${pct(req.discardRatio)}), ${rowName}`;
  } else {
    if (!cap.gradients) throw new UserError(model.noGradients ?? 'gradient-weighted rollout needs the gradients of a class');
    const r = gradRollout(stack, indices.map((i) => cap.gradients![i]), { discardRatio: req.discardRatio, keepToken: 0 });
    row = clsRow(r, n, { cls: patches.cls });
    label = `gradient-weighted rollout over ${indices.length} layers (discard ${pct(req.discardRatio)}), ${rowName}`;
  }
  return { ...patchGrid(row, patches.grid), label };
}

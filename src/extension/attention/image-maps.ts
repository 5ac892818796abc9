/**
 * Attention over an image's patches, from one captured forward pass: attention rollout, the raw
 * attention of one layer and head for one query token, or gradient-weighted rollout; as a map
 * over the patch grid with a sentence saying what it shows.
 */
import { UserError } from '../../shared/errors';
import type { AttentionControls } from '../../shared/protocol/explain';
import type { AttentionCapture, AttentionModel } from './attention-model';
import type { AttentionStack } from './types';
import { checkHead } from './fuse-heads';
import { rolloutSides, sideStack, stackRollout, type Side } from './sides';
import { clsRow, patchGrid, rawAttention } from './token-maps';

export type ImageMapRequest = AttentionControls;

export interface ImageMap {
  data: Float32Array;
  height: number;
  width: number;
  label: string;
}

/**
 * The side of an image model's patch tokens: the rollout layers of its image input (of its only
 * side when the layers name another, e.g. a ViT nested in the model), or undefined when none.
 */
export function patchSide(model: Pick<AttentionModel, 'inputs' | 'layers'>): Side | undefined {
  const sides = rolloutSides(model.layers);
  const image = model.inputs.find((x) => x.kind === 'image');
  return sides.find((s) => s.side === image?.name) ?? (sides.length === 1 ? sides[0] : undefined);
}

/** The self-attention layers over the patch tokens, as one stack (indices into model.layers). */
export function patchStack(model: AttentionModel, cap: AttentionCapture): { stack: AttentionStack; indices: number[] } {
  const side = patchSide(model);
  if (!side) throw new UserError(`${model.name} has no self-attention layer over its image patches`);
  const s = sideStack(model.layers, cap.probabilities, side);
  if ('problem' in s) throw new UserError(`no rollout for ${model.name}: ${s.problem}`);
  return { stack: s.stack, indices: side.indices };
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
    const layerName = model.layers[indices[li]].name;
    const head = req.head ?? 'mean';
    checkHead(head, stack.heads, layerName);
    const headName = typeof head === 'number' ? `head ${head}` : `${head} of heads`;
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
  } else {
    row = clsRow(stackRollout(stack, indices, cap, req, model.noGradients), n, { cls: patches.cls });
    label = req.mode === 'rollout'
      ? `attention rollout over ${indices.length} layers (${req.fusion} of heads, discard ${pct(req.discardRatio)}), ${rowName}`
      : `gradient-weighted rollout over ${indices.length} layers (discard ${pct(req.discardRatio)}), ${rowName}`;
  }
  return { ...patchGrid(row, patches.grid), label };
}

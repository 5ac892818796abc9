/**
 * Which attention layers a rollout multiplies, and the rollouts themselves. A rollout multiplies
 * the [n, n] attention matrices of one token space, so it runs per side (the model input the
 * tokens come from: the image's patches, an encoder's or a decoder's tokens) over that side's
 * self-attention layers, the layers whose queries and keys both are that side's tokens.
 * Cross-attention (queries on one side, keys on another) enters no rollout. The image maps, the
 * token views and the CLI all take their rollout layers from here.
 */
import { UserError } from '../../shared/errors';
import type { AttentionLayerInfo, AttentionMode, HeadFusion } from '../../shared/attention';
import type { AttentionCapture } from './attention-model';
import type { AttentionStack } from './types';
import { gradRollout, rollout } from './rollout';

/** Whether a layer enters its side's rollout: self-attention, queries and keys on the same side. */
export function inSideRollout(l: AttentionLayerInfo): boolean {
  return !l.cross && l.querySide === l.keySide;
}

/** One side and its rollout layers: indices into the model's layers, in the model's order. */
export interface Side {
  side: string;
  indices: number[];
}

/** Every side that has rollout layers, in the order of their first layers. */
export function rolloutSides(layers: readonly AttentionLayerInfo[]): Side[] {
  const sides = new Map<string, number[]>();
  layers.forEach((l, i) => {
    if (!inSideRollout(l)) return;
    const known = sides.get(l.querySide);
    if (known) known.push(i);
    else sides.set(l.querySide, [i]);
  });
  return [...sides].map(([side, indices]) => ({ side, indices }));
}

/**
 * [queries, keys] of a layer's `size` captured [heads, q, k] values. A layer whose token counts
 * vary with the input (-1) takes them from `lengths` (token count by model input name), else
 * from the other count, else it is taken to be square.
 */
export function layerShape(l: AttentionLayerInfo, size: number, lengths: ReadonlyMap<string, number> = new Map()): [number, number] {
  const perHead = size / l.heads;
  let q = l.queryTokens > 0 ? l.queryTokens : lengths.get(l.querySide);
  if (q === undefined) {
    const k = l.keyTokens > 0 ? l.keyTokens : lengths.get(l.keySide);
    q = k !== undefined ? perHead / k : Math.round(Math.sqrt(perHead));
  }
  const k = perHead / q;
  if (!Number.isInteger(q) || !Number.isInteger(k) || q * k !== perHead) throw new Error(`cannot tell the shape of ${l.name}'s ${size} attention values (${l.heads} heads)`);
  return [q, k];
}

/** A side's layers as one stack, or why they cannot be one (rollout needs equal heads and n × n tokens). */
export function sideStack(
  layers: readonly AttentionLayerInfo[], probabilities: readonly Float32Array[], side: Side, lengths?: ReadonlyMap<string, number>,
): { stack: AttentionStack } | { problem: string } {
  const first = layers[side.indices[0]];
  const [n] = layerShape(first, probabilities[side.indices[0]].length, lengths);
  for (const i of side.indices) {
    const l = layers[i];
    const [q, k] = layerShape(l, probabilities[i].length, lengths);
    if (l.heads !== first.heads || q !== n || k !== n) {
      return { problem: `its self-attention layers differ in heads or tokens (${first.name}: ${first.heads} heads over ${n} tokens; ${l.name}: ${l.heads} over ${q}×${k}); rollout needs them equal` };
    }
  }
  return { stack: { layers: side.indices.map((i) => probabilities[i]), heads: first.heads, tokens: n } };
}

export interface RolloutRequest {
  /** grad-rollout weighs each layer by its gradients; any other mode rolls out the fused heads. */
  mode: AttentionMode;
  fusion: HeadFusion;
  discardRatio: number;
}

/** The rollout [n, n] of a side's stack (`indices`: its layers), token 0 never discarded. */
export function stackRollout(stack: AttentionStack, indices: readonly number[], cap: AttentionCapture, req: RolloutRequest, noGradients?: string): Float64Array {
  if (req.mode !== 'grad-rollout') return rollout(stack, { fusion: req.fusion, discardRatio: req.discardRatio, keepToken: 0 });
  if (!cap.gradients) throw new UserError(noGradients ?? 'gradient-weighted rollout needs the gradients of a class');
  return gradRollout(stack, indices.map((i) => cap.gradients![i]), { discardRatio: req.discardRatio, keepToken: 0 });
}

export interface SideRollout {
  side: string;
  kind: 'rollout' | 'grad-rollout';
  /** The layers multiplied, first layer first. */
  layers: string[];
  tokens: number;
  /** Row-major [tokens, tokens]. */
  data: Float32Array;
}

/**
 * The rollout of every side; a side whose layers differ in heads or tokens is left out with a
 * warning. `lengths`: token count by model input, for layers of variable length.
 */
export function sideRollouts(
  model: { layers: readonly AttentionLayerInfo[]; noGradients?: string }, cap: AttentionCapture, req: RolloutRequest, lengths?: ReadonlyMap<string, number>,
): { rollouts: SideRollout[]; warnings: string[] } {
  const rollouts: SideRollout[] = [];
  const warnings: string[] = [];
  const kind = req.mode === 'grad-rollout' ? 'grad-rollout' : 'rollout';
  for (const side of rolloutSides(model.layers)) {
    const s = sideStack(model.layers, cap.probabilities, side, lengths);
    if ('problem' in s) {
      warnings.push(`no ${kind} for ${side.side}: ${s.problem}`);
      continue;
    }
    const data = Float32Array.from(stackRollout(s.stack, side.indices, cap, req, model.noGradients));
    rollouts.push({ side: side.side, kind, layers: side.indices.map((i) => model.layers[i].name), tokens: s.stack.tokens, data });
  }
  return { rollouts, warnings };
}

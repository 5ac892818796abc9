/**
 * The token-attention panel's data, ready to draw: each layer's probabilities with the token
 * strings of its query and key sides, layers grouped the way encoder–decoder models read
 * (encoder self-attention, decoder self-attention, cross-attention), and a side's rollout row.
 * DOM-free (unit-tested in Node).
 */
import type { AttentionLayerInfo } from '../../shared/attention';

export interface TokenLayer {
  info: AttentionLayerInfo;
  /** Index in the result's layers (and probabilities). */
  index: number;
  /** Row-major [heads, queryTokens, keyTokens]. */
  probs: Float32Array;
  queries: string[];
  keys: string[];
  /** The group's id (see prepareLayers). */
  group: string;
}

export interface LayerGroup {
  id: string;
  title: string;
  /** What the group is, in a few words (for the head view's title and aria labels). */
  detail: string;
  layers: TokenLayer[];
}

/** Attention of query token i to key token j in one head. */
export function weightAt(l: TokenLayer, head: number, i: number, j: number): number {
  const { queryTokens: q, keyTokens: k } = l.info;
  return l.probs[(head * q + i) * k + j];
}

/**
 * The token strings of one side of a layer: the model input named `side` (tokens are in model
 * input order), else the only input of a single-input model, else the first input with exactly
 * `n` tokens; positions without a string show as #index.
 */
export function sideTokens(side: string, inputs: readonly string[], tokens: readonly string[][], n: number): string[] {
  let k = inputs.indexOf(side);
  if (k < 0 && tokens.length === 1) k = 0;
  if (k < 0) k = tokens.findIndex((t) => t.length === n);
  const src = k >= 0 ? tokens[k] ?? [] : [];
  return Array.from({ length: n }, (_, i) => src[i] ?? `#${i}`);
}

/**
 * The layers with their token strings, grouped. Self-attention layers group by their side: the
 * encoder (a side cross-attention takes its keys from), the decoder (a side cross-attention
 * takes its queries from), or plain self-attention; cross-attention layers group by their pair
 * of sides. Groups come encoder, other self-attention, decoder, cross-attention, each in layer
 * order. Throws when a layer's probabilities do not have its shape.
 */
export function prepareLayers(layers: readonly AttentionLayerInfo[], probabilities: readonly ArrayBuffer[], inputs: readonly string[], tokens: readonly string[][]): LayerGroup[] {
  if (probabilities.length !== layers.length) throw new Error(`The result has ${layers.length} attention layers but ${probabilities.length} probability arrays.`);
  const encoders = new Set(layers.filter((l) => l.cross).map((l) => l.keySide));
  const decoders = new Set(layers.filter((l) => l.cross).map((l) => l.querySide));
  const selfSides = new Set(layers.filter((l) => !l.cross).map((l) => l.querySide));
  const several = selfSides.size > 1 || encoders.size > 0;
  const crossPairs = new Set(layers.filter((l) => l.cross).map((l) => `${l.querySide}>${l.keySide}`));
  const groups = new Map<string, LayerGroup & { rank: number }>();
  layers.forEach((info, index) => {
    const probs = new Float32Array(probabilities[index]);
    const expected = info.heads * info.queryTokens * info.keyTokens;
    if (probs.length !== expected) {
      throw new Error(`Layer ${info.name}: expected ${info.heads}×${info.queryTokens}×${info.keyTokens} = ${expected} attention weights, got ${probs.length}.`);
    }
    let id: string;
    let title: string;
    let detail: string;
    let rank: number;
    if (info.cross) {
      id = `cross:${info.querySide}>${info.keySide}`;
      title = crossPairs.size > 1 ? `Cross-attention (${info.querySide} → ${info.keySide})` : 'Cross-attention';
      detail = `queries from ${info.querySide}, keys from ${info.keySide}`;
      rank = 3;
    } else {
      id = `self:${info.querySide}`;
      const isEncoder = encoders.has(info.querySide);
      const isDecoder = decoders.has(info.querySide) && !isEncoder;
      title = isEncoder ? 'Encoder self-attention' : isDecoder ? 'Decoder self-attention' : several ? `Self-attention (${info.querySide})` : 'Self-attention';
      detail = several ? `${info.querySide} to itself` : 'every token to every token';
      rank = isEncoder ? 0 : isDecoder ? 2 : 1;
    }
    const group = groups.get(id) ?? { id, title, detail, rank, layers: [] };
    groups.set(id, group);
    group.layers.push({
      info, index, probs, group: id,
      queries: sideTokens(info.querySide, inputs, tokens, info.queryTokens),
      keys: sideTokens(info.keySide, inputs, tokens, info.keyTokens),
    });
  });
  return [...groups.values()].sort((a, b) => a.rank - b.rank).map(({ id, title, detail, layers: ls }) => ({ id, title, detail, layers: ls }));
}

/** Row 0 of a row-major [n, n] rollout matrix, checked. */
export function rolloutRow(data: ArrayBuffer, n: number, side: string): Float32Array {
  const all = new Float32Array(data);
  if (!Number.isInteger(n) || n < 1 || all.length !== n * n) throw new Error(`Rollout of ${side}: expected ${n}×${n} values, got ${all.length}.`);
  return all.slice(0, n);
}

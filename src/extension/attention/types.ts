/**
 * Shared types of the attention-map math: a model's attention probabilities as plain arrays,
 * and the ways of fusing an attention layer's heads into one matrix.
 */

/**
 * The attention probabilities of a Transformer / ViT, one entry per attention layer (input
 * order, the first layer first). Each layer is row-major [heads, tokens, tokens]: row i of a
 * head is query token i's attention over all key tokens, so each row is a softmax (sums to 1).
 */
export interface AttentionStack {
  layers: Float32Array[];
  heads: number;
  tokens: number;
}

export type { HeadFusion } from '../../shared/attention';

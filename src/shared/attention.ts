/**
 * Attention maps: the types shared by the attention engine, the CLI and the panels. Plain data:
 * no tensors, no vscode.
 */

/** How the heads of one layer are combined, entry by entry: their mean, maximum or minimum. */
export type HeadFusion = 'mean' | 'max' | 'min';

/** rollout: Abnar & Zuidema's attention rollout; raw: one layer's attention; grad-rollout: class-specific rollout weighted by gradients. */
export type AttentionMode = 'rollout' | 'raw' | 'grad-rollout';
export const ATTENTION_MODES: readonly AttentionMode[] = ['rollout', 'raw', 'grad-rollout'];

/** One attention layer of a model. */
export interface AttentionLayerInfo {
  /** Layer name (layers models) or softmax node name (graph models). */
  name: string;
  heads: number;
  /** Query tokens (rows) and key tokens (columns). */
  queryTokens: number;
  keyTokens: number;
  /** Query and keys come from different sequences (encoder–decoder cross-attention). */
  cross: boolean;
  /** The model input the queries / keys come from (its name), for encoder–decoder models. */
  querySide: string;
  keySide: string;
}

/** One model input of a token model. */
export interface TokenInputInfo {
  name: string;
  /** Fixed sequence length, or null when the model takes any length. */
  length: number | null;
  /** Token strings by id, when the model's metadata has a vocabulary. */
  vocab?: string[];
  /** An input that shows how to fill it in (from the metadata, else the first tokens of the vocabulary). */
  example?: string;
}

/**
 * The token-attention panel's messages (bertviz-like head and model views) for Transformers
 * that take token ids: the user's texts in, every layer's attention and the rollouts out.
 */
import type { AttentionLayerInfo, TokenInputInfo } from '../attention';
import type { CancelMessage, FailedMessage, MessageType, PredictionInfo, ReadyMessage } from './common';

/** The panel's one kind of request: the attention of some texts (newer texts supersede older). */
export type AttentionRequestKind = 'tokens';

/** What the token-attention panel remembers across reloads. */
export interface AttentionTokenViewState {
  /** The model file (absolute). */
  model: string;
  texts: string[];
  /** Layer and heads shown in the head view; 'model' or 'head' view. */
  view: 'head' | 'model';
  layer?: string;
  heads?: number[];
}

// ---- webview → host ----

/** Attention of a token model on the user's tokens: one text per model input. */
export interface AttentionTokensMessage {
  type: MessageType.AttentionTokens;
  requestId: number;
  texts: string[];
}

/** Everything the token-attention panel's page sends its host. */
export type AttentionToHost = ReadyMessage | AttentionTokensMessage | CancelMessage;

// ---- host → webview ----

/** The token-attention panel's start: the model and its inputs. */
export interface AttentionTokenInitMessage {
  type: MessageType.AttentionTokenInit;
  model: { name: string; file: string };
  backend: string;
  inputs: TokenInputInfo[];
  layers: AttentionLayerInfo[];
  /** The texts last used (or the inputs' examples). */
  texts: string[];
}

/** Attention of a token model on one input: every layer's probabilities, for the head and model views. */
export interface AttentionTokenResultMessage {
  type: MessageType.AttentionTokenResult;
  requestId: number;
  /** Token strings per model input, as shown (vocabulary strings, or the ids). */
  tokens: string[][];
  layers: AttentionLayerInfo[];
  /** Per layer, row-major Float32 [heads, queryTokens, keyTokens]. */
  probabilities: ArrayBuffer[];
  /** Per self-attention side (model input name): rollout over that side's layers, Float32 [n, n], mean of heads. */
  rollout: { side: string; data: ArrayBuffer; tokens: number }[];
  predictions?: PredictionInfo[];
  ms: number;
}

/** Everything the host sends the token-attention panel's page: a request is answered by its result or Failed. */
export type AttentionToWebview = AttentionTokenInitMessage | AttentionTokenResultMessage | FailedMessage;

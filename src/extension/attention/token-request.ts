/**
 * The token-attention panel's numbers for one input: every layer's attention probabilities, a
 * rollout per self-attention side, and the predictions.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../shared/errors';
import type { PredictionInfo } from '../../shared/protocol';
import type { AttentionLayerInfo, TokenInputInfo } from '../../shared/attention';
import type { AttentionModel } from './attention-model';
import { parseTokens } from './tokens';
import { sideRollouts, tokenInputs } from './token-views';

export interface TokenAttention {
  tokens: string[][];
  layers: AttentionLayerInfo[];
  probabilities: Float32Array[];
  rollout: Array<{ side: string; tokens: number; data: Float32Array }>;
  predictions?: PredictionInfo[];
}

/** What the panel shows before any input: the model's token inputs and attention layers. */
export function tokenModelInfo(model: AttentionModel): { inputs: TokenInputInfo[]; layers: AttentionLayerInfo[] } {
  return {
    inputs: tokenInputs(model).map(({ name, length, vocab, example }) => ({ name, length, vocab, example })),
    layers: [...model.layers],
  };
}

export function tokenAttention(model: AttentionModel, texts: readonly string[]): TokenAttention {
  const inputs = tokenInputs(model);
  if (texts.length !== inputs.length) throw new UserError(`${model.name} takes ${inputs.length} token inputs, got ${texts.length}`);
  const parsed = inputs.map((input, i) => parseTokens(texts[i], input));
  const tensors = parsed.map((p, i) => tf.tensor2d(p.ids, [1, p.ids.length], inputs[i].dtype));
  try {
    const cap = model.capture(tensors);
    const predictions: PredictionInfo[] | undefined = model.classOutput
      ? Array.from(cap.output, (probability, index) => ({ index, probability, label: model.labels?.[index] })).sort((a, b) => b.probability - a.probability).slice(0, 5)
      : undefined;
    return {
      tokens: parsed.map((p) => p.strings),
      layers: [...model.layers],
      probabilities: cap.probabilities,
      rollout: sideRollouts(model, cap.probabilities).map((r) => ({ side: r.side, tokens: r.tokens, data: r.data })),
      ...(predictions ? { predictions } : {}),
    };
  } finally {
    tf.dispose(tensors);
  }
}

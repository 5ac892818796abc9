/**
 * A token model's attention on one input, for the token-attention panel and for
 * `xai-lens attention --tokens`: every layer's attention probabilities, the rollout of each side
 * (sides.ts says which layers), the predictions, and on request one layer's matrix.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../shared/errors';
import type { Prediction } from '../explain/explain-image';
import type { AttentionLayerInfo, TokenInputInfo } from '../../shared/attention';
import type { AttentionModel } from './attention-model';
import { captureFor, classOf, predictionsOf } from './capture';
import { parseTokens } from './tokens';
import { layerShape, sideRollouts, type RolloutRequest, type SideRollout } from './sides';
import { rawMatrix, tokenInputs, type RawMatrix, type RawRequest } from './token-views';

export interface TokenAttentionOptions extends Partial<RolloutRequest> {
  /** grad-rollout: the class (default: the top prediction). */
  target?: number;
  /** Also one layer's attention matrix. */
  raw?: RawRequest;
}

export interface TokenAttention {
  /** The model's token inputs (names), and per input its token ids and strings. */
  inputs: string[];
  ids: number[][];
  tokens: string[][];
  layers: AttentionLayerInfo[];
  /** Per layer, [heads, queries, keys] of its probabilities. */
  shapes: [number, number, number][];
  /** Per layer, row-major [heads, queries, keys]. */
  probabilities: Float32Array[];
  /** Per side with self-attention layers, the rollout over them. */
  rollout: SideRollout[];
  /** Sides without a rollout, and why. */
  warnings: string[];
  predictions?: Prediction[];
  /** grad-rollout: the class the rollouts are weighted for. */
  target?: Prediction;
  raw?: RawMatrix;
}

/** What the panel shows before any input: the model's token inputs and attention layers. */
export function tokenModelInfo(model: AttentionModel): { inputs: TokenInputInfo[]; layers: AttentionLayerInfo[] } {
  return {
    inputs: tokenInputs(model).map(({ name, length, vocab, example }) => ({ name, length, vocab, example })),
    layers: [...model.layers],
  };
}

export function tokenAttention(model: AttentionModel, texts: readonly string[], opts: TokenAttentionOptions = {}): TokenAttention {
  const inputs = tokenInputs(model);
  if (texts.length !== inputs.length) throw new UserError(`${model.name} takes ${inputs.length} token inputs, got ${texts.length}`);
  // The panel's view by default: the rollout of the mean of heads, nothing discarded.
  const req: RolloutRequest = { mode: opts.mode ?? 'rollout', fusion: opts.fusion ?? 'mean', discardRatio: opts.discardRatio ?? 0 };
  const parsed = inputs.map((input, i) => parseTokens(texts[i], input));
  const tensors = parsed.map((p, i) => tf.tensor2d(p.ids, [1, p.ids.length], inputs[i].dtype));
  try {
    const { cap, target } = captureFor(model, tensors, req.mode, opts.target);
    const lengths = new Map(inputs.map((x, i) => [x.name, parsed[i].ids.length]));
    const layers = [...model.layers];
    const shapes = layers.map((l, i): [number, number, number] => [l.heads, ...layerShape(l, cap.probabilities[i].length, lengths)]);
    const { rollouts, warnings } = sideRollouts(model, cap, req, lengths);
    const predictions = predictionsOf(model, cap.output);
    const strings = new Map(inputs.map((x, i) => [x.name, parsed[i].strings]));
    return {
      inputs: inputs.map((x) => x.name),
      ids: parsed.map((p) => p.ids),
      tokens: parsed.map((p) => p.strings),
      layers,
      shapes,
      probabilities: cap.probabilities,
      rollout: rollouts,
      warnings,
      ...(predictions ? { predictions } : {}),
      ...(target !== undefined ? { target: classOf(model, cap.output, target) } : {}),
      ...(opts.raw ? { raw: rawMatrix(model.name, layers, shapes, cap.probabilities, strings, opts.raw) } : {}),
    };
  } finally {
    tf.dispose(tensors);
  }
}

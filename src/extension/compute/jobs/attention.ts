/**
 * Attention jobs, run alike for the panels and for `xai-lens attention`: what a model's attention
 * looks like (image patches or tokens), one attention map of an image, and a token model's
 * attention on one input. Each worker keeps its own attention views of the model files (a
 * separate load: they read attention through hooks).
 */
import { AttentionModelCache } from '../../attention/attention-cache';
import { attentionInfo, attentionMapFor, type AttentionMapResult, type ImageAttentionRequest } from '../../attention/image-request';
import { tokenAttention, tokenModelInfo, type TokenAttention, type TokenAttentionOptions } from '../../attention/token-request';
import { UserError } from '../../../shared/errors';
import type { AttentionInfo } from '../../../shared/protocol/explain';
import type { AttentionLayerInfo, TokenInputInfo } from '../../../shared/attention';
import type { PreprocessPreset } from '../../image/preprocess';
import { defineJob } from '../job';
import type { ModelRef } from '../protocol';

const cache = new AttentionModelCache();

export interface AttentionSummary {
  file: string;
  name: string;
  /** What kind of file it came from (`layers-model`, `graph-model`, `onnx`, …). */
  format: string;
  /** `tokens` when every input takes token ids, else `image`. */
  kind: 'tokens' | 'image';
  /** The model's input names, in order. */
  inputs: string[];
  /** Every attention layer, cross-attention too. */
  layers: AttentionLayerInfo[];
  labels?: string[];
  outputSize: number;
  /** The preprocessing its metadata names. */
  preprocess?: PreprocessPreset;
  /** The Attention tab of the explain panel, for image models with attention over patches. */
  image?: AttentionInfo;
  /** The token panel's inputs and layers, for token models. */
  tokens?: { inputs: TokenInputInfo[]; layers: AttentionLayerInfo[] };
}

/**
 * The model's attention, or undefined when it has no attention layers; with `why` (someone asked
 * for this model's attention), the reason instead: a load error, or why it has none.
 */
export const attentionInfoJob = defineJob('attention-info', async (args: { model: ModelRef; why?: boolean }): Promise<AttentionSummary | undefined> => {
  const model = args.why ? await attentionModel(args.model.file) : await cache.get(args.model.file);
  if (!model) return undefined;
  const kind = model.inputs.every((x) => x.kind === 'tokens') ? 'tokens' : 'image';
  const image = attentionInfo(model);
  return {
    file: model.file, name: model.name, format: model.format, kind,
    inputs: model.inputs.map((x) => x.name), layers: [...model.layers], outputSize: model.outputSize,
    ...(model.labels ? { labels: model.labels } : {}),
    ...(model.preprocess ? { preprocess: model.preprocess } : {}),
    ...(image ? { image } : {}),
    ...(kind === 'tokens' ? { tokens: tokenModelInfo(model) } : {}),
  };
});

/** Why a model file has no attention to show. */
export function noAttention(file: string): UserError {
  return new UserError(`${file} has no attention layers (MultiHeadAttention, or Softmax nodes with [batch, heads, q, k] outputs)`);
}

/** The file's attention model, or precisely why there is none (a damaged file, token inputs, no attention layers). */
async function attentionModel(file: string) {
  const model = await cache.get(file, { why: true });
  if (!model) throw noAttention(file);
  return model;
}

export interface AttentionMapArgs {
  model: ModelRef;
  imageFile: string;
  preprocess: PreprocessPreset;
  request: ImageAttentionRequest & { requestId: number };
}

export const attentionMapJob = defineJob('attention-map', async (args: AttentionMapArgs): Promise<AttentionMapResult> =>
  attentionMapFor(await attentionModel(args.model.file), args.imageFile, args.preprocess, args.request));

export interface AttentionTokensArgs {
  model: ModelRef;
  texts: string[];
  /** Default: the panel's (rollout of the mean of heads, nothing discarded). */
  options?: TokenAttentionOptions;
}

export const attentionTokensJob = defineJob('attention-tokens', async (args: AttentionTokensArgs): Promise<TokenAttention> =>
  tokenAttention(await attentionModel(args.model.file), args.texts, args.options));

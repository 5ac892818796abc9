/**
 * Attention jobs: what a model's attention looks like (image patches or tokens), one attention
 * map of an image, and a token model's attention on one input. Each worker keeps its own attention
 * views of the model files (a separate load: they read attention through hooks).
 */
import { AttentionModelCache } from '../../attention/attention-cache';
import { attentionInfo, attentionMapFor } from '../../attention/image-request';
import { tokenAttention, tokenModelInfo, type TokenAttention } from '../../attention/token-request';
import { UserError } from '../../../shared/errors';
import type { AttentionInfo, AttentionMapMessage, AttentionRequestMessage } from '../../../shared/protocol';
import type { AttentionLayerInfo, TokenInputInfo } from '../../../shared/attention';
import type { PreprocessPreset } from '../../image/preprocess';
import { defineJob } from '../job';
import type { ModelRef } from '../protocol';

const cache = new AttentionModelCache();

export interface AttentionSummary {
  file: string;
  name: string;
  /** `tokens` when every input takes token ids, else `image`. */
  kind: 'tokens' | 'image';
  /** The Attention tab of the explain panel, for image models with attention over patches. */
  image?: AttentionInfo;
  /** The token panel's inputs and layers, for token models. */
  tokens?: { inputs: TokenInputInfo[]; layers: AttentionLayerInfo[] };
}

/** The model's attention, or undefined when it has no attention layers. */
export const attentionInfoJob = defineJob('attention-info', async (args: { model: ModelRef }): Promise<AttentionSummary | undefined> => {
  const model = await cache.get(args.model.file);
  if (!model) return undefined;
  const kind = model.inputs.every((x) => x.kind === 'tokens') ? 'tokens' : 'image';
  const image = attentionInfo(model);
  return {
    file: model.file, name: model.name, kind,
    ...(image ? { image } : {}),
    ...(kind === 'tokens' ? { tokens: tokenModelInfo(model) } : {}),
  };
});

async function attentionModel(file: string) {
  const model = await cache.get(file);
  if (!model) throw new UserError(`${file} has no attention layers (MultiHeadAttention, or Softmax nodes with [batch, heads, q, k] outputs)`);
  return model;
}

export const attentionMapJob = defineJob('attention-map', async (args: { model: ModelRef; imageFile: string; preprocess: PreprocessPreset; request: AttentionRequestMessage }): Promise<AttentionMapMessage> =>
  attentionMapFor(await attentionModel(args.model.file), args.imageFile, args.preprocess, args.request));

export const attentionTokensJob = defineJob('attention-tokens', async (args: { model: ModelRef; texts: string[] }): Promise<TokenAttention> =>
  tokenAttention(await attentionModel(args.model.file), args.texts));

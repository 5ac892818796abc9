/**
 * Attention rollout (Abnar & Zuidema 2020) as an explanation method: the rollout of a ViT's
 * self-attention layers over its image patches, the CLS row (or the mean row without a CLS
 * token), as a map over the patch grid. Also what the attention methods share: the attention
 * view of a model adapter (the attention engine around the adapter's own layers), built once per
 * adapter; why a model has no attention to show; and one captured pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Explainer, ExplainRequest, ExplanationMap, MethodParams } from '../../explainer';
import type { ModelAdapter, Target } from '../../../model/types';
import type { HeadFusion } from '../../../../shared/attention';
import { throwIfCancelled, UserError } from '../../../../shared/errors';
import type { AttentionCapture, AttentionModel } from '../../../attention/attention-model';
import { attentionImageMap, patchSide } from '../../../attention/image-maps';
import { choiceParam, numberParam, singleImage } from '../request-checks';

/** The two parameters of the rollout methods. */
export const FUSION_PARAM = {
  key: 'fusion', label: 'Head fusion', default: 'mean', choices: ['mean', 'max', 'min'],
  help: 'How the heads of a layer are combined, entry by entry, before the rollout: their mean, maximum or minimum',
} as const;
export const DISCARD_PARAM = {
  key: 'discardRatio', label: 'Discard ratio', default: 0, min: 0, max: 0.99,
  help: 'Fraction of each fused attention matrix zeroed before the rollout, the weakest entries first (attention to token 0 is kept)',
} as const;

/** A model's attention over its patches and its attention layers (in the engine's order), or why there is none. */
type AttentionEntry = { model: AttentionModel } | { reason: string };

/**
 * Built once per adapter, so the attention wrapper (its layer list, patch grid and program) is
 * not rebuilt on every call; the hooks are set per pass. The wrapper and the passes run the
 * adapter's own layers, whose weights are read at call time: a sanity check's re-initialisation
 * in place is seen by the next call.
 */
const entries = new WeakMap<ModelAdapter, AttentionEntry>();

function attentionEntry(adapter: ModelAdapter): AttentionEntry {
  const model = adapter.attention();
  if (typeof model === 'string') return { reason: model };
  const side = patchSide(model);
  if (!side) {
    return { reason: `needs self-attention over image patches; ${model.layers.every((l) => l.cross) ? 'every attention layer of this model is cross-attention' : 'no self-attention layer of this model runs over the image input'}` };
  }
  const self = side.indices.map((i) => model.layers[i]);
  const first = self[0];
  const odd = self.find((l) => l.heads !== first.heads || l.queryTokens !== first.queryTokens);
  if (odd) {
    return { reason: `rolls out attention layers with equal heads and tokens; ${first.name} has ${first.heads} heads over ${first.queryTokens} tokens, ${odd.name} ${odd.heads} over ${odd.queryTokens}` };
  }
  if (!model.patches) {
    const [h, w] = adapter.inputShape;
    return {
      reason: `needs MultiHeadAttention layers over image patches; the ${first.queryTokens} tokens of ${first.name} do not form a patch grid of the ${h}×${w} input ` +
        '(name it in the model\'s metadata: "patchGrid": [rows, cols], "clsToken": true/false)',
    };
  }
  return { model };
}

function cachedEntry(adapter: ModelAdapter): AttentionEntry {
  let e = entries.get(adapter);
  if (!e) {
    e = attentionEntry(adapter);
    entries.set(adapter, e);
  }
  return e;
}

/**
 * Why the attention methods cannot run on this model, phrased to follow a method's name
 * ("needs MultiHeadAttention layers over image patches; this model has none"), or undefined.
 */
export function whyNoPatchAttention(adapter: ModelAdapter): string | undefined {
  const e = cachedEntry(adapter);
  return 'reason' in e ? e.reason : undefined;
}

/** The adapter's attention model (cached); a UserError naming the method when it has none. */
export function patchAttentionOf(label: string, adapter: ModelAdapter): AttentionModel {
  const e = cachedEntry(adapter);
  if ('reason' in e) throw new UserError(`${label} ${e.reason}`);
  return e.model;
}

/** The adapter's attention for one input ([1, h, w, c]), with the gradients of `target` when given. */
export function captureAttention(label: string, adapter: ModelAdapter, input: tf.Tensor4D, target?: Target): AttentionCapture {
  return patchAttentionOf(label, adapter).capture([input], target ? { gradientTarget: target.index, space: target.space } : {});
}

/** The discard ratio of a request, checked. */
export function discardRatioOf(e: Pick<Explainer, 'id' | 'params'>, params: MethodParams | undefined): number {
  return numberParam(e, params, DISCARD_PARAM.key);
}

export const attentionRollout: Explainer = {
  id: 'rollout',
  label: 'Attention rollout',
  family: 'attention',
  needs: { gradients: false, spatialLayer: false, attention: true },
  params: [FUSION_PARAM, DISCARD_PARAM],
  async explain({ adapter, input, params, signal, onProgress }: ExplainRequest): Promise<ExplanationMap> {
    throwIfCancelled(signal);
    singleImage(attentionRollout.label, input);
    const fusion = choiceParam<HeadFusion>(attentionRollout, params, FUSION_PARAM.key);
    const discardRatio = discardRatioOf(attentionRollout, params);
    const model = patchAttentionOf(attentionRollout.label, adapter);
    const capture = captureAttention(attentionRollout.label, adapter, input);
    const map = attentionImageMap(model, capture, { mode: 'rollout', fusion, discardRatio });
    onProgress?.(1);
    return { data: map.data, height: map.height, width: map.width };
  },
};

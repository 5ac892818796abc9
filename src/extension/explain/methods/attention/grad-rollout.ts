/**
 * Gradient-weighted attention rollout (class-specific rollout after jacobgil/vit-explain's
 * grad_rollout) as an explanation method: per layer, the mean over heads of attention ⊙
 * ∂target/∂attention with negatives clamped, rolled out over the self-attention layers; the CLS
 * (or mean) row as a map over the patch grid. The target is the request's: a class index, its
 * logit or (after a softmax / sigmoid head) its probability, differentiated through the
 * adapter's own forward pass.
 */
import type { Explainer, ExplainRequest, ExplanationMap } from '../../explainer';
import { throwIfCancelled } from '../../../../shared/errors';
import { attentionImageMap } from '../../../attention/image-maps';
import { captureAttention, DISCARD_PARAM, discardRatioOf, patchAttentionOf } from './attention-rollout';
import { singleImage } from '../request-checks';

export const gradRollout: Explainer = {
  id: 'gradrollout',
  label: 'Gradient-weighted rollout',
  family: 'attention',
  needs: { gradients: true, spatialLayer: false, attention: true },
  params: [DISCARD_PARAM],
  async explain({ adapter, input, target, params, signal, onProgress }: ExplainRequest): Promise<ExplanationMap> {
    throwIfCancelled(signal);
    singleImage(gradRollout.label, input);
    const discardRatio = discardRatioOf(gradRollout, params);
    const model = patchAttentionOf(gradRollout.label, adapter);
    const capture = captureAttention(gradRollout.label, adapter, input, target);
    const map = attentionImageMap(model, capture, { mode: 'grad-rollout', fusion: 'mean', discardRatio });
    onProgress?.(1);
    return { data: map.data, height: map.height, width: map.width };
  },
};

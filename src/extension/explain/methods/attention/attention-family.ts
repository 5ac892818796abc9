/**
 * The attention methods for Transformers / ViTs with self-attention over image patches, in the
 * order the panel lists them, and the check of whether a model has such attention.
 */
import type { Explainer } from '../../explainer';
import { attentionRollout } from './attention-rollout';
import { gradRollout } from './grad-rollout';

export { whyNoPatchAttention } from './attention-rollout';

export const ATTENTION_METHODS: readonly Explainer[] = [attentionRollout, gradRollout];

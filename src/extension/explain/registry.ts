/** Every explanation method, by id, and whether it applies to a model. */
import { UserError } from '../../shared/errors';
import type { Explainer } from './explainer';
import type { ModelAdapter } from '../model/types';
import { lastSpatialLayer } from '../model/layer-info';
import { CAM_METHODS } from './methods/cam/cam-family';
import { GRADIENT_METHODS } from './methods/gradient/gradient-family';
import { PERTURBATION_METHODS } from './methods/perturbation/perturbation-family';
import { ATTENTION_METHODS, whyNoPatchAttention } from './methods/attention/attention-family';

export const EXPLAINERS: readonly Explainer[] = [...CAM_METHODS, ...GRADIENT_METHODS, ...PERTURBATION_METHODS, ...ATTENTION_METHODS];

/**
 * What a new panel shows (package.json's `xaiLens.defaultMethods` default, checked by a test):
 * quick on any model, one of each family worth comparing, and the random reference row.
 */
export const DEFAULT_METHODS: readonly string[] = ['gradcam', 'gradcampp', 'ig', 'guidedbp', 'random'];

export function explainerById(id: string): Explainer {
  const e = EXPLAINERS.find((m) => m.id === id.trim().toLowerCase());
  if (!e) throw new UserError(`unknown method "${id}" (available: ${EXPLAINERS.map((m) => m.id).join(', ')})`);
  return e;
}

/** Why a method cannot run on a model, or undefined when it can. */
export function whyNotApplicable(e: Explainer, adapter: ModelAdapter, layer?: string): string | undefined {
  if (e.needs.spatialLayer && lastSpatialLayer(adapter.layers) === undefined) {
    return `${e.label} needs a layer with a spatial [batch, height, width, channels] output, and this model has none`;
  }
  if (e.needs.reluHook && adapter.reluOverride !== undefined) return `${e.label} ${adapter.reluOverride}`;
  if (e.needs.attention) {
    const why = whyNoPatchAttention(adapter);
    if (why) return `${e.label} ${why}`;
  }
  if (e.needs.gapDenseHead) {
    const head = adapter.gapDenseHead(layer ?? adapter.defaultLayer() ?? '');
    if (typeof head === 'string') return `${e.label} ${head}`;
    head.weights.dispose();
  }
  return undefined;
}

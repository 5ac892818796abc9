/** Every explanation method, by id. */
import { UserError } from '../../shared/errors';
import type { Explainer } from './explainer';
import type { ModelAdapter } from '../model/types';
import { lastSpatialLayer } from '../model/layer-info';
import { gradCam } from './methods/gradcam';

export const EXPLAINERS: readonly Explainer[] = [gradCam];

export function explainerById(id: string): Explainer {
  const e = EXPLAINERS.find((m) => m.id === id.trim().toLowerCase());
  if (!e) throw new UserError(`unknown method "${id}" (available: ${EXPLAINERS.map((m) => m.id).join(', ')})`);
  return e;
}

/** Why a method cannot run on a model, or undefined when it can. */
export function whyNotApplicable(e: Explainer, adapter: ModelAdapter): string | undefined {
  if (e.needs.spatialLayer && lastSpatialLayer(adapter.layers) === undefined) {
    return `${e.label} needs a layer with a spatial [batch, height, width, channels] output, and this model has none`;
  }
  return undefined;
}

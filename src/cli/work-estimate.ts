/**
 * How much work an explain run is, in passes through the model (forward passes, and gradient
 * passes: a forward and a backward pass), per method and metric, from the parameters as the
 * methods read them. With a measured time per pass it becomes the estimate the CLI warns with
 * before work of more than a minute.
 */
import { paramsFor } from '../extension/explain/explain-image';
import { paramValue, type Explainer, type MethodParams } from '../extension/explain/explainer';
import { integratedGradients } from '../extension/explain/methods/gradient/integrated-gradients';
import { occlusionWindows } from '../extension/explain/methods/perturbation/occlusion';
import { DEFAULT_CURVE_STEPS } from '../extension/metrics/deletion-insertion';
import { DEFAULT_ROAD_PERCENTAGES } from '../extension/metrics/road';
import type { ModelInfo } from '../extension/compute/jobs/describe';

export interface Passes {
  forward: number;
  gradient: number;
}

const ZERO: Passes = { forward: 0, gradient: 0 };

export function addPasses(a: Passes, b: Passes, times = 1): Passes {
  return { forward: a.forward + times * b.forward, gradient: a.gradient + times * b.gradient };
}

/** Passes of one map's faithfulness metrics: deletion and insertion curves, ROAD's MoRF and LeRF. */
export const METRIC_PASSES: Passes = { forward: 2 * (DEFAULT_CURVE_STEPS + 1) + 2 * DEFAULT_ROAD_PERCENTAGES.length, gradient: 0 };

/** The channels of the layer CAM methods use: `layer`, else the model's default layer. */
function channelsOf(model: Pick<ModelInfo, 'layers' | 'defaultLayer'>, layer: string | undefined): number {
  const info = model.layers.find((l) => l.name === (layer ?? model.defaultLayer));
  const c = info?.outputShape[info.outputShape.length - 1];
  return typeof c === 'number' && c > 0 ? c : 1;
}

/** The passes one map of `method` takes on an input of `model`'s size, with the run's parameters. */
export function methodPasses(method: Explainer, params: MethodParams, model: Pick<ModelInfo, 'inputShape' | 'layers' | 'defaultLayer'>, layer?: string): Passes {
  const p = paramsFor(method, params);
  const num = (key: string) => Number(paramValue(method, p, key));
  const [h, w] = model.inputShape;
  switch (method.id) {
    case 'random':
      return ZERO;
    case 'cam':
    case 'eigencam':
    case 'rollout':
      return { forward: 1, gradient: 0 };
    case 'guidedgradcam':
      return { forward: 0, gradient: 2 };
    case 'ig':
      return { forward: 0, gradient: num('steps') + 1 };
    case 'smoothgrad': {
      // Over Integrated Gradients, each copy takes IG's default steps + 1 points.
      const perCopy = paramValue(method, p, 'base') === 'ig' ? Number(paramValue(integratedGradients, undefined, 'steps')) + 1 : 1;
      return { forward: 0, gradient: num('samples') * perCopy };
    }
    case 'rise':
      return { forward: num('masks') + 1, gradient: 0 };
    case 'scorecam':
      return { forward: channelsOf(model, layer) + 1, gradient: 0 };
    case 'occlusion': {
      const window = num('window') > 0 ? num('window') : Math.max(1, Math.round(Math.min(h, w) / 8));
      const stride = num('stride') > 0 ? num('stride') : Math.max(1, Math.floor(window / 2));
      return { forward: occlusionWindows(h, w, Math.min(window, h), Math.min(window, w), stride).length + 1, gradient: 0 };
    }
    default:
      // Grad-CAM and its variants, Gradient, Gradient × Input, Guided Backprop, gradient-weighted rollout.
      return method.needs.gradients ? { forward: 0, gradient: 1 } : { forward: 1, gradient: 0 };
  }
}

/** "65000 gradient passes", "1001 forward passes and 65 gradient passes". */
export function describePasses(p: Passes): string {
  const parts = [];
  if (p.gradient > 0) parts.push(`${p.gradient} gradient pass${p.gradient === 1 ? '' : 'es'}`);
  if (p.forward > 0) parts.push(`${p.forward} forward pass${p.forward === 1 ? '' : 'es'}`);
  return parts.join(' and ') || 'no passes';
}

/** Below this many passes (a gradient pass counting as 3) the time per pass is not measured: under a minute unless a pass takes 0.2 s. */
export const MEASURE_FROM = 300;

export function weight(p: Passes): number {
  return p.forward + 3 * p.gradient;
}

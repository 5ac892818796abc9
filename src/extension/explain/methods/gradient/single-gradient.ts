/**
 * What Gradient, Gradient × Input and Guided Backprop share: one batched input attribution of
 * the single image, summed over channels into a signed map. Each method gives only its rule.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Explainer, ExplainerNeeds, ExplainRequest, ExplanationMap } from '../../explainer';
import { throwIfCancelled } from '../../../../shared/errors';
import { channelSumMap } from './input-request';
import { singleImage } from '../request-checks';

export interface SingleGradientSpec {
  id: string;
  label: string;
  needs: ExplainerNeeds;
  /** Whether the rule measures the input from the black image (then its shape is checked). */
  usesBlack: boolean;
  /** The attribution of the input, [1, h, w, c]; runs inside tf.tidy. */
  attribute(req: ExplainRequest): tf.Tensor4D;
}

export function singleGradientMethod(spec: SingleGradientSpec): Explainer {
  return {
    id: spec.id,
    label: spec.label,
    family: 'gradient',
    needs: spec.needs,
    params: [],
    async explain(req: ExplainRequest): Promise<ExplanationMap> {
      singleImage(spec.label, req.input, spec.usesBlack ? req.black : undefined);
      throwIfCancelled(req.signal);
      const map = await channelSumMap(tf.tidy(() => spec.attribute(req)));
      req.onProgress?.(1);
      return map;
    },
  };
}

/**
 * Guided Backprop (Springenberg et al. 2015, "Striving for Simplicity", Fig. 1): the input
 * gradient with every ReLU's backward rule replaced by the guided one, which passes the gradient
 * only where the forward input was positive and the incoming gradient is positive. Summed over
 * channels and signed (the layers below the first ReLU can turn positive gradients negative).
 */
import type { Explainer, ExplainRequest, ExplanationMap } from '../explainer';
import { throwIfCancelled } from '../../../shared/errors';
import { guidedBackpropAttribution } from './input-attribution';
import { channelSumMap } from './input-request';
import { singleImage } from './request-checks';

export const guidedBackprop: Explainer = {
  id: 'guidedbp',
  label: 'Guided Backprop',
  family: 'gradient',
  needs: { gradients: true, spatialLayer: false, reluHook: true },
  params: [],
  async explain({ adapter, input, target, signal, onProgress }: ExplainRequest): Promise<ExplanationMap> {
    singleImage('Guided Backprop', input);
    throwIfCancelled(signal);
    const map = await channelSumMap(guidedBackpropAttribution(adapter, input, target));
    onProgress?.(1);
    return map;
  },
};

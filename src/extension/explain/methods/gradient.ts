/**
 * Gradient, or vanilla saliency (Simonyan et al. 2014, "Deep Inside Convolutional Networks",
 * Sec. 3.1): w = ∂S_c/∂I at the input, the first-order Taylor weight of each input value. The
 * paper shows max over channels of |w|; here it is summed over channels and kept signed, like
 * every input-space map of this family.
 */
import type { Explainer, ExplainRequest, ExplanationMap } from '../explainer';
import { throwIfCancelled } from '../../../shared/errors';
import { gradientAttribution } from './input-attribution';
import { channelSumMap } from './input-request';
import { singleImage } from './request-checks';

export const gradient: Explainer = {
  id: 'gradient',
  label: 'Gradient',
  family: 'gradient',
  needs: { gradients: true, spatialLayer: false },
  params: [],
  async explain({ adapter, input, target, signal, onProgress }: ExplainRequest): Promise<ExplanationMap> {
    singleImage('Gradient', input);
    throwIfCancelled(signal);
    const map = await channelSumMap(gradientAttribution(adapter, input, target));
    onProgress?.(1);
    return map;
  },
};

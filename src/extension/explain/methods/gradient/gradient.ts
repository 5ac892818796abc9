/**
 * Gradient, or vanilla saliency (Simonyan et al. 2014, "Deep Inside Convolutional Networks",
 * Sec. 3.1): w = ∂S_c/∂I at the input, the first-order Taylor weight of each input value. The
 * paper shows max over channels of |w|; here it is summed over channels and kept signed, like
 * every input-space map of this family.
 */
import { gradientAttribution } from './input-attribution';
import { singleGradientMethod } from './single-gradient';

export const gradient = singleGradientMethod({
  id: 'gradient',
  label: 'Gradient',
  needs: { gradients: true, spatialLayer: false },
  usesBlack: false,
  attribute: ({ adapter, input, target }) => gradientAttribution(adapter, input, target),
});

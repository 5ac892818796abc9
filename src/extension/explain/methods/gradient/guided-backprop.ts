/**
 * Guided Backprop (Springenberg et al. 2015, "Striving for Simplicity", Fig. 1): the input
 * gradient with every ReLU's backward rule replaced by the guided one, which passes the gradient
 * only where the forward input was positive and the incoming gradient is positive. Summed over
 * channels and signed (the layers below the first ReLU can turn positive gradients negative).
 */
import { guidedBackpropAttribution } from './input-attribution';
import { singleGradientMethod } from './single-gradient';

export const guidedBackprop = singleGradientMethod({
  id: 'guidedbp',
  label: 'Guided Backprop',
  needs: { gradients: true, spatialLayer: false, reluHook: true },
  usesBlack: false,
  attribute: ({ adapter, input, target }) => guidedBackpropAttribution(adapter, input, target),
});

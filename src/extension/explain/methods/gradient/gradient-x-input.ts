/**
 * Gradient × Input (Shrikumar et al. 2016): the gradient times the input's difference from the
 * black image, ∂F/∂x ⊙ (x − black), summed over channels and signed. Measuring x from the black
 * image (the preprocessed all-zero pixel) rather than from 0 makes black pixels contribute
 * nothing whatever the preprocessing; on a linear model F = w·x + b with black = 0 the map is
 * w ⊙ x, each input's exact share of F − b.
 */
import { gradientTimesInputAttribution } from './input-attribution';
import { blackImage } from './input-request';
import { singleGradientMethod } from './single-gradient';

export const gradientTimesInput = singleGradientMethod({
  id: 'gradxinput',
  label: 'Gradient × Input',
  needs: { gradients: true, spatialLayer: false },
  usesBlack: true,
  attribute: ({ adapter, input, target, black }) => gradientTimesInputAttribution(adapter, input, target, blackImage(black, input)),
});

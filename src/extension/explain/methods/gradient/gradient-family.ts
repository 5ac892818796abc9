/** The input-gradient methods, in the order the panel lists them. */
import type { Explainer } from '../../explainer';
import { gradient } from './gradient';
import { gradientTimesInput } from './gradient-x-input';
import { smoothGrad } from './smoothgrad';
import { integratedGradients } from './integrated-gradients';
import { guidedBackprop } from './guided-backprop';
import { guidedGradCam } from './guided-gradcam';

export const GRADIENT_METHODS: readonly Explainer[] = [gradient, gradientTimesInput, smoothGrad, integratedGradients, guidedBackprop, guidedGradCam];

/** The class-activation-map methods, in the order the panel lists them. */
import type { Explainer } from '../explainer';
import { gradCam } from './gradcam';

export const CAM_METHODS: readonly Explainer[] = [gradCam];

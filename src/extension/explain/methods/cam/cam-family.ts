/** The class-activation-map methods, in the order the panel lists them. */
import type { Explainer } from '../../explainer';
import { cam } from './cam';
import { eigenCam } from './eigen-cam';
import { gradCam } from './gradcam';
import { gradCamPlusPlus } from './gradcam-plus-plus';
import { hiResCam } from './hires-cam';
import { layerCam } from './layer-cam';
import { scoreCam } from './score-cam';
import { xGradCam } from './xgrad-cam';

export const CAM_METHODS: readonly Explainer[] = [cam, gradCam, gradCamPlusPlus, scoreCam, layerCam, xGradCam, eigenCam, hiResCam];

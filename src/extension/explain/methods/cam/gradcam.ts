/**
 * Grad-CAM (Selvaraju et al. 2017): weight each channel of a spatial layer by the spatial mean of
 * the target's gradient, sum, and keep the positive part (eq. 1–2 of the paper).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gradientCam } from './cam-base';

export const gradCam = gradientCam({
  id: 'gradcam',
  label: 'Grad-CAM',
  // α_k = (1/Z) Σ_ij ∂S/∂A_k,ij; the map is relu(Σ_k α_k A_k).
  contributions: (activation, grad) => tf.mul(activation, tf.mean(grad, [1, 2], true)),
});

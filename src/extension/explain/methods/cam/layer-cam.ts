/**
 * Layer-CAM (Jiang et al. 2021, eq. 4–5): every location keeps its own weight, the positive part
 * of the gradient there: map = relu(Σ_k relu(g_k,ij) · A_k,ij).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gradientCam } from './cam-base';

export const layerCam = gradientCam({
  id: 'layercam',
  label: 'Layer-CAM',
  contributions: (activation, grad) => tf.mul(tf.relu(grad), activation),
});

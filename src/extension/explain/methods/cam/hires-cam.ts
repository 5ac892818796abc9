/**
 * HiResCAM (Draelos & Carin 2020): the gradient multiplies the activation element by element
 * instead of being averaged first, map = relu(Σ_k g_k ⊙ A_k). For a layer followed by global
 * average pooling and a dense head the gradient is spatially constant (g_k = w_k / (h·w)), so
 * HiResCAM equals Grad-CAM there (and CAM / (h·w)); elsewhere it shows, location by location, what
 * the score actually reads from the layer (the paper's §3).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gradientCam } from './cam-base';

export const hiResCam = gradientCam({
  id: 'hirescam',
  label: 'HiResCAM',
  contributions: (activation, grad) => tf.mul(grad, activation),
});

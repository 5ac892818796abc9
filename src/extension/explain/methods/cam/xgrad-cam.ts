/**
 * XGrad-CAM (Fu et al. 2020, eq. 9): the channel weight is the gradient averaged with the
 * channel's own normalised activation as weights, w_k = Σ_ij (A_k,ij / (Σ_ab A_k,ab + ε)) · g_k,ij,
 * which makes the map satisfy the paper's sensitivity and conservation axioms for ReLU networks;
 * map = relu(Σ_k w_k A_k). ε = 1e-7 as in pytorch-grad-cam keeps an all-zero channel at weight 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gradientCam } from './cam-base';

const EPS = 1e-7;

export const xGradCam = gradientCam({
  id: 'xgradcam',
  label: 'XGrad-CAM',
  contributions: (activation, grad) => {
    const total = tf.add(tf.sum(activation, [1, 2], true), EPS);
    const weights = tf.div(tf.sum(tf.mul(activation, grad), [1, 2], true), total);
    return tf.mul(activation, weights);
  },
});

/**
 * Grad-CAM++ (Chattopadhyay et al. 2018) in the closed form for an exponential output Y = exp(S)
 * (eq. 19 of the paper), as pytorch-grad-cam computes it. With g = ∂S/∂A at the layer:
 *
 *   α_k,ij = g_k,ij² / (2 g_k,ij² + (Σ_ab A_k,ab) · g_k,ij³),   α = 0 where g = 0 or the denominator is 0,
 *   w_k    = Σ_ij α_k,ij · relu(g_k,ij),
 *   map    = relu(Σ_k w_k A_k).
 *
 * The derivation needs S to be the pre-softmax score, so the target is always taken in logit space.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gradientCam } from './cam-base';

export const gradCamPlusPlus = gradientCam({
  id: 'gradcampp',
  label: 'Grad-CAM++',
  space: 'logit',
  contributions: (activation, grad) => {
    const g2 = tf.square(grad);
    const g3 = tf.mul(g2, grad);
    const sumA = tf.sum(activation, [1, 2], true);
    const denominator = tf.add(tf.mul(g2, 2), tf.mul(sumA, g3));
    // g = 0 makes the denominator 0 as well, so this also sets α = 0 where the gradient is 0.
    const defined = tf.notEqual(denominator, 0);
    const safe = tf.where(defined, denominator, tf.onesLike(denominator));
    const alpha = tf.where(defined, tf.div(g2, safe), tf.zerosLike(g2));
    const weights = tf.sum(tf.mul(alpha, tf.relu(grad)), [1, 2], true);
    return tf.mul(activation, weights);
  },
});

/**
 * Grad-CAM (Selvaraju et al. 2017): weight each channel of a spatial layer by the spatial mean of
 * the target's gradient, sum, and keep the positive part.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spatialLayerOrThrow } from '../../model/layer-info';
import type { Explainer, ExplainRequest, ExplanationMap } from '../explainer';
import { throwIfCancelled } from '../../../shared/errors';

export const gradCam: Explainer = {
  id: 'gradcam',
  label: 'Grad-CAM',
  family: 'cam',
  needs: { gradients: true, spatialLayer: true },
  params: [],
  async explain({ adapter, input, target, layer, signal, onProgress }: ExplainRequest): Promise<ExplanationMap> {
    const info = spatialLayerOrThrow(adapter.layers, layer, 'Grad-CAM');
    throwIfCancelled(signal);
    const cam = tf.tidy(() => {
      const { activation, grad } = adapter.layerGradient(input, info.name, target);
      const weights = tf.mean(grad, [1, 2], true); // [1, 1, 1, c]
      return tf.squeeze(tf.relu(tf.sum(tf.mul(activation, weights), -1)), [0]) as tf.Tensor2D; // [h, w]
    });
    const [height, width] = cam.shape;
    const data = (await cam.data()) as Float32Array;
    cam.dispose();
    onProgress?.(1);
    return { data, height, width, layer: info.name };
  },
};

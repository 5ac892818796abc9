/**
 * What the class-activation-map methods share, in the spirit of pytorch-grad-cam's BaseCAM: most
 * of them take the activation A of a spatial layer and the gradient g = ∂S/∂A of the target score
 * S, turn them into per-pixel, per-channel contributions, sum those over the channels and keep the
 * positive part. They differ only in the contributions (e.g. Grad-CAM: A_k · mean_ij g_k).
 */
import * as tf from '@tensorflow/tfjs-core';
import { spatialLayerOrThrow } from '../../../model/layer-info';
import type { Target } from '../../../model/types';
import { throwIfCancelled } from '../../../../shared/errors';
import type { Explainer, ExplanationMap } from '../../explainer';
import { singleImage } from '../request-checks';

export interface GradientCamSpec {
  id: string;
  label: string;
  /** The score space the method is derived for; the request's target space when absent. */
  space?: Target['space'];
  /** Contributions [1, h, w, c] from the activation and the gradient (both [1, h, w, c]). */
  contributions(activation: tf.Tensor4D, grad: tf.Tensor4D): tf.Tensor4D;
}

/** A CAM method from its contribution rule: map = relu(Σ_k contributions_k), at the layer's resolution. */
export function gradientCam(spec: GradientCamSpec): Explainer {
  return {
    id: spec.id,
    label: spec.label,
    family: 'cam',
    needs: { gradients: true, spatialLayer: true },
    params: [],
    async explain({ adapter, input, target, layer, signal, onProgress }) {
      const info = spatialLayerOrThrow(adapter.layers, layer, spec.label);
      singleImage(spec.label, input);
      throwIfCancelled(signal);
      const scoreTarget = spec.space ? { ...target, space: spec.space } : target;
      const cam = tf.tidy(() => {
        const { activation, grad } = adapter.layerGradient(input, info.name, scoreTarget);
        return reluChannelSum(spec.contributions(activation as tf.Tensor4D, grad as tf.Tensor4D));
      });
      const map = await camMap(cam, info.name);
      onProgress?.(1);
      return map;
    },
  };
}

/** relu(Σ_k t_k) over the channel axis of a [1, h, w, c] tensor, as [h, w]. */
export function reluChannelSum(t: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => tf.squeeze(tf.relu(tf.sum(t, -1)), [0]) as tf.Tensor2D);
}

/** Reads a [h, w] map computed at `layer` into an ExplanationMap, and disposes it. */
export async function camMap(cam: tf.Tensor2D, layer: string): Promise<ExplanationMap> {
  try {
    const [height, width] = cam.shape;
    const data = (await cam.data()) as Float32Array;
    return { data, height, width, layer };
  } finally {
    cam.dispose();
  }
}

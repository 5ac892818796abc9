/**
 * Eigen-CAM (Muhammad & Yeasin 2020): the layer's activation as an (h·w) × c matrix M, centred per
 * channel as pytorch-grad-cam's get_2d_projection does, projected onto its first right singular
 * vector v₁: map = M̃ v₁ reshaped to h × w, shown as its positive part like the other CAMs. Not
 * class specific, no gradients.
 *
 * v₁ is the top eigenvector of the Gram matrix M̃ᵀM̃ (c × c). When h·w < c the smaller M̃M̃ᵀ is used
 * instead: its top eigenvector is u₁ = M̃ v₁ / σ₁ with σ₁² its eigenvalue, so M̃ v₁ = σ₁ u₁. The
 * sign of a singular vector is arbitrary; it is chosen so that the map correlates positively with
 * the channel-mean activation (where the layer fires, the map is high).
 */
import * as tf from '@tensorflow/tfjs-core';
import { spatialLayerOrThrow } from '../../../model/layer-info';
import { throwIfCancelled } from '../../../../shared/errors';
import type { Explainer, ExplainRequest, ExplanationMap } from '../../explainer';
import { topEigenpair } from './power-iteration';
import { singleImage } from '../request-checks';
import { DEFAULT_SEED } from '../../../util/seeded-random';

export const eigenCam: Explainer = {
  id: 'eigencam',
  label: 'Eigen-CAM',
  family: 'cam',
  needs: { gradients: false, spatialLayer: true },
  params: [],
  async explain({ adapter, input, layer, seed, signal, onProgress }: ExplainRequest): Promise<ExplanationMap> {
    const info = spatialLayerOrThrow(adapter.layers, layer, 'Eigen-CAM');
    singleImage('Eigen-CAM', input);
    throwIfCancelled(signal);
    let shape: number[] = [];
    const centred = tf.tidy(() => {
      const a = adapter.activations(input, info.name);
      shape = a.shape;
      const m = tf.reshape(a, [-1, a.shape[3]!]) as tf.Tensor2D; // [h·w, c]
      return tf.sub(m, tf.mean(m, 0, true)) as tf.Tensor2D;
    });
    const [, height, width] = shape;
    const [n, c] = centred.shape;
    const byPixel = n < c;
    const size = byPixel ? n : c;
    try {
      const gram = tf.tidy(() => tf.matMul(centred, centred, !byPixel, byPixel));
      const k = await gram.data();
      gram.dispose();
      throwIfCancelled(signal);
      const top = topEigenpair(k, size, seed ?? DEFAULT_SEED);
      const [p, mean] = tf.tidy(() => [
        byPixel
          ? tf.mul(tf.tensor1d(Float32Array.from(top.vector)), Math.sqrt(top.value))
          : tf.reshape(tf.matMul(centred, tf.tensor2d(Float32Array.from(top.vector), [c, 1])), [n]),
        // The channel mean of M̃ differs from that of M by a constant: the same correlation.
        tf.mean(centred, 1),
      ]);
      const projection = (await p.data()) as Float32Array;
      const channelMean = (await mean.data()) as Float32Array;
      tf.dispose([p, mean]);
      // The projection has zero mean (M̃'s columns do), so this is the covariance with the channel mean.
      let agreement = 0;
      for (let i = 0; i < n; i++) agreement += projection[i] * channelMean[i];
      const sign = agreement < 0 ? -1 : 1;
      const data = Float32Array.from(projection, (v) => Math.max(0, sign * v));
      let trace = 0;
      for (let i = 0; i < size; i++) trace += k[i * size + i];
      onProgress?.(1);
      return { data, height, width, layer: info.name, stats: { explainedVariance: trace > 0 ? top.value / trace : 0 } };
    } finally {
      centred.dispose();
    }
  },
};

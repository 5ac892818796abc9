/**
 * CAM (Zhou et al. 2016, eq. 2 of "Learning Deep Features for Discriminative Localization"): for a
 * layer followed by global average pooling and a dense output layer, the logit of class c is
 * S_c = Σ_k w_k^c · mean_ij A_k,ij + b_c, so M_c = Σ_k w_k^c A_k is its spatial decomposition
 * (S_c = mean_ij M_c,ij + b_c). Shown as relu(M_c), as pytorch-grad-cam does. No gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spatialLayerOrThrow } from '../../../model/layer-info';
import { throwIfCancelled, UserError } from '../../../../shared/errors';
import type { Explainer, ExplainRequest, ExplanationMap } from '../../explainer';
import { camMap, reluChannelSum } from './cam-base';
import { singleImage } from '../request-checks';

export const cam: Explainer = {
  id: 'cam',
  label: 'CAM',
  family: 'cam',
  needs: { gradients: false, spatialLayer: true, gapDenseHead: true },
  params: [],
  async explain({ adapter, input, target, layer, signal, onProgress }: ExplainRequest): Promise<ExplanationMap> {
    const info = spatialLayerOrThrow(adapter.layers, layer, 'CAM');
    singleImage('CAM', input);
    throwIfCancelled(signal);
    const head = adapter.gapDenseHead(info.name);
    if (typeof head === 'string') throw new UserError(`CAM ${head}`);
    const { weights } = head;
    try {
      const classes = weights.shape[1];
      if (!Number.isInteger(target.index) || target.index < 0 || target.index >= classes) {
        throw new UserError(`target index ${target.index} is out of range: the model has ${classes} outputs (0..${classes - 1})`);
      }
      const map = tf.tidy(() => {
        const w = tf.reshape(tf.slice(weights, [0, target.index], [-1, 1]), [-1]); // w^c, [channels]
        return reluChannelSum(tf.mul(adapter.activations(input, info.name), w) as tf.Tensor4D);
      });
      const result = await camMap(map, info.name);
      onProgress?.(1);
      return result;
    } finally {
      weights.dispose();
    }
  },
};

/**
 * Gradient × Input (Shrikumar et al. 2016): the gradient times the input's difference from the
 * black image, ∂F/∂x ⊙ (x − black), summed over channels and signed. Measuring x from the black
 * image (the preprocessed all-zero pixel) rather than from 0 makes black pixels contribute
 * nothing whatever the preprocessing; on a linear model F = w·x + b with black = 0 the map is
 * w ⊙ x, each input's exact share of F − b.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Explainer, ExplainRequest, ExplanationMap } from '../explainer';
import { throwIfCancelled } from '../../../shared/errors';
import { gradientTimesInputAttribution } from './input-attribution';
import { blackImage, channelSumMap } from './input-request';
import { singleImage } from './request-checks';

export const gradientTimesInput: Explainer = {
  id: 'gradxinput',
  label: 'Gradient × Input',
  family: 'gradient',
  needs: { gradients: true, spatialLayer: false },
  params: [],
  async explain({ adapter, input, target, black, signal, onProgress }: ExplainRequest): Promise<ExplanationMap> {
    singleImage('Gradient × Input', input, black);
    throwIfCancelled(signal);
    const attribution = tf.tidy(() => gradientTimesInputAttribution(adapter, input, target, blackImage(black, input)));
    const map = await channelSumMap(attribution);
    onProgress?.(1);
    return map;
  },
};

/**
 * SmoothGrad (Smilkov et al. 2017, eq. 3): the average of a base attribution over n noisy copies
 * of the input, M̂(x) = 1/n Σ_{k=1..n} M(x + N(0, σ²)), with σ a fraction of the input's value
 * range (the paper's "noise level" σ / (x_max − x_min), best around 10–20%). The base is any
 * input-space method; the copies go through it in batches, each batch one batched attribution.
 * The noise of copy k is the k-th block of one seeded stream, so the map does not depend on the
 * batch size, and with σ = 0 it is the base method's map.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Explainer, ExplainRequest, ExplanationMap } from '../explainer';
import { throwIfCancelled } from '../../../shared/errors';
import { attributeBatch, BASE_ATTRIBUTIONS, type BaseAttribution } from './input-attribution';
import { blackImage, channelSumMap, valueRange } from './input-request';
import { batchSizeOf, choiceParam, integerParam, numberParam, singleImage } from './request-checks';
import { integratedGradients } from './integrated-gradients';
import { DEFAULT_SEED, gaussianSource, mulberry32 } from './seeded-random';
import { yieldToEventLoop } from './event-loop';

const LABEL = 'SmoothGrad';

export const smoothGrad: Explainer = {
  id: 'smoothgrad',
  label: LABEL,
  family: 'gradient',
  needs: { gradients: true, spatialLayer: false },
  params: [
    { key: 'base', label: 'Base method', default: 'gradient', choices: BASE_ATTRIBUTIONS, help: 'The attribution averaged over the noisy copies: Gradient, Gradient × Input, Guided Backprop, or Integrated Gradients (black baseline, its default steps).' },
    { key: 'samples', label: 'Samples', default: 25, min: 1, max: 1000, help: 'Number of noisy copies averaged.' },
    { key: 'sigma', label: 'Noise level', default: 0.15, min: 0, max: 1, help: 'Standard deviation of the Gaussian noise as a fraction of the input range (max − min).' },
  ],
  async explain(req: ExplainRequest): Promise<ExplanationMap> {
    const { adapter, input, target, signal, onProgress } = req;
    singleImage(LABEL, input, req.black);
    const base = choiceParam<BaseAttribution>(smoothGrad, req.params, 'base');
    const samples = integerParam(smoothGrad, req.params, 'samples');
    const sigma = numberParam(smoothGrad, req.params, 'sigma');
    const batchSize = batchSizeOf(req.batchSize);
    // IG as the base runs with its default steps (its path points are batched by IG itself).
    const steps = integerParam(integratedGradients, undefined, 'steps');
    const [lo, hi] = await valueRange(req.inputRange, input, LABEL);
    const std = sigma * (hi - lo);
    throwIfCancelled(signal);

    const [, h, w, c] = input.shape;
    const size = h * w * c;
    const normal = gaussianSource(mulberry32(req.seed ?? DEFAULT_SEED));
    const black = blackImage(req.black, input);
    let sum: tf.Tensor = tf.zerosLike(input);
    try {
      for (let start = 0; start < samples; start += batchSize) {
        throwIfCancelled(signal);
        const b = Math.min(batchSize, samples - start);
        const noise = new Float32Array(b * size);
        for (let i = 0; i < noise.length; i++) noise[i] = std * normal();
        const noisy = tf.tidy(() => tf.add(input, tf.tensor4d(noise, [b, h, w, c])) as tf.Tensor4D);
        const attribution = await attributeBatch(base, noisy, {
          adapter, target, black, steps, batchSize, signal,
          onProgress: onProgress && ((f) => onProgress((start + f * b) / samples)),
        }).finally(() => noisy.dispose());
        const next = tf.tidy(() => tf.add(sum, tf.sum(attribution, 0, true)));
        attribution.dispose();
        sum.dispose();
        sum = next;
        onProgress?.((start + b) / samples);
        await yieldToEventLoop();
      }
      throwIfCancelled(signal);
      return await channelSumMap(tf.div(sum, samples) as tf.Tensor4D);
    } finally {
      sum.dispose();
      black.dispose();
    }
  },
};

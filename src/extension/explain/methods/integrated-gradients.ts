/**
 * Integrated Gradients (Sundararajan et al. 2017, "Axiomatic Attribution for Deep Networks"): the
 * gradient averaged along the straight path from a baseline x′ to the input, times x − x′, summed
 * over channels and signed. The baseline is the black image, a strong blur of the input (the
 * information in edges and texture removed, the colours kept), or seeded uniform noise over the
 * input range. `stats` reports completeness (Prop. 1): Σ attributions against F(x) − F(x′).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Explainer, ExplainRequest, ExplanationMap } from '../explainer';
import { throwIfCancelled } from '../../../shared/errors';
import { gaussianBlur } from '../blur';
import { integratedGradientsAttribution } from './input-attribution';
import { blackImage, channelSumMap, valueRange } from './input-request';
import { batchSizeOf, choiceParam, integerParam, singleImage } from './request-checks';
import { DEFAULT_SEED, mulberry32 } from './seeded-random';

const LABEL = 'Integrated Gradients';

export type IgBaseline = 'black' | 'blurred' | 'noise';

/** Standard deviation of the blurred baseline, as a fraction of the image's shorter side. */
export const BLUR_BASELINE_SIGMA = 1 / 8;

/** The baseline x′ for the input, [1, h, w, c]; the caller disposes it. */
export async function igBaseline(kind: IgBaseline, req: ExplainRequest): Promise<tf.Tensor4D> {
  const { input } = req;
  const [, h, w, c] = input.shape;
  switch (kind) {
    case 'black':
      return blackImage(req.black, input);
    case 'blurred':
      return gaussianBlur(input, BLUR_BASELINE_SIGMA * Math.min(h, w));
    case 'noise': {
      const [lo, hi] = await valueRange(req.inputRange, input, LABEL);
      const rng = mulberry32(req.seed ?? DEFAULT_SEED);
      const values = new Float32Array(h * w * c);
      for (let i = 0; i < values.length; i++) values[i] = lo + (hi - lo) * rng();
      return tf.tensor4d(values, [1, h, w, c]);
    }
  }
}

export const integratedGradients: Explainer = {
  id: 'ig',
  label: LABEL,
  family: 'gradient',
  needs: { gradients: true, spatialLayer: false },
  params: [
    { key: 'steps', label: 'Steps', default: 64, min: 2, max: 1024, help: 'Intervals of the trapezoid rule along the path (steps + 1 gradient evaluations). More steps, smaller completeness gap.' },
    { key: 'baseline', label: 'Baseline', default: 'black', choices: ['black', 'blurred', 'noise'], help: 'Where the path starts: the black image, a strong Gaussian blur of the input, or seeded uniform noise over the input range.' },
  ],
  async explain(req: ExplainRequest): Promise<ExplanationMap> {
    const { adapter, input, target, signal, onProgress } = req;
    singleImage(LABEL, input, req.black);
    const steps = integerParam(integratedGradients, req.params, 'steps');
    const kind = choiceParam<IgBaseline>(integratedGradients, req.params, 'baseline');
    const batchSize = batchSizeOf(req.batchSize);
    throwIfCancelled(signal);
    const baseline = await igBaseline(kind, req);
    const path = await integratedGradientsAttribution(adapter, input, baseline, target, { steps, batchSize, signal, onProgress })
      .finally(() => baseline.dispose());
    const map = await channelSumMap(path.attribution);
    const fx = path.fx[0];
    const fBaseline = path.fBaseline[0];
    let attributionSum = 0;
    for (const v of map.data) attributionSum += v;
    const delta = fx - fBaseline;
    const completenessGap = attributionSum - delta;
    // |gap| / |F(x) − F(x′)|; when both ends score the same, any nonzero gap is infinitely off.
    const relativeGap = delta !== 0 ? Math.abs(completenessGap) / Math.abs(delta) : completenessGap === 0 ? 0 : Infinity;
    return { ...map, stats: { fx, fBaseline, attributionSum, completenessGap, relativeGap } };
  },
};

/**
 * The random reference map: uniform noise at the input resolution, independent of the model and
 * the image. Any explanation worth showing should beat it on the faithfulness metrics (deletion,
 * insertion, ROAD, pointing game), so it is the reference row of every comparison.
 */
import type { Explainer, ExplainRequest, ExplanationMap } from '../../explainer';
import { throwIfCancelled } from '../../../../shared/errors';
import { DEFAULT_SEED, mulberry32 } from '../../../util/seeded-random';
import { singleImage } from '../request-checks';

export const randomBaseline: Explainer = {
  id: 'random',
  label: 'Random (baseline)',
  family: 'reference',
  needs: { gradients: false, spatialLayer: false },
  params: [],
  async explain({ input, seed, signal, onProgress }: ExplainRequest): Promise<ExplanationMap> {
    throwIfCancelled(signal);
    const [height, width] = singleImage('The random map', input);
    const rng = mulberry32(seed ?? DEFAULT_SEED);
    const data = new Float32Array(height * width);
    // Math.fround can round a value just below 1 up to 1; keep the promised [0, 1).
    for (let i = 0; i < data.length; i++) data[i] = Math.min(rng(), 0.99999994);
    onProgress?.(1);
    return { data, height, width };
  },
};

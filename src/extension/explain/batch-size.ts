/**
 * How many images a method may push through the model at once. Batches amortise per-call costs,
 * but the wasm backend's heap only grows (and aborts past 4 GB), and a backward pass keeps every
 * layer's activation: on MobileNetV2 at 224×224 one image's input gradient takes about 200 MB,
 * so a batch of 32 would abort. The size is chosen from the model's activation sizes against a
 * fixed memory budget.
 */
import type { ModelAdapter } from '../model/types';
import { DEFAULT_BATCH_SIZE } from './explainer';

/** Memory a batch may use. */
export const BATCH_MEMORY_BUDGET = 768e6;

/**
 * Bytes per image: a backward pass keeps every activation and makes a gradient of each
 * (measured ≈ 2.5× the sum of activation sizes on wasm); a forward pass holds a few layers' outputs.
 */
export function bytesPerImage(adapter: ModelAdapter, kind: 'forward' | 'gradient'): number {
  const [h, w, c] = adapter.inputShape;
  let sum = h * w * c;
  let max = sum;
  for (const l of adapter.layers) {
    const n = l.outputShape.slice(1).reduce<number>((p, d) => p * (d ?? 1), 1);
    sum += n;
    max = Math.max(max, n);
  }
  return 4 * (kind === 'gradient' ? 2.5 * sum : 4 * max);
}

/** The batch size for a method on a model: at most DEFAULT_BATCH_SIZE, at least 1. */
export function autoBatchSize(adapter: ModelAdapter, kind: 'forward' | 'gradient', budget = BATCH_MEMORY_BUDGET): number {
  return Math.max(1, Math.min(DEFAULT_BATCH_SIZE, Math.floor(budget / bytesPerImage(adapter, kind))));
}

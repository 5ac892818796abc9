/** Orderings of pixels by a saliency map, shared by the deletion/insertion and ROAD metrics. */
import { UserError } from '../../shared/errors';

/**
 * Pixel indices from most to least important: by decreasing saliency, ties by increasing index
 * (row-major), so the order is deterministic. NaN counts as least important.
 */
export function importanceOrder(saliency: ArrayLike<number>): Int32Array {
  const key = Float64Array.from(saliency, (v) => (Number.isNaN(v) ? -Infinity : v));
  const order = Int32Array.from({ length: key.length }, (_, i) => i);
  return order.sort((a, b) => (key[b] - key[a]) || (a - b));
}

/** Checks that a saliency map has one value per input pixel. */
export function checkSaliency(saliency: ArrayLike<number>, h: number, w: number): void {
  if (saliency.length !== h * w) {
    throw new UserError(`the saliency map has ${saliency.length} values; the input is ${h}×${w} = ${h * w} pixels (resize the map to the input first)`);
  }
}

/**
 * A map that ranks no pixel above another — zero everywhere, or one value everywhere — says
 * nothing, and must not pass for an explanation: it gets a note with its likely cause, shown in
 * the panel and written to the CLI's JSON.
 */
import type { MethodFamily } from '../../shared/protocol/common';

const CAUSES: Record<MethodFamily, string> = {
  cam: 'no gradient-weighted activation of this layer is positive for this target (its evidence at this layer is against the class, or no gradient reaches the layer); try another layer or target',
  gradient: 'the target\'s gradient is zero at this input (a saturated output, e.g. a probability of 1 in probability space, or units that are off for this image); try the logit space',
  perturbation: 'hiding parts of the image does not change the score (the output is saturated, or the windows or masks are too small to matter); try the logit space or larger windows',
  attention: 'the attention is spread evenly over the patches',
  reference: 'the reference map is constant',
};

/** The note for a degenerate map, or undefined when its values differ somewhere. */
export function degenerateMapNote(data: ArrayLike<number>, family: MethodFamily): string | undefined {
  if (data.length === 0) return undefined;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Number.isNaN(v)) return `the map has NaN values: the model's output or its gradient is not finite for this input`;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === 0 && max === 0) return `the map is zero everywhere: ${CAUSES[family]}`;
  const scale = Math.max(Math.abs(min), Math.abs(max));
  if (max - min <= scale * 1e-6) return `the map has one value (${Number(min.toPrecision(4))}) everywhere: ${CAUSES[family]}`;
  return undefined;
}

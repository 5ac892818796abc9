/**
 * TCAV scores (Kim et al. 2018): the directional derivative of the class score along a CAV for
 * each class image, the fraction of them that are positive, and the magnitude variant.
 */

/** Directional derivative of the class score along the CAV per class image: grad · direction. */
export function directionalDerivatives(grads: readonly Float32Array[], direction: Float32Array): Float64Array {
  return Float64Array.from(grads, (g, i) => {
    if (g.length !== direction.length) {
      throw new RangeError(`gradient ${i} has ${g.length} values but the CAV has ${direction.length}`);
    }
    let s = 0;
    for (let j = 0; j < g.length; j++) s += g[j] * direction[j];
    return s;
  });
}

/**
 * Kim et al.'s TCAV score (fraction of positive derivatives) and the magnitude variant
 * (Σ positive ÷ Σ |·|, 0 when all are 0). Zero derivatives count as not positive.
 */
export function tcavScore(derivatives: ArrayLike<number>): { score: number; magnitude: number } {
  const n = derivatives.length;
  if (n === 0) throw new RangeError('a TCAV score needs at least one class image');
  let positives = 0;
  let positiveSum = 0;
  let absSum = 0;
  for (let i = 0; i < n; i++) {
    const d = derivatives[i];
    if (!Number.isFinite(d)) throw new RangeError(`directional derivative ${i} is not finite (${d})`);
    if (d > 0) {
      positives++;
      positiveSum += d;
    }
    absSum += Math.abs(d);
  }
  return { score: positives / n, magnitude: absSum === 0 ? 0 : positiveSum / absSum };
}

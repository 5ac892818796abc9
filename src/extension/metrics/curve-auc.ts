/** Area under a sampled curve. */

/** Trapezoid rule: Σ (x[k+1] − x[k]) · (y[k] + y[k+1]) / 2 over the points given. */
export function trapezoidAuc(xs: ArrayLike<number>, ys: ArrayLike<number>): number {
  if (xs.length !== ys.length) throw new RangeError(`trapezoidAuc: ${xs.length} x values but ${ys.length} y values`);
  let area = 0;
  for (let k = 0; k + 1 < xs.length; k++) area += ((xs[k + 1] - xs[k]) * (ys[k] + ys[k + 1])) / 2;
  return area;
}

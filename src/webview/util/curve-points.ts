/** The deletion and insertion curves as chart points and tooltip text. DOM-free (unit-tested in Node). */

/** A curve's values as points on [0, 1]: the fraction of pixels removed (or inserted) at each step. */
export function curvePoints(ys: readonly number[]): { x: number; y: number }[] {
  return ys.map((y, k) => ({ x: k / Math.max(1, ys.length - 1), y }));
}

/** A point's tooltip: "<method>: <score> at <fraction>%". */
export function curveTooltipLabel(label: string | undefined, x: number | null | undefined, y: number | null | undefined): string {
  return `${label}: ${(y ?? 0).toFixed(3)} at ${((x ?? 0) * 100).toFixed(0)}%`;
}

/** Ranking helpers of the views. DOM-free (unit-tested in Node). */

/**
 * The k largest values with their indices, largest first; equal values in index order, NaN
 * after every number. k below 0 counts as 0; k above the length gives every value.
 */
export function topK(values: ArrayLike<number>, k: number): { index: number; value: number }[] {
  return Array.from(values, (value, index) => ({ index, value }))
    .sort((a, b) => descending(a.value, b.value) || a.index - b.index)
    .slice(0, Math.max(0, k));
}

/** Larger first, NaN last; 0 for equal values (±Infinity included, where a − b would be NaN). */
function descending(a: number, b: number): number {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an || bn) return an === bn ? 0 : an ? 1 : -1;
  return a === b ? 0 : a > b ? -1 : 1;
}

/**
 * Categorical colours of the views (a colour per method, a colour per attention head) and the
 * parsing of a canvas' normalised colour strings. DOM-free (unit-tested in Node): the theme's
 * colours are read by the views and passed in.
 */

/** A distinct colour per row of the grid (charts use the same), the random baseline in grey. */
const METHOD_PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#17becf', '#bcbd22', '#8c564b', '#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#e377c2'];

/** The colour of the method in row `index` of the grid: the palette in turn, 'random' always grey. */
export function methodColour(method: string, index: number): string {
  return method === 'random' ? '#8c8c8c' : METHOD_PALETTE[index % METHOD_PALETTE.length];
}

/** Fixed colours after the theme's chart colours, for layers with many heads. */
const HEAD_EXTRA = ['#17becf', '#e377c2', '#bcbd22', '#c49c94', '#9edae5', '#f7b6d2', '#98df8a', '#ffbb78', '#aec7e8', '#c5b0d5'];

/** A categorical colour for each of `n` heads: `themed` first, then fixed ones, repeating when there are more heads. */
export function headPalette(themed: readonly string[], n: number): string[] {
  const all = [...themed, ...HEAD_EXTRA];
  return Array.from({ length: Math.max(0, n) }, (_, i) => all[i % all.length]);
}

/**
 * [r, g, b] of a colour as a canvas context normalises it (`fillStyle` reads back as `#rrggbb`,
 * or `rgba(r, g, b, a)` when translucent); mid grey when the string has no colour in it.
 */
export function parseRgb(s: string): [number, number, number] {
  if (/^#[0-9a-f]{6}$/i.test(s)) return [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16)) as [number, number, number];
  const m = s.match(/[\d.]+/g)?.map(Number);
  return m && m.length >= 3 ? [m[0], m[1], m[2]] : [128, 128, 128];
}

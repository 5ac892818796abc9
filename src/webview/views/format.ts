/** Number formatting shared by the panel's views. */
export const fmtMs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
export const fmtAuc = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(3));

/** A distinct colour per row of the grid (charts use the same), the random baseline in grey. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#17becf', '#bcbd22', '#8c564b', '#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#e377c2'];
export function methodColour(method: string, index: number): string {
  return method === 'random' ? '#8c8c8c' : PALETTE[index % PALETTE.length];
}

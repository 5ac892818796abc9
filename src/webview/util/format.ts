/**
 * Number and text formatting shared by the panels' views (times, metric values, attention
 * weights, p-values, tokens). DOM-free (unit-tested in Node).
 */

/** A duration: whole milliseconds below 10 s, tenths of seconds from there. */
export const fmtMs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);

/** An area under a curve (faithfulness metrics): three decimals, a dash when there is none. */
export const fmtAuc = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(3));

/** A patch's attention weight (image attention tab): four decimals, an exponent when tiny. */
export const fmtWeight = (v: number) => (v === 0 ? '0' : Math.abs(v) >= 0.001 ? v.toFixed(4) : v.toExponential(2));

/** A token-attention weight in [0, 1]: two decimals near 1, three from 0.01, an exponent below. */
export const fmtW = (w: number) => (w >= 0.995 ? w.toFixed(2) : w >= 0.01 ? w.toFixed(3) : w === 0 ? '0' : w.toExponential(1));

/** A token for display: whitespace made visible, long ones cut. */
export function showToken(t: string, max = 24): string {
  const s = t.replace(/\s/g, '·');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** A p-value: three decimals, more digits or an exponent when small. */
export function fmtP(p: number): string {
  if (!Number.isFinite(p)) return '–';
  if (p >= 1) return '1';
  if (p >= 0.01) return p.toFixed(3);
  if (p >= 0.001) return p.toFixed(4);
  return p.toExponential(1);
}

export const fmtMeanStd = (mean: number, std: number) => `${mean.toFixed(2)} ± ${std.toFixed(2)}`;

/**
 * "2 Mar 2025, 14:05": when a result was made, in the user's locale and time zone (or the ones
 * given); a string that is not a date is returned as it is.
 */
export function fmtTime(iso: string, locale?: string, timeZone?: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone });
}

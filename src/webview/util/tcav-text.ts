/**
 * The TCAV panel's words: the low-accuracy sentence, the x-axis labels, a layer's summary for
 * screen readers, a bar's tooltip and a result's legend name. DOM-free (unit-tested in Node).
 */
import { LOW_CAV_ACCURACY, type TcavCell, type TcavRandomBaseline, type TcavResult } from '../../shared/tcav';
import { fmtMeanStd, fmtP, fmtTime } from './format';

/** The key under which the random-vs-random bar sits on the x axis (no concept can be named so). */
export const RANDOM_KEY = '\u0000random';

/** What one bar stands for: a concept's cell, the layer's random baseline, or nothing (not in that result). */
export type TcavBar = { cell: TcavCell } | { baseline: TcavRandomBaseline } | undefined;

/** The sentence a low-accuracy CAV gets wherever it is shown. */
export function lowAccuracyText(cell: Pick<TcavCell, 'cavAccuracy'>): string {
  return `CAV accuracy ${cell.cavAccuracy.toFixed(2)} is below ${LOW_CAV_ACCURACY} (chance is 0.5): the concept is not linearly present at this layer, so its score means little.`;
}

/** The x-axis label of a concept: ⚠ when its CAV is flagged in any drawn result; pairs on two lines. */
export function tickLabel(key: string, cells: readonly (TcavCell | undefined)[]): string | string[] {
  if (key === RANDOM_KEY) return ['random', '(null)'];
  const low = cells.some((c) => c?.lowAccuracy);
  const relative = cells.find((c) => c)?.kind === 'relative';
  const name = `${low ? '⚠ ' : ''}${key}`;
  return relative ? [name, '(relative)'] : name;
}

/** A plain-words summary of one layer's bars for screen readers (the canvas's aria-label). */
export function describeTcavLayer(layer: string, r: TcavResult, magnitude: boolean): string {
  const cells = r.cells.filter((c) => c.layer === layer);
  const b = r.random.find((x) => x.layer === layer);
  const what = magnitude ? 'TCAV magnitude' : 'TCAV score';
  const parts = cells.map((c) => {
    const [m, s] = magnitude ? [c.magnitudeMean, c.magnitudeStd] : [c.mean, c.std];
    return `${c.concept} ${fmtMeanStd(m, s)}, ${c.significant ? 'significant' : 'not significant'}${c.lowAccuracy ? ', CAV accuracy low: not linearly present' : ''}`;
  });
  const target = r.target.label ?? `class ${r.target.index}`;
  return `${what} (mean ± sd over ${r.runs} runs) at layer ${layer} for ${target}: ${parts.join('; ')}.${b && !magnitude ? ` Random-vs-random null: ${fmtMeanStd(b.mean, b.std)}.` : ''}`;
}

/** A bar's tooltip lines: the numbers of its cell (the shown score first) or of the baseline. */
export function barTooltipLines(b: TcavBar, r: Pick<TcavResult, 'tests' | 'alpha'>, magnitude: boolean): string[] {
  if (!b) return [];
  if ('baseline' in b) {
    const x = b.baseline;
    return [
      `random vs random: ${fmtMeanStd(x.mean, x.std)} (TCAV score)`,
      'the null every concept at this layer is tested against',
      `CAV accuracy: ${x.cavAccuracy.toFixed(2)} (should be near chance, 0.5)`,
      `runs: ${x.scores.length}`,
    ];
  }
  const c = b.cell;
  const score = `TCAV score: ${fmtMeanStd(c.mean, c.std)}`;
  const mag = `magnitude: ${fmtMeanStd(c.magnitudeMean, c.magnitudeStd)}`;
  const lines = magnitude ? [mag, score] : [score, mag];
  lines.push(
    `p = ${fmtP(c.p)} · Bonferroni p = ${fmtP(c.pAdjusted)} (× ${r.tests} tests)`,
    `significant: ${c.significant ? 'yes' : 'no (n.s.)'} at α = ${r.alpha}`,
    `CAV accuracy (held-out, mean): ${c.cavAccuracy.toFixed(2)}${c.lowAccuracy ? ` ⚠ below ${LOW_CAV_ACCURACY}` : ''}`,
  );
  if (c.lowAccuracy) lines.push('⚠ not linearly present at this layer: the CAV is', '   hardly better than chance, so the score means little');
  if (c.kind === 'relative') lines.push('relative: CAV of the first concept against the second');
  lines.push(`runs: ${c.scores.length}`);
  return lines;
}

/** The legend name of a result: its checkpoint and when it was made. */
export function seriesName(r: Pick<TcavResult, 'model' | 'createdAt'>, prefix?: string): string {
  return `${prefix ? `${prefix} · ` : ''}${r.model.hash.slice(0, 8)} · ${fmtTime(r.createdAt)}`;
}

/**
 * The TCAV numbers under the chart: one row per concept (or relative pair) and layer, the
 * layer's random-vs-random baseline, the run's warnings, and a paragraph saying what the numbers
 * mean.
 */
import { LOW_CAV_ACCURACY, type TcavCell, type TcavResult } from '../../shared/tcav';
import { fmtMeanStd, fmtP } from '../util/format';
import { lowAccuracyText } from '../util/tcav-text';
import { h } from './dom';

function cellRow(c: TcavCell, r: TcavResult, magnitude: boolean): HTMLTableRowElement {
  const name = c.kind === 'relative' ? `${c.concept} (relative)` : c.concept;
  const sig = c.significant ? 'yes' : 'no (n.s.)';
  return h('tr', { class: [c.lowAccuracy ? 'low' : '', c.significant ? 'sig' : 'ns'].filter(Boolean).join(' '), 'data-concept': c.concept, 'data-layer': c.layer },
    h('th', { scope: 'row', class: 'concept' }, c.lowAccuracy ? h('span', { class: 'flag', title: lowAccuracyText(c), 'aria-label': 'low CAV accuracy' }, '⚠ ') : null, name),
    h('td', { class: 'layer' }, c.layer),
    h('td', { class: `num${magnitude ? '' : ' shown'}` }, fmtMeanStd(c.mean, c.std)),
    h('td', { class: `num${magnitude ? ' shown' : ''}` }, fmtMeanStd(c.magnitudeMean, c.magnitudeStd)),
    h('td', { class: 'num', title: `Welch's t = ${c.t.toFixed(2)}` }, fmtP(c.p)),
    h('td', { class: 'num', title: `min(1, p × ${r.tests})` }, fmtP(c.pAdjusted)),
    h('td', { class: 'significant' }, sig),
    h('td', { class: 'num', title: c.lowAccuracy ? lowAccuracyText(c) : `held-out accuracy of the CAV's linear classifier, mean over ${c.cavAccuracies.length} runs` },
      c.lowAccuracy ? '⚠ ' : '', c.cavAccuracy.toFixed(2)),
  );
}

/** Fills `el` with the table, the warnings and the explanation for `r`. */
export function renderTcavTable(el: HTMLElement, r: TcavResult, magnitude: boolean): void {
  const head = h('tr', {},
    ...[
      ['Concept', 'The concept, or "A vs B" for a relative pair (CAV of A trained against B instead of random images)'],
      ['Layer', 'Where the activations are taken and the CAV is trained'],
      ['TCAV score', 'Mean ± sd over the runs: the fraction of class images whose class logit increases along the CAV'],
      ['Magnitude', 'Mean ± sd over the runs: Σ positive directional derivatives ÷ Σ |directional derivatives|'],
      ['p', 'Welch\'s two-sided t-test of the concept\'s scores against the layer\'s random-vs-random scores'],
      [`adjusted p (× ${r.tests})`, `Bonferroni: min(1, p × ${r.tests} tests)`],
      [`Significant (α ${r.alpha})`, `adjusted p < ${r.alpha}`],
      ['CAV accuracy', `Held-out accuracy of the concept-vs-random linear classifier, mean over runs; below ${LOW_CAV_ACCURACY} is flagged ⚠`],
    ].map(([text, title]) => h('th', { scope: 'col', title }, text)));
  const rows: HTMLTableRowElement[] = [];
  for (const layer of r.layers) {
    for (const c of r.cells.filter((x) => x.layer === layer)) rows.push(cellRow(c, r, magnitude));
    const b = r.random.find((x) => x.layer === layer);
    if (b) {
      rows.push(h('tr', { class: 'baseline', 'data-layer': layer },
        h('th', { scope: 'row', class: 'concept' }, 'random vs random (null)'),
        h('td', { class: 'layer' }, layer),
        h('td', { class: 'num' }, fmtMeanStd(b.mean, b.std)),
        h('td', { class: 'num' }, '–'),
        h('td', { class: 'num' }, '–'),
        h('td', { class: 'num' }, '–'),
        h('td', {}, '–'),
        h('td', { class: 'num', title: 'should be near chance (0.5): random sets are not separable' }, b.cavAccuracy.toFixed(2)),
      ));
    }
  }
  const table = h('table', { class: 'tcav-table', 'aria-label': 'TCAV scores per concept and layer' },
    h('thead', {}, head),
    h('tbody', {}, ...rows));
  const low = r.cells.filter((c) => c.lowAccuracy).length;
  const ns = r.cells.filter((c) => !c.significant).length;
  const summary = h('p', { class: 'hint tcav-counts' },
    `${r.cells.length} concept bars over ${r.layers.length} layer${r.layers.length === 1 ? '' : 's'}: ${r.cells.length - ns} significant, ${ns} not significant (n.s.)`,
    low ? `, ${low} with a low-accuracy CAV (⚠)` : '', '.');
  const warnings = r.warnings.length
    ? h('div', { class: 'tcav-warnings', role: 'note' },
      h('h3', {}, `Warnings (${r.warnings.length})`),
      h('ul', {}, ...r.warnings.map((w) => h('li', {}, w))))
    : null;
  const explain = h('p', { class: 'tcav-explain' },
    h('strong', {}, 'What the numbers mean. '),
    `The TCAV score is the fraction of the ${r.classImages} class images whose class logit increases when the layer's activation moves towards the concept `
    + '(along the concept activation vector, the normal of a linear classifier that separates the concept\'s images from random ones at that layer). '
    + `0.5 is what a meaningless direction gives; the magnitude variant weighs each image by how much the logit moves. Each of the ${r.runs} runs trains a CAV against a different random set; `
    + `p comes from Welch's two-sided t-test of the concept's ${r.runs} scores against the layer's random-vs-random scores, and is Bonferroni-corrected over the ${r.tests} tests `
    + `(significant when the adjusted p < ${r.alpha}). Bars marked "n.s." are not distinguishable from random directions and should not be read as evidence either way; `
    + `a ⚠ CAV (held-out accuracy below ${LOW_CAV_ACCURACY}) means the concept is not linearly present at that layer.`);
  el.replaceChildren(...[summary, h('div', { class: 'tcav-table-wrap' }, table), warnings, explain].filter((x): x is HTMLDivElement => x !== null));
}

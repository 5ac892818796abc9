import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TcavCell, TcavRandomBaseline, TcavResult } from '../../../src/shared/tcav';
import { RANDOM_KEY, barTooltipLines, describeTcavLayer, lowAccuracyText, seriesName, tickLabel } from '../../../src/webview/util/tcav-text';

function cell(patch: Partial<TcavCell>): TcavCell {
  return {
    concept: 'striped', kind: 'concept', layer: 'mixed4c',
    scores: [0.8, 0.9, 0.7], magnitudes: [0.6, 0.65, 0.55],
    mean: 0.8, std: 0.1, magnitudeMean: 0.6, magnitudeStd: 0.05,
    cavAccuracies: [0.9, 0.95, 0.92], cavAccuracy: 0.923, lowAccuracy: false,
    t: 5.1, p: 0.0004, pAdjusted: 0.0012, significant: true,
    ...patch,
  };
}

const striped = cell({});
const dotted = cell({ concept: 'dotted', mean: 0.45, std: 0.2, magnitudeMean: 0.3, magnitudeStd: 0.15, cavAccuracy: 0.554, lowAccuracy: true, p: 0.4, pAdjusted: 1, significant: false });
const elsewhere = cell({ concept: 'zigzag', layer: 'mixed5b' });
const baseline: TcavRandomBaseline = { layer: 'mixed4c', scores: [0.5, 0.42, 0.58], mean: 0.5, std: 0.08, cavAccuracy: 0.512 };

function result(patch: Partial<TcavResult> = {}): TcavResult {
  return {
    version: 1, experiment: '/w/exp.json',
    model: { file: '/w/m.onnx', name: 'm', hash: '0123456789abcdef', modified: '2025-01-01T00:00:00Z' },
    target: { index: 3, label: 'zebra' }, createdAt: '2025-03-02T14:05:00Z', seed: 0,
    runs: 3, imagesPerSet: 10, classImages: 20, alpha: 0.05, tests: 3,
    layers: ['mixed4c', 'mixed5b'], cells: [striped, dotted, elsewhere], random: [baseline],
    timings: { activations: 1, cavs: 1, derivatives: 1, total: 3 }, cache: { hits: 0, computed: 0 }, warnings: [],
    ...patch,
  };
}

test('lowAccuracyText states the accuracy to two decimals against the threshold', () => {
  assert.equal(lowAccuracyText({ cavAccuracy: 0.554 }),
    'CAV accuracy 0.55 is below 0.6 (chance is 0.5): the concept is not linearly present at this layer, so its score means little.');
});

test('tickLabel: the null on two lines, ⚠ when any result flags the CAV, relative pairs on two lines', () => {
  assert.deepEqual(tickLabel(RANDOM_KEY, []), ['random', '(null)']);
  assert.equal(tickLabel('striped', [striped]), 'striped');
  assert.equal(tickLabel('dotted', [undefined, cell({ lowAccuracy: true })]), '⚠ dotted');
  assert.deepEqual(tickLabel('a vs b', [cell({ kind: 'relative' })]), ['a vs b', '(relative)']);
  assert.deepEqual(tickLabel('a vs b', [undefined, cell({ kind: 'relative', lowAccuracy: true })]), ['⚠ a vs b', '(relative)']);
  assert.equal(tickLabel('gone', [undefined, undefined]), 'gone');
});

test('describeTcavLayer summarises the layer\'s bars and its null (score), without the null for magnitude', () => {
  assert.equal(describeTcavLayer('mixed4c', result(), false),
    'TCAV score (mean ± sd over 3 runs) at layer mixed4c for zebra: striped 0.80 ± 0.10, significant; '
    + 'dotted 0.45 ± 0.20, not significant, CAV accuracy low: not linearly present. Random-vs-random null: 0.50 ± 0.08.');
  assert.equal(describeTcavLayer('mixed4c', result(), true),
    'TCAV magnitude (mean ± sd over 3 runs) at layer mixed4c for zebra: striped 0.60 ± 0.05, significant; '
    + 'dotted 0.30 ± 0.15, not significant, CAV accuracy low: not linearly present.');
  assert.equal(describeTcavLayer('mixed5b', result({ target: { index: 3 } }), false),
    'TCAV score (mean ± sd over 3 runs) at layer mixed5b for class 3: zigzag 0.80 ± 0.10, significant.');
});

test('barTooltipLines: a cell\'s numbers (the shown score first), the baseline\'s, nothing for a missing bar', () => {
  const r = result();
  assert.deepEqual(barTooltipLines(undefined, r, false), []);
  assert.deepEqual(barTooltipLines({ cell: striped }, r, false), [
    'TCAV score: 0.80 ± 0.10',
    'magnitude: 0.60 ± 0.05',
    'p = 4.0e-4 · Bonferroni p = 0.0012 (× 3 tests)',
    'significant: yes at α = 0.05',
    'CAV accuracy (held-out, mean): 0.92',
    'runs: 3',
  ]);
  assert.deepEqual(barTooltipLines({ cell: striped }, r, true).slice(0, 2), ['magnitude: 0.60 ± 0.05', 'TCAV score: 0.80 ± 0.10']);
  assert.deepEqual(barTooltipLines({ cell: { ...dotted, kind: 'relative' } }, r, false), [
    'TCAV score: 0.45 ± 0.20',
    'magnitude: 0.30 ± 0.15',
    'p = 0.400 · Bonferroni p = 1 (× 3 tests)',
    'significant: no (n.s.) at α = 0.05',
    'CAV accuracy (held-out, mean): 0.55 ⚠ below 0.6',
    '⚠ not linearly present at this layer: the CAV is',
    '   hardly better than chance, so the score means little',
    'relative: CAV of the first concept against the second',
    'runs: 3',
  ]);
  assert.deepEqual(barTooltipLines({ baseline }, r, false), [
    'random vs random: 0.50 ± 0.08 (TCAV score)',
    'the null every concept at this layer is tested against',
    'CAV accuracy: 0.51 (should be near chance, 0.5)',
    'runs: 3',
  ]);
});

test('seriesName: optional prefix, the hash\'s first 8 characters, the time', () => {
  const r = { model: result().model, createdAt: 'unknown' };
  assert.equal(seriesName(r), '01234567 · unknown');
  assert.equal(seriesName(r, 'this run'), 'this run · 01234567 · unknown');
});

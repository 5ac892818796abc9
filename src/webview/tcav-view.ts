/**
 * The TCAV panel (Kim et al. 2018): which experiment, model and class; Run TCAV (with the number
 * of runs), Cancel and Open experiment; the score kind (sign count or magnitude) and saved
 * results to compare with; one bar chart per layer (mean ± sd over runs, the random-vs-random
 * null, n.s. and ⚠ marks); and the table of numbers with the run's warnings and what they mean.
 * Until a run finishes it shows the latest saved result, and says so.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-multi-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { MessageType } from '../shared/protocol/common';
import type { TcavInitMessage, TcavRequestKind, TcavSavedResult, TcavToHost, TcavToWebview, TcavViewState } from '../shared/protocol/tcav';
import { PendingRequests } from '../shared/protocol/requests';
import { LOW_CAV_ACCURACY, type TcavResult } from '../shared/tcav';
import { vscodeApi } from './vscode-api';
import { h, singleSelect } from './views/dom';
import { setBusy, showFailure, type StatusUi } from './views/status';
import { TcavCharts, seriesColour, type TcavSeries } from './views/tcav-chart';
import { renderTcavTable } from './views/tcav-table';
import { fmtTime } from './util/format';
import { seriesName } from './util/tcav-text';

interface Ui extends StatusUi {
  run: HTMLElement;
  runs: HTMLElement & { value: string };
  openResult: HTMLElement;
  compare: HTMLElement & { value: string[] };
  compareNote: HTMLElement;
  empty: HTMLElement;
  results: HTMLElement;
  source: HTMLElement;
  key: HTMLElement;
  charts: TcavCharts;
  table: HTMLElement;
}

/** The result drawn as the current one: a run's, or the latest saved one until a run finishes. */
interface Shown {
  result: TcavResult;
  file?: string;
  source: 'saved' | 'run';
}

let state: TcavViewState | undefined;
let ui: Ui | undefined;
let saved: TcavSavedResult[] = [];
let shown: Shown | undefined;
let compared: { file: string; result: TcavResult }[] = [];
const vscode = vscodeApi<TcavToHost>();
/** The run in progress: the panel's, or one the host started (XAI Lens: Run TCAV). */
const requests = new PendingRequests<TcavRequestKind, TcavToWebview>({
  side: 'webview',
  isLast: (m) => m.type === MessageType.TcavResult || m.type === MessageType.Failed,
});
const running = () => requests.latest('run') !== undefined;
let compareTimer: ReturnType<typeof setTimeout> | undefined;

function save(patch: Partial<TcavViewState>): void {
  if (!state) return;
  state = { ...state, ...patch };
  vscode.setState(state);
}

const body = () => document.body.dataset;

/** The saved file a result came from: same creation time and checkpoint. */
function fileOf(r: TcavResult): string | undefined {
  return saved.find((s) => s.createdAt === r.createdAt && r.model.hash.startsWith(s.checkpoint))?.file;
}

function busy(on: boolean, text: string): void {
  if (!ui) return;
  setBusy(ui, on, text);
  ui.run.toggleAttribute('disabled', on);
  ui.runs.toggleAttribute('disabled', on);
}

function run(): void {
  if (!state || running()) return;
  const requestId = requests.start('run', { onReply: onRunReply }).id;
  body().tcavDone = '0';
  if (ui) ui.error.hidden = true;
  busy(true, `Starting TCAV (${ui?.runs.value || state.runs} runs)…`);
  vscode.postMessage({ type: MessageType.TcavRun, requestId, runs: state.runs });
}

/** Asks the host for the compared results (debounced: the multi-select reports every click). */
function requestComparison(): void {
  if (compareTimer !== undefined) clearTimeout(compareTimer);
  compareTimer = setTimeout(() => {
    compareTimer = undefined;
    if (state) vscode.postMessage({ type: MessageType.TcavCompare, files: state.compare });
  }, 250);
}

function savedLabel(s: TcavSavedResult): string {
  return `${fmtTime(s.createdAt)} · ${s.modelName} @ ${s.checkpoint}`;
}

/** The "Compare with…" options: every saved result but the one shown as current. */
function fillCompare(): void {
  if (!ui || !state) return;
  const choices = saved.filter((s) => s.file !== shown?.file);
  const wanted = state.compare.filter((f) => choices.some((s) => s.file === f));
  if (wanted.length !== state.compare.length) save({ compare: wanted });
  ui.compare.replaceChildren(...choices.map((s) => h('vscode-option', { value: s.file, selected: wanted.includes(s.file) }, savedLabel(s))));
  ui.compare.toggleAttribute('disabled', choices.length === 0);
  ui.compare.value = wanted;
  fillCompareNote();
}

/** Beside "Compare with…": how many saved results there are, and how many are drawn. */
function fillCompareNote(): void {
  if (!ui || !state) return;
  const choices = saved.filter((s) => s.file !== shown?.file).length;
  const n = state.compare.length;
  const of = `${choices} saved result${choices === 1 ? '' : 's'}`;
  ui.compareNote.textContent = choices === 0 ? 'no other saved results yet' : n ? `${n} of ${of}` : of;
}

function keyItem(swatch: HTMLElement, text: string): HTMLElement {
  return h('span', { class: 'tcav-key-item' }, swatch, text);
}

function renderKey(magnitude: boolean, comparing: boolean): void {
  if (!ui) return;
  const colour = seriesColour(0);
  const solid = h('span', { class: 'swatch solid', 'aria-hidden': 'true' });
  const hatched = h('span', { class: 'swatch hatched', 'aria-hidden': 'true' });
  solid.style.setProperty('--c', colour);
  hatched.style.setProperty('--c', colour);
  ui.key.replaceChildren(
    keyItem(solid, 'significant (Bonferroni-adjusted p < α)'),
    keyItem(hatched, '"n.s.": not significant, not evidence either way'),
    keyItem(h('span', { class: 'glyph warn', 'aria-hidden': 'true' }, '⚠'), `CAV accuracy < ${LOW_CAV_ACCURACY}: concept not linearly present at the layer`),
    keyItem(h('span', { class: 'glyph', 'aria-hidden': 'true' }, 'I'), 'error bar: ± sd over runs'),
    magnitude
      ? keyItem(h('span', { class: 'glyph info', 'aria-hidden': 'true' }, 'i'), 'magnitude has no random baseline; "n.s." comes from the TCAV-score test')
      : keyItem(h('span', { class: 'swatch dashed', 'aria-hidden': 'true' }), `random vs random: mean (dashed) ± sd (band)${comparing ? ' of the current result; each result\'s own as its last bar' : ', the null the bars are tested against'}`),
  );
}

function renderSource(s: Shown): void {
  if (!ui) return;
  const r = s.result;
  const checkpoint = `${r.model.name} @ ${r.model.hash.slice(0, 8)}`;
  const target = r.target.label ? `${r.target.label} (#${r.target.index})` : `class #${r.target.index}`;
  const detail = `${r.runs} runs × ${r.imagesPerSet} images per set, ${r.classImages} images of ${target}, α = ${r.alpha} over ${r.tests} tests`;
  if (s.source === 'saved') {
    ui.source.replaceChildren(
      h('strong', {}, `Saved result from ${fmtTime(r.createdAt)}`),
      ` (${checkpoint}), shown until a new run finishes. `, detail, '. Press Run TCAV to compute a fresh one.');
  } else {
    const cache = r.cache.hits + r.cache.computed > 0 ? `; activations ${r.cache.hits} cached, ${r.cache.computed} computed` : '';
    ui.source.replaceChildren(
      h('strong', {}, `This run, finished ${fmtTime(r.createdAt)}`),
      ` (${checkpoint}): `, detail, `; took ${r.timings.total.toFixed(1)} s${cache}.`);
  }
  ui.openResult.hidden = !s.file;
}

/** Draws the current result (and the compared ones), or says there is none yet. */
function draw(): void {
  if (!ui || !state) return;
  const d = body();
  ui.empty.hidden = !!shown;
  ui.results.hidden = !shown;
  if (!shown) {
    ui.charts.destroy();
    ui.table.replaceChildren();
    d.tcavBars = '0';
    d.tcavCompare = '0';
    d.tcavDone = '0';
    delete d.tcavSource;
    return;
  }
  const cur = shown;
  const others = compared.filter((c) => c.file !== cur.file);
  const series: TcavSeries[] = [
    { name: seriesName(cur.result, cur.source === 'run' ? 'this run' : 'saved'), result: cur.result },
    ...others.map((c) => ({ name: seriesName(c.result), result: c.result })),
  ];
  renderSource(cur);
  renderKey(state.magnitude, others.length > 0);
  const bars = ui.charts.update(series, state.magnitude);
  renderTcavTable(ui.table, cur.result, state.magnitude);
  d.tcavBars = String(bars);
  d.tcavCompare = String(others.length);
  d.tcavDone = running() ? '0' : '1';
  d.tcavSource = cur.source;
}

function build(m: TcavInitMessage, s: TcavViewState): Ui {
  const app = document.getElementById('app')!;
  const target = m.target.label ? `${m.target.label} (#${m.target.index})` : `#${m.target.index}`;
  const runButton = h('vscode-button', { id: 'tcav-run', title: 'Train the CAVs and compute the TCAV scores (saved beside the experiment)', 'aria-label': 'Run TCAV' }, 'Run TCAV');
  const runs = h('vscode-textfield', { id: 'tcav-runs', type: 'number', min: '2', max: '500', step: '1', value: String(s.runs ?? m.runs), 'aria-label': 'Number of runs', title: 'Runs, each against a different random set (at least 2 for a t-test)' }) as HTMLElement & { value: string };
  const openExperiment = h('vscode-button', { id: 'tcav-open', secondary: true, title: m.state.experiment, 'aria-label': 'Open the experiment file' }, 'Open experiment');
  const openResult = h('vscode-button', { id: 'tcav-open-result', secondary: true, hidden: true, title: 'Open the JSON of the result shown', 'aria-label': 'Open the result file' }, 'Open result');
  const score = singleSelect('tcav-score', 'Score', [
    { value: 'score', label: 'TCAV score (sign count)', description: 'fraction of class images' },
    { value: 'magnitude', label: 'TCAV magnitude', description: 'weighted by the derivative' },
  ], s.magnitude ? 'magnitude' : 'score');
  const compare = h('vscode-multi-select', { id: 'tcav-compare', 'aria-label': 'Compare with saved results' }) as HTMLElement & { value: string[] };
  const ui: Ui = {
    status: h('span', { id: 'status', role: 'status' }),
    ring: h('vscode-progress-ring', { id: 'busy', 'aria-label': 'Running TCAV' }),
    cancel: h('vscode-button', { id: 'cancel', secondary: true, title: 'Stop the run (finished layers are not saved)', 'aria-label': 'Cancel the run' }, 'Cancel'),
    error: h('div', { id: 'error', class: 'error', role: 'alert', hidden: true }),
    run: runButton,
    runs,
    openResult,
    compare,
    compareNote: h('span', { class: 'compare-note' }),
    empty: h('p', { class: 'tcav-empty', id: 'tcav-empty' }, `No TCAV result for this experiment yet. Press Run TCAV to train the concept activation vectors and score ${m.concepts.length} concept${m.concepts.length === 1 ? '' : 's'} at ${m.layers.length} layer${m.layers.length === 1 ? '' : 's'} (${m.layers.join(', ')}).`),
    results: h('section', { class: 'tcav-results', hidden: true }),
    source: h('p', { class: 'tcav-source', id: 'tcav-source' }),
    key: h('div', { class: 'tcav-key', 'aria-label': 'How to read the bars' }),
    charts: new TcavCharts(),
    table: h('div', { class: 'tcav-numbers', id: 'tcav-table' }),
  };
  ui.results.append(ui.source, ui.key, ui.charts.el, h('h2', { class: 'section-title' }, 'Numbers'), ui.table);
  app.replaceChildren(
    h('header', {},
      h('div', { class: 'title' }, h('strong', {}, `TCAV · ${m.experimentName}`)),
      h('div', { class: 'meta' },
        h('span', { title: m.model.file }, `model ${m.model.name}`),
        h('span', { title: 'The class whose sensitivity to the concepts is measured' }, `class ${target}`),
        h('vscode-badge', { title: 'TensorFlow.js backend' }, m.backend)),
    ),
    h('p', { class: 'hint' }, 'Testing with Concept Activation Vectors (Kim et al. 2018): how much does the class depend on a human concept (striped, dotted…) at a layer? Each bar is the mean over runs against different random sets; the random-vs-random bar is what no concept at all gives.'),
    ui.error,
    h('section', { class: 'tcav-controls' },
      h('div', { class: 'buttons tcav-run' },
        runButton,
        h('label', { class: 'runs-field' }, h('span', {}, 'runs'), runs),
        ui.cancel,
        openExperiment,
        openResult,
        ui.ring,
        ui.status),
      h('div', { class: 'tcav-options' },
        h('label', { class: 'field' }, h('span', {}, 'Score'), score),
        h('label', { class: 'field compare-field' }, h('span', {}, 'Compare with…'), compare, ui.compareNote)),
    ),
    ui.empty,
    ui.results,
  );
  app.removeAttribute('aria-busy');
  runButton.addEventListener('click', run);
  ui.cancel.addEventListener('click', () => {
    const pending = requests.latest('run');
    if (pending) vscode.postMessage({ type: MessageType.Cancel, requestId: pending.id });
  });
  openExperiment.addEventListener('click', () => vscode.postMessage({ type: MessageType.TcavOpenFile, file: state?.experiment ?? m.state.experiment }));
  openResult.addEventListener('click', () => {
    if (shown?.file) vscode.postMessage({ type: MessageType.TcavOpenFile, file: shown.file });
  });
  runs.addEventListener('change', () => {
    const v = Number(runs.value);
    if (Number.isInteger(v) && v >= 2) save({ runs: v });
    else runs.value = String(state?.runs ?? m.runs);
  });
  score.addEventListener('change', () => {
    save({ magnitude: score.value === 'magnitude' });
    draw();
  });
  compare.addEventListener('change', () => {
    const files = Array.isArray(compare.value) ? [...compare.value] : [];
    save({ compare: files });
    compared = compared.filter((c) => files.includes(c.file));
    fillCompareNote();
    draw();
    requestComparison();
  });
  return ui;
}

function onInit(m: TcavInitMessage): void {
  const prev = vscode.getState() as TcavViewState | undefined;
  saved = m.saved;
  state = prev && prev.experiment === m.state.experiment ? { ...m.state, ...prev } : { ...m.state };
  state.compare = state.compare.filter((f) => saved.some((s) => s.file === f));
  vscode.setState(state);
  requests.end(requests.latest('run'));
  compared = [];
  shown = m.latest ? { result: m.latest, file: fileOf(m.latest), source: 'saved' } : undefined;
  ui?.charts.destroy();
  ui = build(m, state);
  fillCompare();
  busy(false, '');
  draw();
  if (state.compare.length) requestComparison();
}

function onMessage(event: MessageEvent<TcavToWebview>): void {
  const m = event.data;
  switch (m.type) {
    case MessageType.TcavInit:
      onInit(m);
      return;
    case MessageType.TcavComparison: {
      if (!state) return;
      const wanted = state.compare;
      compared = m.results.filter((r) => wanted.includes(r.file)).sort((a, b) => wanted.indexOf(a.file) - wanted.indexOf(b.file));
      draw();
      return;
    }
    default:
      break;
  }
  if (m.type === MessageType.Failed && m.requestId === undefined) {
    if (running() && ui) {
      // Not about the run (e.g. a saved result that would not load): the run goes on.
      ui.error.textContent = m.message;
      ui.error.hidden = false;
    } else {
      onRunReply(m);
    }
    return;
  }
  // A run the host started (XAI Lens: Run TCAV) becomes the current one when none is running, with progress and cancel.
  if (m.type === MessageType.Started && !running()) requests.start('run', { id: m.requestId, onReply: onRunReply });
  // A superseded run's replies are dropped; a result the host finished itself is shown when idle.
  if (!requests.route(m) && m.type === MessageType.TcavResult && !running()) onRunReply(m);
}

/** A reply to the run in progress. */
function onRunReply(m: TcavToWebview): void {
  switch (m.type) {
    case MessageType.Started:
      body().tcavDone = '0';
      if (ui) ui.error.hidden = true;
      busy(true, 'Running TCAV…');
      return;
    case MessageType.TcavProgress:
      if (ui) ui.status.textContent = `${Math.round(m.fraction * 100)}% · ${m.message}`;
      return;
    case MessageType.TcavResult:
      saved = m.saved;
      shown = { result: m.result, file: m.file, source: 'run' };
      if (state?.compare.includes(m.file)) save({ compare: state.compare.filter((f) => f !== m.file) });
      fillCompare();
      busy(false, `Done in ${m.result.timings.total.toFixed(1)} s: ${m.result.cells.length} bars over ${m.result.layers.length} layer${m.result.layers.length === 1 ? '' : 's'}, saved.`);
      draw();
      return;
    case MessageType.Failed:
      showFailure(ui, m.message, m.cancelled, shown ? 'Cancelled; the result shown is the previous one.' : 'Cancelled.');
      ui?.run.removeAttribute('disabled');
      ui?.runs.removeAttribute('disabled');
      body().tcavDone = shown ? '1' : '0';
      return;
    default:
      return;
  }
}

/** Starts the TCAV panel: listens to the host and says it is ready. */
export function startTcavView(): void {
  window.addEventListener('message', onMessage);
  vscode.postMessage({ type: MessageType.Ready });
}

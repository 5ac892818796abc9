/**
 * The sanity-check panel (Adebayo et al. 2018): the classic strip — rows = methods, columns =
 * the original model then each randomization step — filled in as maps arrive, the
 * similarity-vs-layer curves under it, and a verdict per method; controls for the mode, the
 * similarity the verdict uses, its threshold, the seed, the methods, and data randomization.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { MessageType } from '../shared/protocol/common';
import type { SanityInitMessage, SanityMapMessage, SanityRequestKind, SanityToHost, SanityToWebview, SanityViewState } from '../shared/protocol/sanity';
import { PendingRequests } from '../shared/protocol/requests';
import { SIMILARITY_LABELS, SIMILARITY_NAMES, type SanityResult, type SimilarityName } from '../shared/sanity';
import { vscodeApi } from './vscode-api';
import { h, singleSelect } from './views/dom';
import { setBusy, showFailure } from './views/status';
import { renderMethodPicker } from './views/method-picker';
import { SanityChart } from './views/sanity-chart';
import { fmtMs } from './util/format';
import { OverlayCanvas } from './render/overlay-canvas';

interface Ui {
  status: HTMLElement;
  ring: HTMLElement;
  cancel: HTMLElement;
  error: HTMLElement;
  strip: HTMLElement;
  verdicts: HTMLElement;
  twinInfo: HTMLElement;
  dataTable: HTMLElement;
  chart: SanityChart;
  chartBox: HTMLElement;
}

let state: SanityViewState | undefined;
let ui: Ui | undefined;
let image: HTMLImageElement | undefined;
let labels = new Map<string, string>();
const vscode = vscodeApi<SanityToHost>();
/** The run whose maps and result are shown; a new run supersedes it. */
const requests = new PendingRequests<SanityRequestKind, SanityToWebview>({
  side: 'webview',
  isLast: (m) => m.type === MessageType.SanityResult || m.type === MessageType.Failed,
});
const tiles = new Map<string, OverlayCanvas>();

function save(patch: Partial<SanityViewState>): void {
  if (!state) return;
  state = { ...state, ...patch };
  vscode.setState(state);
}

function run(): void {
  if (!state) return;
  const requestId = requests.start('run', { onReply: onRunReply }).id;
  vscode.postMessage({ type: MessageType.SanityRun, requestId, state });
}

function build(m: SanityInitMessage): Ui {
  const app = document.getElementById('app')!;
  const s = m.state;
  labels = new Map(m.methods.map((x) => [x.id, x.label]));
  const mode = singleSelect('mode', 'Randomization', [{ value: 'cascading', label: 'cascading (logits → first layer)' }, { value: 'independent', label: 'independent (one layer at a time)' }], s.mode);
  const metric = singleSelect('metric', 'Similarity', SIMILARITY_NAMES.map((n) => ({ value: n, label: SIMILARITY_LABELS[n] })), s.metric);
  const threshold = h('vscode-textfield', { id: 'threshold', type: 'number', value: String(s.threshold), step: '0.05', min: '-1', max: '1', 'aria-label': 'Threshold' }) as HTMLElement & { value: string };
  const seed = h('vscode-textfield', { id: 'seed', type: 'number', value: String(s.seed), min: '0', 'aria-label': 'Seed' }) as HTMLElement & { value: string };
  const runButton = h('vscode-button', { id: 'run' }, 'Run');
  const twinButton = h('vscode-button', { id: 'twin', secondary: true, title: 'Data randomization: compare with the same architecture trained on permuted labels' }, 'Random-labels model…');
  const picker = h('div', { class: 'methods inline' });
  const chartCanvas = h('canvas', { id: 'sanity-chart', role: 'img', 'aria-label': 'Similarity to the original map against the randomization step' }) as HTMLCanvasElement;
  const ui: Ui = {
    status: h('span', { id: 'status', role: 'status' }),
    ring: h('vscode-progress-ring', { id: 'busy', 'aria-label': 'Computing' }),
    cancel: h('vscode-button', { id: 'cancel', secondary: true, title: 'Stop; the weights are restored' }, 'Cancel'),
    error: h('div', { id: 'error', class: 'error', role: 'alert', hidden: true }),
    strip: h('div', { id: 'strip', class: 'strip', role: 'table', 'aria-label': 'Maps per method (rows) and randomization step (columns)' }),
    verdicts: h('div', { id: 'verdicts', class: 'verdicts' }),
    twinInfo: h('span', { class: 'twin' }, s.twin ? `compared with ${s.twin}` : 'no random-labels model'),
    dataTable: h('div', { id: 'data-randomization', class: 'data-table', hidden: true }),
    chart: new SanityChart(chartCanvas),
    chartBox: h('div', { class: 'chart sanity-chart' }, chartCanvas),
  };
  const more = s.images.length > 1 ? ` (+${s.images.length - 1} more image${s.images.length > 2 ? 's' : ''}: mean and spread over all)` : '';
  app.replaceChildren(
    h('header', {},
      h('div', { class: 'title' }, h('strong', {}, `Sanity check · ${m.imageName}`), h('span', { class: 'more' }, more), ui.ring, ui.cancel),
      h('div', { class: 'meta' }, h('span', { title: m.model.file }, `model ${m.model.name}`), h('vscode-badge', { title: 'TensorFlow.js backend' }, m.backend)),
    ),
    h('p', { class: 'hint' }, 'Adebayo et al. 2018: a method whose maps survive the destruction of the model\'s weights explains the image, not the model. Weights are re-initialised layer by layer (seeded, with each layer\'s own initializer) and restored afterwards.'),
    ui.error,
    h('section', { class: 'sanity-controls' },
      h('label', { class: 'field' }, h('span', {}, 'Mode'), mode),
      h('label', { class: 'field' }, h('span', {}, 'Similarity'), metric),
      h('label', { class: 'field' }, h('span', {}, 'Threshold'), threshold),
      h('label', { class: 'field' }, h('span', {}, 'Seed'), seed),
      h('div', { class: 'buttons' }, runButton, twinButton, ui.twinInfo),
    ),
    h('h2', { class: 'section-title' }, 'Verdicts'),
    ui.verdicts,
    h('h2', { class: 'section-title' }, 'Maps as the model is destroyed'),
    ui.strip,
    ui.chartBox,
    ui.dataTable,
    ui.status,
    h('details', { class: 'method-details' }, h('summary', { class: 'section-title' }, 'Methods to check (then Run)'), picker),
  );
  app.removeAttribute('aria-busy');
  renderMethodPicker(picker, m.methods.filter((x) => x.family !== 'reference'), s.methods, (methods) => save({ methods }));
  mode.addEventListener('change', () => save({ mode: mode.value === 'independent' ? 'independent' : 'cascading' }));
  metric.addEventListener('change', () => save({ metric: metric.value as SimilarityName }));
  threshold.addEventListener('change', () => {
    const v = Number(threshold.value);
    if (Number.isFinite(v)) save({ threshold: v });
  });
  seed.addEventListener('change', () => {
    const v = Number(seed.value);
    if (Number.isInteger(v) && v >= 0) save({ seed: v });
  });
  runButton.addEventListener('click', run);
  twinButton.addEventListener('click', () => vscode.postMessage({ type: MessageType.SanityPickTwin }));
  ui.cancel.addEventListener('click', () => {
    const pending = requests.latest('run');
    if (pending) vscode.postMessage({ type: MessageType.Cancel, requestId: pending.id });
  });
  const img = new Image();
  img.onload = () => {
    image = img;
    for (const t of tiles.values()) t.setImage(img);
    redraw();
  };
  img.src = URL.createObjectURL(new Blob([m.image], { type: m.imageMime }));
  return ui;
}

function redraw(): void {
  for (const t of tiles.values()) t.draw(state?.colormap ?? 'turbo', 0.6);
}

/** The strip's row for a method and cell for a step, created on demand. */
function tile(method: string, step: number): OverlayCanvas {
  const key = `${method}@${step}`;
  const existing = tiles.get(key);
  if (existing) return existing;
  let row = ui!.strip.querySelector<HTMLElement>(`.strip-row[data-method="${method}"]`);
  if (!row) {
    row = h('div', { class: 'strip-row', role: 'row', 'data-method': method }, h('span', { class: 'strip-label', role: 'rowheader' }, labels.get(method) ?? method));
    ui!.strip.append(row);
  }
  while (row.children.length <= step + 1) row.append(h('span', { class: 'strip-cell', role: 'cell' }));
  const canvas = h('canvas', { class: 'thumb', 'aria-label': `${labels.get(method) ?? method}, step ${step}` }) as HTMLCanvasElement;
  row.children[step + 1].replaceChildren(canvas);
  const t = new OverlayCanvas(canvas, { minSide: 112, maxSide: 112 });
  if (image) t.setImage(image);
  tiles.set(key, t);
  return t;
}

function onMap(m: SanityMapMessage): void {
  const t = tile(m.method, m.step);
  t.setMap({ data: new Float32Array(m.data), height: m.height, width: m.width, signed: m.signed });
  t.draw(state?.colormap ?? 'turbo', 0.6);
  document.body.dataset.sanityMaps = String(tiles.size);
}

function showResult(r: SanityResult, ms: number): void {
  if (!ui) return;
  // Column headers: which layers each step has re-initialised.
  const head = h('div', { class: 'strip-row head', role: 'row' }, h('span', { class: 'strip-label' }),
    ...r.steps.map((s) => h('span', { class: 'strip-cell', role: 'columnheader', title: s.randomized.join(', ') || 'the trained model' }, s.layer ?? 'original')));
  ui.strip.querySelector('.strip-row.head')?.remove();
  ui.strip.prepend(head);
  ui.verdicts.replaceChildren(...r.summary.map((s) => h('div', { class: `verdict ${s.verdict}`, 'data-method': s.method },
    h('strong', {}, labels.get(s.method) ?? s.method), ` ${s.verdict} `,
    h('span', { class: 'score' }, `(${SIMILARITY_LABELS[r.metric]} ${s.score.toFixed(2)} ${s.verdict === 'passes' ? '<' : '≥'} ${r.threshold})`))),
  h('p', { class: 'hint' }, `Rule: ${r.rule}`));
  ui.chart.update(r, labels);
  const d = r.dataRandomization;
  ui.dataTable.hidden = !d;
  if (d) {
    ui.dataTable.replaceChildren(
      h('h2', { class: 'section-title' }, `Data randomization: the same images through ${d.model}`),
      ...d.summary.map((s) => h('div', { class: `verdict ${s.verdict}` }, h('strong', {}, labels.get(s.method) ?? s.method),
        ` ${SIMILARITY_LABELS[r.metric]} ${s.mean[r.metric].toFixed(2)} ± ${s.std[r.metric].toFixed(2)} → ${s.verdict}`)));
  }
  document.body.dataset.sanityDone = String(Number(document.body.dataset.sanityDone ?? 0) + 1);
  setBusy(ui, false, `Done in ${fmtMs(ms)}: ${r.steps.length - 1} randomization steps × ${r.summary.length} methods × ${r.images.length} image(s).`);
}

function onMessage(event: MessageEvent<SanityToWebview>): void {
  const m = event.data;
  if (m.type === MessageType.SanityInit) {
    const saved = vscode.getState() as SanityViewState | undefined;
    state = saved && saved.images.join('\n') === m.state.images.join('\n') ? { ...m.state, ...saved, twin: m.state.twin ?? saved.twin } : m.state;
    vscode.setState(state);
    ui = build({ ...m, state });
    document.body.dataset.image = `${m.imageName} (sanity check)`;
    run();
  } else if (m.type === MessageType.Failed && m.requestId === undefined) {
    // A failure of no run: the panel could not start.
    showFailure(ui, m.message, m.cancelled, 'Cancelled; the weights were restored.');
  } else {
    requests.route(m); // a superseded run's replies are dropped
  }
}

/** A reply to the run shown. */
function onRunReply(m: SanityToWebview): void {
  switch (m.type) {
    case MessageType.Started:
      if (!ui) return;
      tiles.clear();
      ui.strip.replaceChildren();
      ui.verdicts.replaceChildren();
      ui.error.hidden = true;
      document.body.dataset.sanityMaps = '0';
      setBusy(ui, true, 'Randomizing…');
      return;
    case MessageType.SanityProgress:
      if (ui) ui.status.textContent = `${(m.fraction * 100).toFixed(0)}% · ${m.message}`;
      return;
    case MessageType.SanityMap:
      if (ui) onMap(m);
      return;
    case MessageType.SanityResult:
      showResult(m.result, m.ms);
      return;
    case MessageType.Failed:
      showFailure(ui, m.message, m.cancelled, 'Cancelled; the weights were restored.');
      return;
    default:
      return;
  }
}

/** Starts the sanity panel: listens to the host and says it is ready. */
export function startSanityView(): void {
  window.addEventListener('message', onMessage);
  vscode.postMessage({ type: MessageType.Ready });
}

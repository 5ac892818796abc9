/**
 * The explain panel: the image with the focused method's heatmap large, the top predictions
 * (click one to explain it), a method picker, a grid of every selected method's map with its
 * time and faithfulness numbers (click a tile to enlarge it), the deletion/insertion curves,
 * and colormap/opacity controls that redraw every map instantly. For ViT-like models a tab strip
 * switches between these heatmaps and the attention maps (attention-tab.ts), which share the
 * image, the predictions and the colormap/opacity controls.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import { MessageType, type MethodChoice, type PredictionInfo } from '../shared/protocol/common';
import type { ExplainRequestKind, ExplainToHost, ExplainToWebview, ExplainViewState, FaithfulnessInfo, InitMessage, MapMessage } from '../shared/protocol/explain';
import { PendingRequests } from '../shared/protocol/requests';
import { COLORMAPS, isColormapName } from '../shared/colormaps';
import { vscodeApi } from './vscode-api';
import { h, singleSelect } from './views/dom';
import { setBusy, showFailure } from './views/status';
import { renderPredictions } from './views/predictions';
import { renderMethodPicker } from './views/method-picker';
import { MethodGrid } from './views/grid';
import { CurveCharts } from './views/curves';
import { OverlayCanvas } from './render/overlay-canvas';
import { methodColour } from './util/colour';
import { fmtMs } from './util/format';
import { colormapGradient } from './util/heatmap';
import { describeMap } from './util/map-caption';
import { AttentionTab } from './attention-tab';

interface Ui {
  status: HTMLElement;
  ring: HTMLElement;
  cancel: HTMLElement;
  checkpoint: HTMLElement;
  predictions: HTMLElement;
  canvas: OverlayCanvas;
  caption: HTMLElement;
  layer: HTMLSelectElement & { value: string };
  colormap: HTMLSelectElement & { value: string };
  opacity: HTMLInputElement;
  opacityValue: HTMLElement;
  colorbar: HTMLElement;
  grid: MethodGrid;
  curves: CurveCharts;
  error: HTMLElement;
}

const vscode = vscodeApi<ExplainToHost>();
let state = vscode.getState() as ExplainViewState | undefined;
let ui: Ui | undefined;
/** The Attention tab, when the model has attention over image patches. */
let attention: AttentionTab | undefined;
/** Class labels from the latest predictions (for the attention map's caption). */
const classLabels = new Map<number, string>();
let methodChoices: MethodChoice[] = [];
/**
 * The panel's requests: the explain run whose results are shown (the panel's latest, or one the
 * host started) and the Attention tab's map. Replies to superseded requests are dropped.
 */
const requests = new PendingRequests<ExplainRequestKind, ExplainToWebview>({
  side: 'webview',
  isLast: (m) => m.type === MessageType.Done || m.type === MessageType.Failed || m.type === MessageType.AttentionMap,
});
const metrics = new Map<string, FaithfulnessInfo>();

function save(patch: Partial<ExplainViewState>): void {
  if (!state) return;
  state = { ...state, ...patch };
  vscode.setState(state);
}

/** The selected methods that apply to the model, in the registry's order. */
function selectedMethods(): MethodChoice[] {
  const wanted = state?.methods ?? [];
  return methodChoices.filter((m) => wanted.includes(m.id) && !m.unavailable);
}

function explain(patch: Partial<Pick<ExplainViewState, 'target' | 'layer' | 'methods' | 'metrics'>>): void {
  save(patch);
  const requestId = requests.start('explain', { onReply: onExplainReply }).id;
  vscode.postMessage({ type: MessageType.Explain, requestId, target: state?.target, layer: state?.layer, methods: state?.methods, metrics: state?.metrics });
  if ('target' in patch) attention?.targetChanged();
}

function build(m: InitMessage): Ui {
  const app = document.getElementById('app')!;
  const s = m.state;
  const canvasEl = h('canvas', { id: 'heatmap', 'aria-label': `${m.imageName} with its heatmap` });
  const layerOptions = m.layers.map((l) => ({ value: l.name, label: l.name, description: `${l.className} ${l.shape.join('×')}` }));
  const layerSelect = singleSelect('layer', 'Layer', layerOptions, s.layer ?? m.defaultLayer);
  const colormapSelect = singleSelect('colormap', 'Colormap', COLORMAPS.map((c) => ({ value: c, label: c })), s.colormap);
  const opacity = h('input', { id: 'opacity', type: 'range', min: 0, max: 100, step: 1, value: Math.round(s.opacity * 100), 'aria-label': 'Heatmap opacity' }) as HTMLInputElement;
  const exportButton = h('vscode-button', { id: 'export-png', secondary: true, title: 'Write the large overlay as a PNG beside the image' }, 'Export PNG');
  const copyButton = h('vscode-button', { id: 'copy-npy', secondary: true, title: 'Copy the large map (model input resolution, float32) as .npy, in a Python snippet' }, 'Copy as .npy');
  const sanityButton = h('vscode-button', { id: 'sanity', secondary: true, title: 'Sanity check (Adebayo et al. 2018): do these methods depend on the model? Randomizes the weights layer by layer and compares the maps' }, 'Sanity check…');
  const metricsBox = h('vscode-checkbox', { id: 'metrics', checked: s.metrics !== false, title: 'Deletion/insertion AUC, ROAD and the pointing game for every map (costs extra forward passes)' }, 'Faithfulness metrics') as HTMLElement & { checked: boolean };
  const picker = h('div', { id: 'methods', class: 'methods' });
  const layerField = h('label', { class: 'field heatmap-only' }, h('span', {}, 'Layer'), layerSelect);
  const heatmapButtons = h('div', { class: 'buttons heatmap-only' }, exportButton, copyButton, sanityButton);
  const ui: Ui = {
    status: h('span', { id: 'status', class: 'heatmap-only', role: 'status' }),
    ring: h('vscode-progress-ring', { id: 'busy', 'aria-label': 'Computing' }),
    cancel: h('vscode-button', { id: 'cancel', secondary: true, title: 'Stop this computation' }, 'Cancel'),
    checkpoint: h('span', { class: 'checkpoint' }),
    predictions: h('ol', { id: 'predictions', class: 'predictions' }),
    canvas: new OverlayCanvas(canvasEl as HTMLCanvasElement),
    caption: h('div', { id: 'focus-caption', class: 'caption' }),
    layer: layerSelect as Ui['layer'],
    colormap: colormapSelect as Ui['colormap'],
    opacity,
    opacityValue: h('span', { class: 'value' }, `${Math.round(s.opacity * 100)}%`),
    colorbar: h('div', { class: 'colorbar', role: 'img', 'aria-label': `${s.colormap} colour scale, low to high` }),
    grid: new MethodGrid((method) => focus(method)),
    curves: new CurveCharts(),
    error: h('div', { id: 'error', class: 'error', role: 'alert', hidden: true }),
  };
  attention = m.attention ? new AttentionTab({
    info: m.attention,
    state: s.attention,
    save: (a) => save({ attention: a }),
    requests,
    target: () => state?.target,
    classLabel: (index) => classLabels.get(index),
    display: () => ({ colormap: state?.colormap ?? s.colormap, opacity: state?.opacity ?? s.opacity }),
    explainBusy: () => !!ui && !ui.ring.hidden,
  }) : undefined;
  if (!attention) document.body.classList.remove('attention-open', 'attention-busy');
  app.replaceChildren(...[
    h('header', {},
      h('div', { class: 'title' }, h('strong', {}, m.imageName), ui.ring, ui.cancel),
      h('div', { class: 'meta' },
        h('span', { title: m.model.file }, `model ${m.model.name}`),
        h('span', {}, `input ${m.model.inputSize.join('×')} · ${m.model.preprocess}`),
        ui.checkpoint,
        h('vscode-badge', { id: 'backend', title: 'TensorFlow.js backend' }, m.backend),
      ),
    ),
    ui.error,
    attention?.strip,
    attention?.error,
    h('section', { class: 'body' },
      h('figure', { class: 'viewer heatmap-only', id: 'heatmap-viewer', role: attention ? 'tabpanel' : undefined, 'aria-labelledby': attention ? 'explain-tabs-heatmaps' : undefined }, canvasEl, h('figcaption', {}, ui.caption, ui.colorbar, h('div', { class: 'scale' }, h('span', {}, 'low'), h('span', {}, 'high')))),
      attention?.viewer,
      h('aside', { class: 'side' },
        h('h2', {}, 'Predictions'),
        ui.predictions,
        h('p', { class: 'hint' }, 'Click a class to explain it.'),
        h('h2', {}, 'Heatmap'),
        layerField,
        h('label', { class: 'field' }, h('span', {}, 'Colormap'), colormapSelect),
        h('label', { class: 'field' }, h('span', {}, 'Opacity'), h('div', { class: 'range' }, opacity, ui.opacityValue)),
        heatmapButtons,
        ui.status,
      ),
      h('aside', { class: 'side picker heatmap-only', id: 'heatmap-methods' },
        h('h2', {}, 'Methods'),
        picker,
        metricsBox,
      ),
      attention?.controls,
    ),
    h('div', { class: 'heatmap-only', id: 'heatmap-lower' },
      h('h2', { class: 'section-title' }, 'Side by side'),
      ui.grid.el,
      ui.curves.el,
    ),
  ].filter((x): x is HTMLElement => x !== undefined));
  app.removeAttribute('aria-busy');
  ui.colorbar.style.background = colormapGradient(s.colormap);
  renderMethodPicker(picker, m.methods, s.methods ?? m.defaultMethods, (methods) => {
    save({ methods });
    layoutGrid();
    explain({ methods });
  });

  layerSelect.addEventListener('change', () => explain({ layer: ui.layer.value }));
  metricsBox.addEventListener('change', () => explain({ metrics: metricsBox.checked }));
  colormapSelect.addEventListener('change', () => {
    const c = ui.colormap.value;
    if (!isColormapName(c)) return;
    save({ colormap: c });
    ui.colorbar.style.background = colormapGradient(c);
    redraw();
  });
  opacity.addEventListener('input', () => {
    save({ opacity: Number(opacity.value) / 100 });
    ui.opacityValue.textContent = `${opacity.value}%`;
    redraw();
  });
  exportButton.addEventListener('click', () => {
    if (state?.focus) vscode.postMessage({ type: MessageType.ExportPng, method: state.focus, colormap: state.colormap, opacity: state.opacity });
  });
  ui.cancel.addEventListener('click', () => {
    const run = requests.latest('explain');
    if (run) vscode.postMessage({ type: MessageType.Cancel, requestId: run.id });
  });
  sanityButton.addEventListener('click', () => vscode.postMessage({ type: MessageType.OpenSanityCheck }));
  copyButton.addEventListener('click', () => {
    if (state?.focus) vscode.postMessage({ type: MessageType.CopyNpy, method: state.focus });
  });

  const img = new Image();
  img.onload = () => {
    ui.canvas.setImage(img);
    ui.grid.setImage(img);
    attention?.setImage(img);
    redraw();
  };
  img.src = URL.createObjectURL(new Blob([m.image], { type: m.imageMime }));
  return ui;
}

function layoutGrid(): void {
  if (!ui) return;
  ui.grid.setMethods(selectedMethods());
  ui.grid.setFocus(state?.focus);
  updateCurves();
}

function redraw(): void {
  if (!ui || !state) return;
  ui.canvas.draw(state.colormap, state.opacity);
  ui.grid.redraw(state.colormap, state.opacity);
  attention?.redraw();
}

/** Shows a method's map large (when it has one). */
function focus(method: string): void {
  if (!ui) return;
  const m = ui.grid.shown().find((x) => x.method === method);
  save({ focus: method });
  ui.grid.setFocus(method);
  if (!m) return;
  ui.canvas.setMap({ data: new Float32Array(m.data), height: m.height, width: m.width, signed: m.signed });
  ui.caption.textContent = `${m.label} · ${fmtMs(m.ms)} · ${describeMap(m)}`;
  ui.caption.classList.toggle('degenerate', m.note !== undefined);
  redraw();
}

function onMap(m: MapMessage): void {
  if (!ui || !state) return;
  ui.grid.setMap(m, state.colormap, state.opacity);
  const shown = ui.grid.shown();
  // The large view follows the focused method, or the first map to arrive.
  if (state.focus === m.method || !shown.some((x) => x.method === state?.focus)) focus(m.method);
  document.body.dataset.mapVersion = String(Number(document.body.dataset.mapVersion ?? 0) + 1);
  document.body.dataset.maps = String(shown.length);
}

function updateCurves(): void {
  if (!ui) return;
  const rows = selectedMethods();
  ui.curves.update(rows.flatMap((m, i) => {
    const f = metrics.get(m.id);
    return f ? [{ method: m.id, label: m.label, colour: methodColour(m.id, i), deletion: f.deletion.curve, insertion: f.insertion.curve }] : [];
  }));
}

function onPredictions(predictions: PredictionInfo[], target: PredictionInfo, checkpoint: string): void {
  if (!ui) return;
  for (const p of predictions) if (p.label) classLabels.set(p.index, p.label);
  renderPredictions(ui.predictions, predictions, target.index, (index) => explain({ target: index }));
  ui.checkpoint.textContent = `checkpoint ${new Date(checkpoint).toLocaleString()}`;
  ui.checkpoint.title = checkpoint;
}

/** Starts the explain panel: listens to the host and says it is ready. */
export function startExplainView(): void {
  window.addEventListener('message', onMessage);
  vscode.postMessage({ type: MessageType.Ready });
}

function onMessage(event: MessageEvent<ExplainToWebview>): void {
  handle(event.data);
  // Explaining and attention share the body's busy class: either keeps it on.
  attention?.syncBusy();
}

function handle(m: ExplainToWebview): void {
  if (m.type === MessageType.Init) {
    onInit(m);
    return;
  }
  if (m.type === MessageType.Failed && m.requestId === undefined) {
    // A failure of no request: the panel could not start.
    showFailure(ui, m.message, m.cancelled, 'Cancelled.');
    return;
  }
  // The host's Started makes its run the one shown: the panel's own, or one the host started
  // itself (on opening, for a new checkpoint), which supersedes the panel's.
  if (m.type === MessageType.Started && !requests.get(m.requestId)) requests.start('explain', { id: m.requestId, onReply: onExplainReply });
  requests.route(m);
}

function onInit(m: InitMessage): void {
  state = { ...m.state, ...(state?.imagePath === m.state.imagePath ? { colormap: state.colormap, opacity: state.opacity, methods: state.methods, focus: state.focus, metrics: state.metrics, attention: state.attention ?? m.state.attention } : {}) };
  state.methods ??= m.defaultMethods;
  vscode.setState(state);
  methodChoices = m.methods;
  classLabels.clear();
  // The Attention tab is built anew: the old one's request is forgotten.
  requests.end(requests.latest('attention'));
  ui = build({ ...m, state });
  document.body.dataset.image = m.imageName;
  layoutGrid();
  setBusy(ui, true, 'Explaining…');
}

/** A reply to the explain run shown. */
function onExplainReply(m: ExplainToWebview): void {
  switch (m.type) {
    case MessageType.Started:
      metrics.clear();
      ui?.grid.clear();
      document.body.dataset.maps = '0';
      document.body.dataset.metrics = '0';
      updateCurves();
      setBusy(ui, true, m.reason === 'checkpoint' ? 'The model changed: recomputing…' : 'Explaining…');
      if (ui) ui.error.hidden = true;
      if (m.reason === 'checkpoint') attention?.invalidate();
      return;
    case MessageType.Predictions:
      onPredictions(m.predictions, m.target, m.checkpoint);
      return;
    case MessageType.Map:
      onMap(m);
      return;
    case MessageType.Metrics:
      if (!ui) return;
      metrics.set(m.method, m.metrics);
      ui.grid.setMetrics(m.method, m.metrics);
      updateCurves();
      document.body.dataset.metrics = String(metrics.size);
      return;
    case MessageType.Done:
      setBusy(ui, false, `Done in ${fmtMs(m.ms)}.`);
      return;
    case MessageType.Failed:
      showFailure(ui, m.message, m.cancelled, 'Cancelled.');
      return;
    default:
      return;
  }
}

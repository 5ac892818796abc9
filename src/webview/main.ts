/**
 * The XAI Lens panel: the image with its heatmap, the top predictions (click one to explain it),
 * a layer picker, colormap and opacity controls that redraw instantly, timings, and export.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import { MessageType, type InitMessage, type MapMessage, type PanelViewState, type PredictionInfo, type ToPanelMessage } from '../shared/protocol';
import { COLORMAPS, isColormapName } from '../shared/colormaps';
import { vscode } from './vscode-api';
import { h } from './views/dom';
import { renderPredictions } from './views/predictions';
import { OverlayCanvas, colormapGradient } from './render/overlay-canvas';

interface Ui {
  status: HTMLElement;
  ring: HTMLElement;
  cancel: HTMLElement;
  checkpoint: HTMLElement;
  predictions: HTMLElement;
  canvas: OverlayCanvas;
  layer: HTMLSelectElement & { value: string };
  colormap: HTMLSelectElement & { value: string };
  opacity: HTMLInputElement;
  opacityValue: HTMLElement;
  colorbar: HTMLElement;
  timing: HTMLElement;
  error: HTMLElement;
}

let state: PanelViewState | undefined = vscode.getState();
let ui: Ui | undefined;
let current = 0; // request whose results are shown
let nextRequest = 1;
let maps = new Map<string, MapMessage>();
let shownMethod: string | undefined;

function save(patch: Partial<PanelViewState>): void {
  if (!state) return;
  state = { ...state, ...patch };
  vscode.setState(state);
}

function explain(patch: Partial<Pick<PanelViewState, 'target' | 'layer'>>): void {
  save(patch);
  const requestId = nextRequest++;
  vscode.postMessage({ type: MessageType.Explain, requestId, target: state?.target, layer: state?.layer });
}

function select(id: string, label: string, options: { value: string; label: string; description?: string }[], value: string | undefined): HTMLElement {
  const el = h('vscode-single-select', { id, 'aria-label': label });
  for (const o of options) {
    el.append(h('vscode-option', { value: o.value, description: o.description ?? '', selected: o.value === value }, o.label));
  }
  return el;
}

function build(m: InitMessage): Ui {
  const app = document.getElementById('app')!;
  const s = m.state;
  const canvasEl = h('canvas', { id: 'heatmap', 'aria-label': `${m.imageName} with its heatmap` });
  const layerOptions = m.layers.map((l) => ({ value: l.name, label: l.name, description: `${l.className} ${l.shape.join('×')}` }));
  const layerSelect = select('layer', 'Layer', layerOptions, s.layer ?? m.defaultLayer);
  const colormapSelect = select('colormap', 'Colormap', COLORMAPS.map((c) => ({ value: c, label: c })), s.colormap);
  const opacity = h('input', { id: 'opacity', type: 'range', min: 0, max: 100, step: 1, value: Math.round(s.opacity * 100), 'aria-label': 'Heatmap opacity' }) as HTMLInputElement;
  const exportButton = h('vscode-button', { id: 'export-png', secondary: true, title: 'Write the overlay as a PNG beside the image' }, 'Export PNG');
  const copyButton = h('vscode-button', { id: 'copy-npy', secondary: true, title: 'Copy the raw map (model input resolution, float32) as .npy, in a Python snippet' }, 'Copy as .npy');
  const ui: Ui = {
    status: h('span', { id: 'status', role: 'status' }),
    ring: h('vscode-progress-ring', { id: 'busy', 'aria-label': 'Computing' }),
    cancel: h('vscode-button', { id: 'cancel', secondary: true, title: 'Stop this computation' }, 'Cancel'),
    checkpoint: h('span', { class: 'checkpoint' }),
    predictions: h('ol', { id: 'predictions', class: 'predictions' }),
    canvas: new OverlayCanvas(canvasEl as HTMLCanvasElement),
    layer: layerSelect as Ui['layer'],
    colormap: colormapSelect as Ui['colormap'],
    opacity,
    opacityValue: h('span', { class: 'value' }, `${Math.round(s.opacity * 100)}%`),
    colorbar: h('div', { class: 'colorbar', role: 'img', 'aria-label': `${s.colormap} colour scale, low to high` }),
    timing: h('div', { id: 'timing', class: 'timing' }),
    error: h('div', { id: 'error', class: 'error', role: 'alert', hidden: true }),
  };
  app.replaceChildren(
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
    h('section', { class: 'body' },
      h('figure', { class: 'viewer' }, canvasEl, h('figcaption', {}, ui.colorbar, h('div', { class: 'scale' }, h('span', {}, 'low'), h('span', {}, 'high')))),
      h('aside', { class: 'side' },
        h('h2', {}, 'Predictions'),
        ui.predictions,
        h('p', { class: 'hint' }, 'Click a class to explain it.'),
        h('h2', {}, 'Heatmap'),
        h('label', { class: 'field' }, h('span', {}, 'Layer'), layerSelect),
        h('label', { class: 'field' }, h('span', {}, 'Colormap'), colormapSelect),
        h('label', { class: 'field' }, h('span', {}, 'Opacity'), h('div', { class: 'range' }, opacity, ui.opacityValue)),
        ui.timing,
        h('div', { class: 'buttons' }, exportButton, copyButton),
        ui.status,
      ),
    ),
  );
  app.removeAttribute('aria-busy');
  ui.colorbar.style.background = colormapGradient(s.colormap);

  layerSelect.addEventListener('change', () => explain({ layer: ui.layer.value }));
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
    if (shownMethod && state) vscode.postMessage({ type: MessageType.ExportPng, method: shownMethod, colormap: state.colormap, opacity: state.opacity });
  });
  ui.cancel.addEventListener('click', () => vscode.postMessage({ type: MessageType.Cancel, requestId: current }));
  copyButton.addEventListener('click', () => {
    if (shownMethod) vscode.postMessage({ type: MessageType.CopyNpy, method: shownMethod });
  });

  const img = new Image();
  img.onload = () => {
    ui.canvas.setImage(img);
    redraw();
  };
  img.src = URL.createObjectURL(new Blob([m.image], { type: m.imageMime }));
  return ui;
}

function redraw(): void {
  if (!ui || !state) return;
  ui.canvas.draw(state.colormap, state.opacity);
}

function setBusy(busy: boolean, text: string): void {
  if (!ui) return;
  ui.ring.hidden = !busy;
  ui.cancel.hidden = !busy;
  ui.status.textContent = text;
  document.body.classList.toggle('busy', busy);
}

function showMap(m: MapMessage): void {
  if (!ui) return;
  shownMethod = m.method;
  ui.canvas.setMap({ data: new Float32Array(m.data), height: m.height, width: m.width });
  redraw();
  const lines = [...maps.values()].map((x) => {
    const flat = new Float32Array(x.data).every((v) => v === 0);
    // Grad-CAM keeps only positive evidence: an all-zero map means there is none for this class.
    const note = flat ? ' — all zero: no positive evidence for this class here' : '';
    return `${x.label}: ${x.ms.toFixed(0)} ms${x.layer ? ` at ${x.layer}` : ''} (${x.height}×${x.width})${note}`;
  });
  ui.timing.textContent = lines.join('\n');
  document.body.dataset.mapVersion = String(Number(document.body.dataset.mapVersion ?? 0) + 1);
}

function onPredictions(predictions: PredictionInfo[], target: PredictionInfo, checkpoint: string): void {
  if (!ui) return;
  renderPredictions(ui.predictions, predictions, target.index, (index) => explain({ target: index }));
  ui.checkpoint.textContent = `checkpoint ${new Date(checkpoint).toLocaleString()}`;
  ui.checkpoint.title = checkpoint;
}

window.addEventListener('message', (event: MessageEvent<ToPanelMessage>) => {
  const m = event.data;
  switch (m.type) {
    case MessageType.Init:
      state = { ...m.state, ...(state?.imagePath === m.state.imagePath ? { colormap: state.colormap, opacity: state.opacity } : {}) };
      vscode.setState(state);
      ui = build({ ...m, state });
      document.body.dataset.image = m.imageName;
      setBusy(true, 'Explaining…');
      return;
    case MessageType.Started:
      current = m.requestId;
      maps = new Map();
      setBusy(true, m.reason === 'checkpoint' ? 'The model changed: recomputing…' : 'Explaining…');
      if (ui) ui.error.hidden = true;
      return;
    case MessageType.Predictions:
      if (m.requestId === current) onPredictions(m.predictions, m.target, m.checkpoint);
      return;
    case MessageType.Map:
      if (m.requestId !== current) return;
      maps.set(m.method, m);
      showMap(m);
      return;
    case MessageType.Done:
      if (m.requestId === current) setBusy(false, `Done in ${m.ms.toFixed(0)} ms.`);
      return;
    case MessageType.Failed:
      if (m.requestId !== undefined && m.requestId !== current) return;
      setBusy(false, m.cancelled ? 'Cancelled.' : 'Failed.');
      if (ui && !m.cancelled) {
        ui.error.textContent = m.message;
        ui.error.hidden = false;
      } else if (!ui) {
        document.getElementById('app')!.replaceChildren(h('div', { class: 'error', role: 'alert' }, m.message));
      }
      return;
  }
});

vscode.postMessage({ type: MessageType.Ready });

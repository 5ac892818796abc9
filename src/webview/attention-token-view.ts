/**
 * The token-attention panel (Transformers on tokens, encoder–decoder models included): a text
 * box per model input, Show attention, the model's predictions, the rollout of each
 * self-attention side from token 0, and two views of every layer's attention after bertviz —
 * the head view (one layer as lines between tokens, a colour per head) and the model view
 * (layers × heads of small matrices; click one to open it in the head view). Layers are grouped
 * as encoder self-attention, decoder self-attention and cross-attention.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { MessageType, type PredictionInfo } from '../shared/protocol/common';
import type { AttentionRequestKind, AttentionToHost, AttentionToWebview, AttentionTokenInitMessage, AttentionTokenResultMessage, AttentionTokenViewState } from '../shared/protocol/attention';
import { PendingRequests } from '../shared/protocol/requests';
import { vscodeApi } from './vscode-api';
import { h } from './views/dom';
import { fmtMs } from './util/format';
import { setBusy, showFailure, type StatusUi } from './views/status';
import { tabStrip, type TabStrip } from './views/tabs';
import { HeadView } from './views/head-view';
import { ModelView } from './views/attention-model-view';
import { renderRolloutStrips } from './views/rollout-strip';
import { prepareLayers, rolloutRow } from './util/token-layers';

type TextField = HTMLElement & { value: string };
type View = AttentionTokenViewState['view'];

interface Ui extends StatusUi {
  fields: TextField[];
  show: HTMLElement;
  predictions: HTMLElement;
  predictionsBox: HTMLElement;
  rollout: HTMLElement;
  results: HTMLElement;
  empty: HTMLElement;
  summary: HTMLElement;
  tabs: TabStrip<View>;
  headPanel: HTMLElement;
  modelPanel: HTMLElement;
  headView: HeadView;
  modelView: ModelView;
}

let state: AttentionTokenViewState | undefined;
let init: AttentionTokenInitMessage | undefined;
let ui: Ui | undefined;
const vscode = vscodeApi<AttentionToHost>();
/** The texts whose attention is being computed (newer texts supersede them). */
const requests = new PendingRequests<AttentionRequestKind, AttentionToWebview>({
  side: 'webview',
  isLast: (m) => m.type === MessageType.AttentionTokenResult || m.type === MessageType.Failed,
});

const body = () => document.body.dataset;

function save(patch: Partial<AttentionTokenViewState>): void {
  if (!state) return;
  state = { ...state, ...patch };
  vscode.setState(state);
}

function submit(): void {
  if (!ui || !init || !state) return;
  const texts = ui.fields.map((f) => f.value.trim());
  const missing = init.inputs.filter((_, i) => !texts[i]);
  save({ texts });
  if (missing.length) {
    ui.error.textContent = `Type some tokens for ${missing.map((x) => x.name).join(' and ')} (space-separated tokens or ids).`;
    ui.error.hidden = false;
    return;
  }
  const previous = requests.latest('tokens');
  if (previous) vscode.postMessage({ type: MessageType.Cancel, requestId: previous.id });
  const requestId = requests.start('tokens', { onReply }).id;
  ui.error.hidden = true;
  setBusy(ui, true, 'Computing attention…');
  vscode.postMessage({ type: MessageType.AttentionTokens, requestId, texts });
}

function inputHint(length: number | null, vocab: number | undefined): string {
  const parts = ['space-separated tokens or ids'];
  if (length !== null) parts.push(`${length} tokens`);
  if (vocab) parts.push(`vocabulary of ${vocab}`);
  return parts.join(' · ');
}

function setView(view: View): void {
  if (!ui) return;
  save({ view });
  ui.tabs.select(view);
  ui.headPanel.hidden = view !== 'head';
  ui.modelPanel.hidden = view !== 'model';
}

function build(m: AttentionTokenInitMessage, s: AttentionTokenViewState): Ui {
  const app = document.getElementById('app')!;
  const fields = m.inputs.map((input, i) => h('vscode-textfield', {
    id: `attention-text-${i}`,
    value: s.texts[i] ?? '',
    placeholder: input.example ?? 'space-separated tokens or ids',
    'aria-label': `${input.name}: space-separated tokens or ids`,
  }) as TextField);
  const show = h('vscode-button', { id: 'attention-show', title: 'Run the model on these tokens and show its attention (Enter)' }, 'Show attention');
  const headView = new HeadView((layer, heads) => save({ layer, heads }));
  const modelView = new ModelView((layer, head) => {
    save({ layer, heads: [head] });
    headView.show(layer, [head]);
    setView('head');
    ui?.tabs.button('head').focus();
    ui?.headPanel.scrollIntoView({ block: 'nearest' });
  });
  const tabs = tabStrip<View>('attention-views', 'Attention views', [
    { id: 'head', label: 'Head view', controls: 'head-panel', title: 'One layer: lines between tokens, a colour per head' },
    { id: 'model', label: 'Model view', controls: 'model-panel', title: 'Every layer and head as a small matrix' },
  ], s.view, setView);
  const ui: Ui = {
    status: h('span', { id: 'status', role: 'status' }),
    ring: h('vscode-progress-ring', { id: 'busy', 'aria-label': 'Computing attention', hidden: true }),
    cancel: h('vscode-button', { id: 'cancel', secondary: true, hidden: true, title: 'Stop this computation' }, 'Cancel'),
    error: h('div', { id: 'error', class: 'error', role: 'alert', hidden: true }),
    fields,
    show,
    predictions: h('ol', { id: 'token-predictions', class: 'token-predictions' }),
    predictionsBox: h('section', { class: 'token-predictions-box', hidden: true }),
    rollout: h('div', { id: 'rollout', class: 'rollouts', hidden: true }),
    results: h('section', { class: 'attention-results', hidden: true }),
    empty: h('p', { class: 'tcav-empty', id: 'attention-empty' }, 'Type tokens for each input and press Show attention.'),
    summary: h('p', { class: 'hint', id: 'attention-summary' }),
    tabs,
    headPanel: h('div', { id: 'head-panel', role: 'tabpanel', 'aria-labelledby': 'attention-views-head' }, headView.el),
    modelPanel: h('div', { id: 'model-panel', role: 'tabpanel', 'aria-labelledby': 'attention-views-model' }, modelView.el),
    headView,
    modelView,
  };
  ui.predictionsBox.append(h('h2', { class: 'section-title' }, 'Predictions'), ui.predictions);
  ui.results.append(ui.summary, ui.rollout, tabs.el, ui.headPanel, ui.modelPanel);
  const selfLayers = m.layers.filter((l) => !l.cross).length;
  const crossLayers = m.layers.length - selfLayers;
  app.replaceChildren(
    h('header', {},
      h('div', { class: 'title' }, h('strong', {}, `Attention · ${m.model.name}`), ui.ring, ui.cancel),
      h('div', { class: 'meta' },
        h('span', { title: m.model.file }, `model ${m.model.name}`),
        h('span', {}, `${m.layers.length} attention layer${m.layers.length === 1 ? '' : 's'}${crossLayers ? ` (${crossLayers} cross-attention)` : ''}`),
        h('vscode-badge', { id: 'backend', title: 'TensorFlow.js backend' }, m.backend))),
    ui.error,
    h('section', { class: 'token-inputs', 'aria-label': 'Model inputs' },
      ...m.inputs.map((input, i) => h('label', { class: 'token-field' },
        h('span', { class: 'name' }, input.name),
        fields[i],
        h('small', { class: 'muted' }, inputHint(input.length, input.vocab?.length)))),
      h('div', { class: 'buttons token-run' }, show, ui.status)),
    ui.predictionsBox,
    ui.empty,
    ui.results,
  );
  app.removeAttribute('aria-busy');
  show.addEventListener('click', submit);
  for (const f of fields) {
    f.addEventListener('keydown', (e) => {
      if ((e as KeyboardEvent).key === 'Enter') {
        e.preventDefault();
        submit();
      }
    });
  }
  ui.cancel.addEventListener('click', () => {
    const pending = requests.latest('tokens');
    if (pending) vscode.postMessage({ type: MessageType.Cancel, requestId: pending.id });
  });
  ui.headPanel.hidden = s.view !== 'head';
  ui.modelPanel.hidden = s.view !== 'model';
  return ui;
}

function renderPredictionList(list: HTMLElement, predictions: PredictionInfo[]): void {
  list.replaceChildren(...predictions.map((p) => {
    const name = p.label ?? `class ${p.index}`;
    const bar = h('span', { class: 'bar' });
    bar.style.width = `${Math.max(1, p.probability * 100).toFixed(1)}%`;
    return h('li', { class: 'token-prediction', title: `output ${p.index}` },
      h('span', { class: 'name' }, name), h('span', { class: 'pct' }, `${(p.probability * 100).toFixed(1)}%`), bar);
  }));
}

function onResult(m: AttentionTokenResultMessage): void {
  if (!ui || !init || !state) return;
  const inputs = init.inputs.map((x) => x.name);
  const groups = prepareLayers(m.layers, m.probabilities, inputs, m.tokens);
  const rollouts = m.rollout.map((r) => {
    const k = inputs.indexOf(r.side);
    const tokens = k >= 0 ? m.tokens[k] : m.tokens.find((t) => t.length === r.tokens) ?? [];
    return { side: r.side, tokens: Array.from({ length: r.tokens }, (_, i) => tokens[i] ?? `#${i}`), weights: rolloutRow(r.data, r.tokens, r.side) };
  });
  const preds = m.predictions ?? [];
  ui.predictionsBox.hidden = preds.length === 0;
  renderPredictionList(ui.predictions, preds);
  renderRolloutStrips(ui.rollout, rollouts);
  ui.headView.setData(groups, state.layer, state.heads);
  ui.modelView.setData(groups);
  ui.empty.hidden = true;
  ui.results.hidden = false;
  const count = m.tokens.reduce((s, t) => s + t.length, 0);
  ui.summary.textContent = `${m.tokens.map((t, i) => `${t.length} token${t.length === 1 ? '' : 's'} of ${inputs[i] ?? `input ${i}`}`).join(', ')} · ${m.layers.length} layers · computed in ${fmtMs(m.ms)}`;
  body().attentionTokens = String(count);
  body().attentionResults = String(Number(body().attentionResults ?? 0) + 1);
  setBusy(ui, false, `Done in ${fmtMs(m.ms)}.`);
}

function onInit(m: AttentionTokenInitMessage): void {
  const prev = vscode.getState() as AttentionTokenViewState | undefined;
  const texts = (list: string[] | undefined) => m.inputs.map((_, i) => list?.[i] ?? m.texts[i] ?? '');
  state = prev && prev.model === m.model.file
    ? { ...prev, texts: texts(prev.texts), view: prev.view === 'model' ? 'model' : 'head' }
    : { model: m.model.file, texts: texts(m.texts), view: 'head' };
  vscode.setState(state);
  init = m;
  requests.end(requests.latest('tokens'));
  ui = build(m, state);
  body().attentionTokens = '0';
  body().attentionLines = '0';
  body().attentionCells = '0';
  setBusy(ui, false, '');
  // Show the attention of the texts at once when every input has some.
  if (state.texts.every((t) => t.trim())) submit();
}

function onMessage(event: MessageEvent<AttentionToWebview>): void {
  const m = event.data;
  if (m.type === MessageType.AttentionTokenInit) {
    onInit(m);
  } else if (m.type === MessageType.Failed && m.requestId === undefined) {
    // A failure of no request: the panel could not start.
    requests.end(requests.latest('tokens'));
    onReply(m);
  } else if (!requests.route(m) && m.type === MessageType.AttentionTokenResult && !requests.latest('tokens')) {
    // A superseded request's result is dropped; one the host computed itself is shown when idle.
    onReply(m);
  }
}

/** The reply to the texts sent last: their attention, or why there is none. */
function onReply(m: AttentionToWebview): void {
  switch (m.type) {
    case MessageType.AttentionTokenResult:
      try {
        onResult(m);
      } catch (err) {
        showFailure(ui, err instanceof Error ? err.message : String(err), false, '');
      }
      return;
    case MessageType.Failed:
      showFailure(ui, m.message, m.cancelled, 'Cancelled.');
      if (ui && !ui.results.hidden) ui.status.textContent = `${m.cancelled ? 'Cancelled' : 'Failed'}; the attention shown is of the previous tokens.`;
      return;
    default:
      return;
  }
}

/** Starts the token-attention panel: listens to the host and says it is ready. */
export function startAttentionTokenView(): void {
  window.addEventListener('message', onMessage);
  vscode.postMessage({ type: MessageType.Ready });
}

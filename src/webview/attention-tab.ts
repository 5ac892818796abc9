/**
 * The explain panel's Attention tab (ViT-like image models): attention rollout, one layer's raw
 * attention from a query token, or gradient-weighted rollout for the panel's target class,
 * drawn over the image on the patch grid with the panel's colormap and opacity (patches upsampled
 * nearest-neighbour, so every patch shows as the block it is). Hovering shows a patch's row,
 * column and weight; in raw mode clicking a patch makes it the query token.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import { ATTENTION_MODES, type AttentionMode, type HeadFusion } from '../shared/attention';
import type { ColormapName } from '../shared/colormaps';
import { MessageType } from '../shared/protocol/common';
import type { AttentionInfo, AttentionMapMessage, AttentionRequestMessage, AttentionViewState, ExplainRequestKind, ExplainToHost, ExplainToWebview } from '../shared/protocol/explain';
import type { PendingRequests } from '../shared/protocol/requests';
import { vscodeApi } from './vscode-api';
import { h, singleSelect } from './views/dom';
import { fmtMs, fmtWeight } from './util/format';
import { tabStrip, type TabStrip } from './views/tabs';
import { Tooltip } from './views/tooltip';
import { OverlayCanvas } from './render/overlay-canvas';
import { colormapGradient } from './util/heatmap';
import { upsampleNearest } from './util/upsample';

export const DEFAULT_ATTENTION_STATE: AttentionViewState = { open: false, mode: 'rollout', fusion: 'mean', discardRatio: 0 };

const FUSIONS: readonly HeadFusion[] = ['mean', 'max', 'min'];

const MODE_LABELS: Record<AttentionMode, { label: string; description: string }> = {
  rollout: { label: 'Attention rollout', description: 'flow through every layer' },
  raw: { label: 'Raw attention', description: 'one layer, one query token' },
  'grad-rollout': { label: 'Gradient-weighted rollout', description: 'class-specific' },
};

const vscode = vscodeApi<ExplainToHost>();

type Select = HTMLElement & { value: string };

export interface AttentionTabOptions {
  info: AttentionInfo;
  state: AttentionViewState | undefined;
  save(state: AttentionViewState): void;
  /** The panel's requests: the tab's map is an `attention` request (a newer one supersedes it). */
  requests: PendingRequests<ExplainRequestKind, ExplainToWebview>;
  /** The panel's target class (undefined: the top prediction). */
  target(): number | undefined;
  classLabel(index: number): string | undefined;
  display(): { colormap: ColormapName; opacity: number };
  /** Whether the heatmaps are being computed (the body's busy class covers both). */
  explainBusy(): boolean;
}

interface ShownMap {
  data: Float32Array;
  height: number;
  width: number;
  message: AttentionMapMessage;
}

export class AttentionTab {
  /** The Heatmaps | Attention tab strip. */
  readonly strip: HTMLElement;
  /** The image with the attention map (beside the shared side panel). */
  readonly viewer: HTMLElement;
  /** The attention controls (where the heatmap's method picker is). */
  readonly controls: HTMLElement;
  /** The attention's failures. */
  readonly error: HTMLElement;

  private readonly tabs: TabStrip<'heatmaps' | 'attention'>;
  private readonly overlay: OverlayCanvas;
  private readonly marks: HTMLCanvasElement;
  private readonly caption: HTMLElement;
  private readonly colorbar: HTMLElement;
  private readonly tooltip: Tooltip;
  private readonly ring: HTMLElement;
  private readonly cancel: HTMLElement;
  private readonly status: HTMLElement;
  private readonly hint: HTMLElement;
  private readonly fields: Record<'fusion' | 'discard' | 'layer' | 'head' | 'query', HTMLElement>;
  private readonly headSelect: Select;
  private readonly queryText: HTMLElement;
  private readonly clsButton: HTMLElement;
  private state: AttentionViewState;
  private map?: ShownMap;
  /** Whether a map was asked for (since the tab was built). */
  private asked = false;
  private busy = false;
  /** A setting changed while the tab was closed (or the model changed): ask again when opened. */
  private stale = true;
  /** The patch under the pointer or the keyboard cursor. */
  private cursor?: { row: number; col: number };

  constructor(private readonly opts: AttentionTabOptions) {
    const info = opts.info;
    this.state = this.validState(opts.state);
    this.tabs = tabStrip('explain-tabs', 'What to show over the image', [
      { id: 'heatmaps', label: 'Heatmaps', controls: 'heatmap-viewer heatmap-methods heatmap-lower', title: 'Saliency maps of the selected methods' },
      { id: 'attention', label: 'Attention', controls: 'attention-viewer attention-controls', title: "The model's attention over the image's patches" },
    ], this.state.open ? 'attention' : 'heatmaps', (t) => this.setOpen(t === 'attention'));
    this.strip = this.tabs.el;

    const canvasEl = h('canvas', { id: 'attention-map', 'aria-hidden': 'true' }) as HTMLCanvasElement;
    this.overlay = new OverlayCanvas(canvasEl);
    this.marks = h('canvas', { id: 'attention-marks', class: 'marks', tabindex: 0, role: 'img', 'aria-label': 'Attention map: waiting for the first map' }) as HTMLCanvasElement;
    this.caption = h('div', { id: 'attention-caption', class: 'caption' }, 'Attention over the image patches.');
    const colorbar = h('div', { class: 'colorbar attention-colorbar', role: 'img', 'aria-label': 'colour scale, low to high' });
    this.viewer = h('figure', { id: 'attention-viewer', class: 'viewer attention-viewer attention-only', role: 'tabpanel', 'aria-labelledby': 'explain-tabs-attention' },
      h('div', { class: 'stack' }, canvasEl, this.marks),
      h('figcaption', {}, this.caption, colorbar, h('div', { class: 'scale' }, h('span', {}, 'low'), h('span', {}, 'high'))));
    this.tooltip = new Tooltip('attention-tip');

    const mode = singleSelect('attention-mode', 'Attention mode', ATTENTION_MODES.map((m) => ({ value: m, ...MODE_LABELS[m] })), this.state.mode);
    const fusion = singleSelect('attention-fusion', 'Head fusion', FUSIONS.map((f) => ({ value: f, label: `${f} of heads` })), this.state.fusion);
    const discard = h('input', { id: 'attention-discard', type: 'range', min: 0, max: 99, step: 1, value: Math.round(this.state.discardRatio * 100), 'aria-label': 'Discard ratio: fraction of the lowest attention weights dropped per layer' }) as HTMLInputElement;
    const discardValue = h('span', { class: 'value' }, this.state.discardRatio.toFixed(2));
    const layer = singleSelect('attention-layer', 'Attention layer', info.layers.map((l, i) => ({ value: l.name, label: l.name, description: `#${i + 1} · ${l.heads} heads` })), this.layerName());
    this.headSelect = h('vscode-single-select', { id: 'attention-head', 'aria-label': 'Head' }) as Select;
    this.queryText = h('span', { id: 'attention-query', class: 'query-text' });
    this.clsButton = h('vscode-button', { id: 'attention-cls', secondary: true, title: info.cls ? "Show the CLS token's attention" : 'Show the mean attention of all tokens' }, info.cls ? 'CLS' : 'Mean row');
    this.fields = {
      fusion: h('label', { class: 'field' }, h('span', {}, 'Heads'), fusion),
      discard: h('label', { class: 'field', title: 'Fraction of the lowest attention weights dropped per layer before the rollout (attention to token 0 is kept)' },
        h('span', {}, 'Discard'), h('div', { class: 'range' }, discard, discardValue)),
      layer: h('label', { class: 'field' }, h('span', {}, 'Layer'), layer),
      head: h('label', { class: 'field' }, h('span', {}, 'Head'), this.headSelect),
      query: h('div', { class: 'field query-field' }, h('span', {}, 'Query'), h('div', { class: 'query-row' }, this.queryText, this.clsButton)),
    };
    this.hint = h('p', { class: 'hint', id: 'attention-hint' });
    this.ring = h('vscode-progress-ring', { id: 'attention-busy', 'aria-label': 'Computing attention', hidden: true });
    this.cancel = h('vscode-button', { id: 'attention-cancel', secondary: true, hidden: true, title: 'Stop computing this attention map' }, 'Cancel');
    this.status = h('span', { id: 'attention-status', class: 'status', role: 'status' });
    this.controls = h('aside', { id: 'attention-controls', class: 'side attention-controls attention-only', role: 'tabpanel', 'aria-labelledby': 'explain-tabs-attention' },
      h('h2', {}, 'Attention'),
      h('label', { class: 'field' }, h('span', {}, 'Mode'), mode),
      this.fields.fusion, this.fields.discard, this.fields.layer, this.fields.head, this.fields.query,
      this.hint,
      h('div', { class: 'status-row' }, this.ring, this.status, this.cancel),
      h('p', { class: 'hint' }, `${info.layers.length} attention layer${info.layers.length === 1 ? '' : 's'} · ${info.grid[0]}×${info.grid[1]} patches${info.cls ? ' + CLS token' : ''}`),
    );
    this.error = h('div', { id: 'attention-error', class: 'error attention-only', role: 'alert', hidden: true });

    this.colorbar = colorbar;
    this.fillHeads();
    this.layout();

    mode.addEventListener('change', () => {
      const v = (mode as Select).value as AttentionMode;
      if (!ATTENTION_MODES.includes(v) || v === this.state.mode) return;
      this.update({ mode: v });
    });
    fusion.addEventListener('change', () => {
      const v = (fusion as Select).value as HeadFusion;
      if (FUSIONS.includes(v) && v !== this.state.fusion) this.update({ fusion: v });
    });
    discard.addEventListener('input', () => { discardValue.textContent = (Number(discard.value) / 100).toFixed(2); });
    discard.addEventListener('change', () => this.update({ discardRatio: Number(discard.value) / 100 }));
    layer.addEventListener('change', () => {
      const v = (layer as Select).value;
      if (v === this.layerName() || !info.layers.some((l) => l.name === v)) return;
      this.state = { ...this.state, layer: v };
      this.fillHeads();
      this.update({});
    });
    this.headSelect.addEventListener('change', () => {
      const v = this.headSelect.value;
      const head: number | HeadFusion = FUSIONS.includes(v as HeadFusion) ? (v as HeadFusion) : Number(v);
      if (head !== this.headValue()) this.update({ head });
    });
    this.clsButton.addEventListener('click', () => {
      if (this.state.query !== undefined) this.update({ query: undefined });
    });
    this.marks.addEventListener('mousemove', (e) => this.pointAt(e));
    this.marks.addEventListener('mouseleave', () => this.setCursor(undefined));
    this.marks.addEventListener('click', (e) => {
      this.pointAt(e);
      this.pickCursor();
    });
    this.marks.addEventListener('keydown', (e) => this.onKey(e));
    this.marks.addEventListener('blur', () => this.setCursor(undefined));
    this.cancel.addEventListener('click', () => {
      const pending = this.opts.requests.latest('attention');
      if (pending) vscode.postMessage({ type: MessageType.Cancel, requestId: pending.id });
    });
    document.body.classList.toggle('attention-open', this.state.open);
    document.body.dataset.attentionOpen = this.state.open ? '1' : '0';
    document.body.dataset.attentionMaps ??= '0';
    if (this.state.open) this.request();
  }

  get isBusy(): boolean {
    return this.busy;
  }

  setImage(img: HTMLImageElement): void {
    this.overlay.setImage(img);
    this.marks.width = this.overlay.canvas.width;
    this.marks.height = this.overlay.canvas.height;
    this.applyMap();
    this.redraw();
  }

  /** Draws the map with the panel's colormap and opacity, and the patch outlines. */
  redraw(): void {
    const { colormap, opacity } = this.opts.display();
    this.overlay.draw(colormap, opacity);
    this.colorbar.style.background = colormapGradient(colormap);
    this.colorbar.setAttribute('aria-label', `${colormap} colour scale, low to high`);
    this.drawMarks();
  }

  /** The panel's target class changed: class-specific maps are recomputed. */
  targetChanged(): void {
    if (this.state.mode !== 'grad-rollout') return;
    this.describeMode();
    this.refresh();
  }

  /** The model changed (a new checkpoint): the map shown is out of date. */
  invalidate(): void {
    this.refresh();
  }

  /** Keeps the body's busy class on while an attention map is computing. */
  syncBusy(): void {
    if (this.busy) document.body.classList.add('busy');
  }

  /** The reply to this tab's latest request (the host answers an attention request with its map, or Failed). */
  private onReply(m: ExplainToWebview): void {
    switch (m.type) {
      case MessageType.AttentionMap:
        this.onMap(m);
        return;
      case MessageType.Failed:
        this.setBusy(false, `${m.cancelled ? 'Cancelled' : 'Failed'}${this.map ? '; the map shown is the previous one' : ''}.`);
        if (!m.cancelled) {
          this.error.textContent = m.message;
          this.error.hidden = false;
        }
        return;
      default:
        return;
    }
  }

  private setOpen(open: boolean): void {
    this.save({ open });
    this.tabs.select(open ? 'attention' : 'heatmaps');
    document.body.classList.toggle('attention-open', open);
    document.body.dataset.attentionOpen = open ? '1' : '0';
    if (open && (this.stale || (!this.map && !this.asked))) this.request();
    if (open) this.redraw();
  }

  private save(patch: Partial<AttentionViewState>): void {
    this.state = { ...this.state, ...patch };
    this.opts.save(this.state);
  }

  /** A control changed: save it and ask for the map again. */
  private update(patch: Partial<AttentionViewState>): void {
    this.save(patch);
    this.layout();
    this.refresh();
  }

  private refresh(): void {
    if (this.state.open) this.request();
    else this.stale = true;
  }

  private request(): void {
    const s = this.state;
    const previous = this.opts.requests.latest('attention');
    if (previous) vscode.postMessage({ type: MessageType.Cancel, requestId: previous.id });
    const requestId = this.opts.requests.start('attention', { onReply: (reply) => this.onReply(reply) }).id;
    this.asked = true;
    this.stale = false;
    const m: AttentionRequestMessage = { type: MessageType.Attention, requestId, mode: s.mode, fusion: s.fusion, discardRatio: s.discardRatio };
    if (s.mode === 'raw') {
      m.layer = this.layerName();
      m.head = this.headValue();
      if (s.query !== undefined) m.query = s.query;
    }
    if (s.mode === 'grad-rollout') {
      const target = this.opts.target();
      if (target !== undefined) m.target = target;
    }
    this.error.hidden = true;
    this.setBusy(true, 'Computing attention…');
    vscode.postMessage(m);
  }

  private setBusy(on: boolean, text: string): void {
    this.busy = on;
    this.ring.hidden = !on;
    this.cancel.hidden = !on;
    this.status.textContent = text;
    document.body.classList.toggle('attention-busy', on);
    document.body.classList.toggle('busy', on || this.opts.explainBusy());
  }

  private onMap(m: AttentionMapMessage): void {
    const data = new Float32Array(m.data);
    if (data.length !== m.height * m.width || m.height < 1 || m.width < 1) {
      this.setBusy(false, 'Failed.');
      this.error.textContent = `The attention map has ${data.length} values, expected ${m.height}×${m.width}.`;
      this.error.hidden = false;
      return;
    }
    this.map = { data, height: m.height, width: m.width, message: m };
    this.applyMap();
    this.redraw();
    const parts = [m.label, fmtMs(m.ms), `${m.height}×${m.width} patches`];
    if (m.target !== undefined) {
      const label = this.opts.classLabel(m.target);
      parts.push(`class ${label ? `${label} (#${m.target})` : `#${m.target}`}`);
    }
    this.caption.textContent = parts.join(' · ');
    this.setBusy(false, `Done in ${fmtMs(m.ms)}.`);
    this.describeMap();
    const d = document.body.dataset;
    d.attentionMaps = String(Number(d.attentionMaps ?? 0) + 1);
    d.attentionMode = m.mode;
  }

  /** Hands the map to the overlay at the canvas' resolution, upsampled nearest-neighbour. */
  private applyMap(): void {
    const c = this.overlay.canvas;
    if (!this.map) {
      this.overlay.setMap(undefined);
      return;
    }
    const { data, height, width } = this.map;
    this.overlay.setMap({ data: upsampleNearest(data, height, width, c.height, c.width), height: c.height, width: c.width });
  }

  /** The map's summary for screen readers: what it shows and its strongest patch. */
  private describeMap(): void {
    const m = this.map;
    if (!m) return;
    let best = 0;
    for (let i = 1; i < m.data.length; i++) if (m.data[i] > m.data[best]) best = i;
    const row = Math.floor(best / m.width);
    const col = best % m.width;
    this.marks.setAttribute('aria-label', `${m.message.label}: ${m.height}×${m.width} patch grid over the image; strongest patch row ${row}, column ${col} (weight ${fmtWeight(m.data[best])}).${this.state.mode === 'raw' ? ' Arrow keys move between patches, Enter makes one the query.' : ' Arrow keys move between patches.'}`);
  }

  private validState(s: AttentionViewState | undefined): AttentionViewState {
    const v = { ...DEFAULT_ATTENTION_STATE, ...s };
    if (!ATTENTION_MODES.includes(v.mode)) v.mode = 'rollout';
    if (!FUSIONS.includes(v.fusion)) v.fusion = 'mean';
    if (!(v.discardRatio >= 0 && v.discardRatio <= 0.99)) v.discardRatio = 0;
    if (v.layer !== undefined && !this.opts.info.layers.some((l) => l.name === v.layer)) v.layer = undefined;
    return v;
  }

  /** The raw mode's layer: the one chosen, else the last. */
  private layerName(): string {
    const layers = this.opts.info.layers;
    return this.state.layer ?? layers[layers.length - 1]?.name ?? '';
  }

  private heads(): number {
    return this.opts.info.layers.find((l) => l.name === this.layerName())?.heads ?? 0;
  }

  private headValue(): number | HeadFusion {
    const head = this.state.head;
    if (typeof head === 'number') return head >= 0 && head < this.heads() ? head : 'mean';
    return head !== undefined && FUSIONS.includes(head) ? head : 'mean';
  }

  /** The head choices of the raw mode's layer: a fusion of all heads, or one head. */
  private fillHeads(): void {
    const value = String(this.headValue());
    const options = [
      ...FUSIONS.map((f) => ({ value: f, label: `${f} of heads` })),
      ...Array.from({ length: this.heads() }, (_, i) => ({ value: String(i), label: `head ${i}` })),
    ];
    this.headSelect.replaceChildren(...options.map((o) => h('vscode-option', { value: o.value, selected: o.value === value }, o.label)));
    this.headSelect.value = value;
  }

  /** Shows the controls the mode uses, and what the map means. */
  private layout(): void {
    const mode = this.state.mode;
    this.fields.fusion.hidden = mode !== 'rollout';
    this.fields.discard.hidden = mode === 'raw';
    this.fields.layer.hidden = mode !== 'raw';
    this.fields.head.hidden = mode !== 'raw';
    this.fields.query.hidden = mode !== 'raw';
    this.marks.classList.toggle('pickable', mode === 'raw');
    this.describeQuery();
    this.describeMode();
    this.drawMarks();
  }

  private describeQuery(): void {
    const q = this.state.query;
    const cls = this.opts.info.cls;
    const patch = this.queryPatch();
    this.queryText.textContent = patch
      ? `patch (${patch.row}, ${patch.col}) · token ${q}`
      : q !== undefined ? `token ${q}` : cls ? 'CLS token' : 'mean of all tokens';
    this.clsButton.toggleAttribute('disabled', q === undefined);
  }

  private describeMode(): void {
    const cls = this.opts.info.cls;
    const from = cls ? "the CLS token's output" : 'the tokens\u2019 outputs (mean)';
    const target = this.opts.target();
    const cl = target === undefined ? 'the top prediction' : (this.opts.classLabel(target) ?? `class #${target}`);
    const text: Record<AttentionMode, string> = {
      rollout: `How much each patch flows into ${from} through every layer, the residual path included (Abnar & Zuidema 2020). Not class-specific.`,
      raw: 'One layer\u2019s attention from the query token over the patches. Click a patch on the image to see where it looks.',
      'grad-rollout': `Rollout with each layer's attention weighted by its gradient for ${cl} (heads averaged). Click a prediction to explain another class.`,
    };
    this.hint.textContent = text[this.state.mode];
  }

  /** The query token's patch (raw mode), when the query is a patch. */
  private queryPatch(): { row: number; col: number } | undefined {
    const q = this.state.query;
    if (q === undefined) return undefined;
    const p = q - (this.opts.info.cls ? 1 : 0);
    const [rows, cols] = this.grid();
    if (p < 0 || p >= rows * cols) return undefined;
    return { row: Math.floor(p / cols), col: p % cols };
  }

  /** The patch grid: the map's, else the model's. */
  private grid(): [number, number] {
    return this.map ? [this.map.height, this.map.width] : this.opts.info.grid;
  }

  private pointAt(e: MouseEvent): void {
    const r = this.marks.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return;
    const [rows, cols] = this.grid();
    const row = Math.min(rows - 1, Math.max(0, Math.floor(((e.clientY - r.top) / r.height) * rows)));
    const col = Math.min(cols - 1, Math.max(0, Math.floor(((e.clientX - r.left) / r.width) * cols)));
    this.setCursor({ row, col }, e.clientX, e.clientY);
  }

  /** Moves the hovered patch, redraws its outline and shows its weight. */
  private setCursor(cursor: { row: number; col: number } | undefined, x?: number, y?: number): void {
    const same = cursor && this.cursor && cursor.row === this.cursor.row && cursor.col === this.cursor.col;
    this.cursor = cursor;
    if (!same) this.drawMarks();
    if (!cursor) {
      this.tooltip.hide();
      return;
    }
    const [rows, cols] = this.grid();
    const p = cursor.row * cols + cursor.col;
    const token = p + (this.opts.info.cls ? 1 : 0);
    const weight = this.map ? this.map.data[p] : undefined;
    const lines: (Node | string)[] = [
      h('strong', {}, `patch (${cursor.row}, ${cursor.col})`), ` of ${rows}×${cols} · token ${token}`,
      h('br'), weight === undefined ? 'no map yet' : `weight ${fmtWeight(weight)}`,
    ];
    if (this.state.mode === 'raw') lines.push(h('br'), h('span', { class: 'muted' }, 'click: show where this patch looks'));
    if (x === undefined || y === undefined) {
      const r = this.marks.getBoundingClientRect();
      x = r.left + ((cursor.col + 1) / cols) * r.width;
      y = r.top + ((cursor.row + 1) / rows) * r.height;
    }
    this.tooltip.showAt(x, y, ...lines);
  }

  /** raw mode: the patch under the cursor becomes the query token. */
  private pickCursor(): void {
    if (this.state.mode !== 'raw' || !this.cursor) return;
    const cols = this.grid()[1];
    const query = this.cursor.row * cols + this.cursor.col + (this.opts.info.cls ? 1 : 0);
    if (query !== this.state.query) this.update({ query });
  }

  private onKey(e: KeyboardEvent): void {
    const [rows, cols] = this.grid();
    const c = this.cursor ?? this.queryPatch() ?? { row: 0, col: 0 };
    const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const mv = moves[e.key];
    if (mv) {
      e.preventDefault();
      const next = this.cursor ? { row: Math.min(rows - 1, Math.max(0, c.row + mv[0])), col: Math.min(cols - 1, Math.max(0, c.col + mv[1])) } : c;
      this.setCursor(next);
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      if (!this.cursor) this.setCursor(c);
      this.pickCursor();
    } else if (e.key === 'Escape') {
      this.setCursor(undefined);
    }
  }

  /** Outlines the query patch (raw mode) and the patch under the cursor. */
  private drawMarks(): void {
    const ctx = this.marks.getContext('2d');
    if (!ctx) return;
    const W = this.marks.width;
    const H = this.marks.height;
    ctx.clearRect(0, 0, W, H);
    const [rows, cols] = this.grid();
    const rect = (p: { row: number; col: number }, inset: number) => {
      const x0 = (p.col * W) / cols + inset;
      const y0 = (p.row * H) / rows + inset;
      ctx.strokeRect(x0, y0, W / cols - 2 * inset, H / rows - 2 * inset);
    };
    const lw = Math.max(2, Math.round(W / 256));
    const q = this.state.mode === 'raw' ? this.queryPatch() : undefined;
    if (q) {
      ctx.setLineDash([]);
      ctx.lineWidth = lw + 2;
      ctx.strokeStyle = 'rgba(0, 0, 0, 0.85)';
      rect(q, lw / 2 + 1);
      ctx.lineWidth = lw;
      ctx.strokeStyle = '#ffffff';
      rect(q, lw / 2 + 1);
    }
    if (this.cursor) {
      ctx.lineWidth = Math.max(1, lw / 2);
      ctx.setLineDash([lw * 2, lw * 2]);
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.9)';
      rect(this.cursor, lw / 2);
      ctx.setLineDash([]);
    }
  }
}

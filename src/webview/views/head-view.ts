/**
 * The head view (after bertviz's): one layer's attention as lines from each query token (left)
 * to each key token (right), one colour per head, line opacity = attention weight, the heads
 * overlaid. Hovering or focusing a token shows only its lines, tints the tokens at the other end
 * by weight, and lists its strongest weights. Lines are drawn on a canvas (long sequences make
 * tens of thousands); the tokens are focusable elements.
 */
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import { h } from './dom';
import { Tooltip } from './tooltip';
import { headColours } from './attention-layers';
import { fmtW, showToken } from '../util/format';
import { topK } from '../util/top-k';
import { weightAt, type LayerGroup, type TokenLayer } from '../util/token-layers';

/** Height of a token row (CSS px) and width of the lines' canvas. */
const ROW = 22;
const LINES_WIDTH = 260;
/** Weights below this would draw with no visible alpha: not drawn (nor counted). */
const MIN_WEIGHT = 1 / 255;
const TOP = 6;

type Select = HTMLElement & { value: string };

/** Which token is hovered or focused: a query (left column) or a key (right). */
interface Focus {
  side: 'query' | 'key';
  index: number;
}

export class HeadView {
  readonly el: HTMLElement;
  /** Lines drawn the last time (for the body's data-attention-lines). */
  lines = 0;

  private groups: LayerGroup[] = [];
  private layer?: TokenLayer;
  private heads: number[] = [];
  private colours: string[] = [];
  private focus?: Focus;
  private readonly select: Select;
  private readonly toggles: HTMLElement;
  private readonly title: HTMLElement;
  private readonly queryHead: HTMLElement;
  private readonly keyHead: HTMLElement;
  private readonly queryCol: HTMLElement;
  private readonly keyCol: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly tooltip: Tooltip;
  private queryEls: HTMLElement[] = [];
  private keyEls: HTMLElement[] = [];

  /** `onChange`: the user picked another layer or other heads. */
  constructor(private readonly onChange: (layer: string, heads: number[]) => void) {
    this.select = h('vscode-single-select', { id: 'head-layer', 'aria-label': 'Layer shown in the head view' }) as Select;
    this.toggles = h('div', { class: 'head-toggles', role: 'group', 'aria-label': 'Heads shown (double-click: this head alone)' });
    this.title = h('div', { class: 'head-title', id: 'head-title' });
    this.queryHead = h('div', { class: 'col-head queries' });
    this.keyHead = h('div', { class: 'col-head keys' });
    this.queryCol = h('div', { class: 'token-col queries', role: 'list', 'aria-label': 'Query tokens' });
    this.keyCol = h('div', { class: 'token-col keys', role: 'list', 'aria-label': 'Key tokens' });
    this.canvas = h('canvas', { id: 'head-lines', class: 'head-lines', role: 'img', 'aria-label': 'Attention lines' }) as HTMLCanvasElement;
    this.tooltip = new Tooltip('head-tip');
    this.el = h('div', { class: 'head-view' },
      h('div', { class: 'head-controls' },
        h('label', { class: 'inline-field' }, h('span', {}, 'Layer'), this.select),
        h('div', { class: 'inline-field' }, h('span', { id: 'head-toggles-label' }, 'Heads'), this.toggles)),
      h('p', { class: 'hint' }, 'Each line joins a query token (left) to a key token (right); its opacity is the attention weight, its colour the head. Hover or focus a token to see only its lines and its strongest weights; click a head to show or hide it, double-click it to see it alone.'),
      this.title,
      h('div', { class: 'head-body' }, this.queryHead, h('span', { 'aria-hidden': 'true' }), this.keyHead, this.queryCol, this.canvas, this.keyCol));
    this.select.addEventListener('change', () => {
      const l = this.findLayer(this.select.value);
      if (!l || l === this.layer) return;
      this.setLayer(l, this.keepHeads(l, this.heads));
      this.changed();
    });
    this.canvas.addEventListener('mouseleave', () => this.setFocus(undefined));
  }

  /** New data: every layer, grouped; shows `layer` (default: the first) with `heads` (default: all). */
  setData(groups: LayerGroup[], layer?: string, heads?: number[]): void {
    this.groups = groups;
    const all = groups.flatMap((g) => g.layers);
    const l = (layer !== undefined ? this.findLayer(layer) : undefined) ?? all[0];
    this.select.replaceChildren(...groups.flatMap((g) => g.layers.map((x) => h('vscode-option', {
      value: x.info.name,
      description: `${g.title} · ${x.info.heads} heads`,
      selected: x === l,
    }, x.info.name))));
    if (!l) {
      this.layer = undefined;
      this.draw();
      return;
    }
    this.setLayer(l, heads ? this.keepHeads(l, heads) : undefined);
  }

  /** Shows a layer with the given heads (from the model view). */
  show(layer: string, heads: number[]): void {
    const l = this.findLayer(layer);
    if (!l) return;
    this.setLayer(l, this.keepHeads(l, heads));
  }

  private findLayer(name: string): TokenLayer | undefined {
    return this.groups.flatMap((g) => g.layers).find((l) => l.info.name === name);
  }

  private keepHeads(l: TokenLayer, heads: number[]): number[] {
    return [...new Set(heads)].filter((x) => Number.isInteger(x) && x >= 0 && x < l.info.heads).sort((a, b) => a - b);
  }

  private changed(): void {
    if (this.layer) this.onChange(this.layer.info.name, this.heads);
  }

  private setLayer(l: TokenLayer, heads: number[] | undefined): void {
    this.layer = l;
    this.heads = heads ?? Array.from({ length: l.info.heads }, (_, i) => i);
    this.colours = headColours(l.info.heads);
    this.focus = undefined;
    this.tooltip.hide();
    this.select.value = l.info.name;
    const group = this.groups.find((g) => g.id === l.group);
    this.title.replaceChildren(
      h('strong', {}, group?.title ?? ''), ` · ${l.info.name} · `,
      h('span', { class: 'muted' }, `${l.info.queryTokens} queries × ${l.info.keyTokens} keys, ${l.info.heads} heads${group ? ` (${group.detail})` : ''}`));
    this.queryHead.textContent = l.info.cross ? `queries · ${l.info.querySide}` : 'queries';
    this.keyHead.textContent = l.info.cross ? `keys · ${l.info.keySide}` : 'keys';
    this.renderToggles();
    this.queryEls = l.queries.map((t, i) => this.tokenEl(t, i, 'query'));
    this.keyEls = l.keys.map((t, i) => this.tokenEl(t, i, 'key'));
    this.queryCol.replaceChildren(...this.queryEls);
    this.keyCol.replaceChildren(...this.keyEls);
    this.draw();
  }

  private renderToggles(): void {
    const l = this.layer;
    if (!l) return;
    const buttons = Array.from({ length: l.info.heads }, (_, i) => {
      const on = this.heads.includes(i);
      const b = h('button', {
        type: 'button', class: 'head-toggle', 'data-head': i, 'aria-pressed': on ? 'true' : 'false',
        title: `Head ${i}: click to ${on ? 'hide' : 'show'} it, double-click to show it alone`,
      }, h('i', { class: 'swatch', 'aria-hidden': 'true' }), String(i));
      b.style.setProperty('--head', this.colours[i]);
      b.addEventListener('click', (e) => {
        if (e.detail > 1) return; // the second click of a double-click
        this.heads = this.heads.includes(i) ? this.heads.filter((x) => x !== i) : [...this.heads, i].sort((a, c) => a - c);
        this.renderToggles();
        this.draw();
        this.changed();
      });
      b.addEventListener('dblclick', () => {
        this.heads = [i];
        this.renderToggles();
        this.draw();
        this.changed();
      });
      return b;
    });
    const all = h('button', { type: 'button', class: 'head-toggle all', title: 'Show every head' }, 'all');
    all.addEventListener('click', () => {
      this.heads = Array.from({ length: l.info.heads }, (_, i) => i);
      this.renderToggles();
      this.draw();
      this.changed();
    });
    this.toggles.replaceChildren(...buttons, all);
  }

  private tokenEl(t: string, i: number, side: 'query' | 'key'): HTMLElement {
    const el = h('span', {
      class: `token ${side}`, role: 'listitem', tabindex: 0, 'data-index': i, title: t,
      'aria-label': `${side} token ${i}: ${t}`, 'aria-describedby': 'head-tip',
    }, showToken(t, 18));
    const on = () => this.setFocus({ side, index: i }, el);
    el.addEventListener('mouseenter', on);
    el.addEventListener('focus', on);
    el.addEventListener('mouseleave', () => this.setFocus(undefined));
    el.addEventListener('blur', () => this.setFocus(undefined));
    return el;
  }

  private setFocus(focus: Focus | undefined, anchor?: HTMLElement): void {
    if (focus?.side === this.focus?.side && focus?.index === this.focus?.index) return;
    this.focus = focus;
    this.draw();
    if (focus && anchor) this.showTooltip(focus, anchor);
    else this.tooltip.hide();
  }

  /** The strongest weights of the focused token: mean over the heads shown, and each head's. */
  private showTooltip(f: Focus, anchor: HTMLElement): void {
    const l = this.layer;
    if (!l) return;
    const heads = this.heads;
    const own = f.side === 'query' ? l.queries[f.index] : l.keys[f.index];
    const others = f.side === 'query' ? l.keys : l.queries;
    const at = (head: number, o: number) => (f.side === 'query' ? weightAt(l, head, f.index, o) : weightAt(l, head, o, f.index));
    if (heads.length === 0) {
      this.tooltip.showBeside(anchor, 'No head shown: pick one above.');
      return;
    }
    const mean = Float64Array.from(others, (_, o) => heads.reduce((s, x) => s + at(x, o), 0) / heads.length);
    const rows = topK(mean, TOP).map(({ index, value }) => h('tr', {},
      h('td', { class: 'tok' }, showToken(others[index], 20)),
      h('td', { class: 'idx' }, `#${index}`),
      h('td', { class: 'num' }, fmtW(value)),
      ...(heads.length > 1 ? heads.map((x) => {
        const cell = h('td', { class: 'num per-head' }, fmtW(at(x, index)));
        cell.style.setProperty('--head', this.colours[x]);
        return cell;
      }) : [])));
    const headRow = h('tr', {},
      h('th', {}, f.side === 'query' ? 'key' : 'query'), h('th', {}, ''), h('th', { class: 'num' }, heads.length > 1 ? 'mean' : `head ${heads[0]}`),
      ...(heads.length > 1 ? heads.map((x) => {
        const cell = h('th', { class: 'num per-head' }, `h${x}`);
        cell.style.setProperty('--head', this.colours[x]);
        return cell;
      }) : []));
    // Beside the whole view (right of the keys), level with the token: the lines stay visible.
    const keys = this.keyCol.getBoundingClientRect();
    const queries = this.queryCol.getBoundingClientRect();
    const a = anchor.getBoundingClientRect();
    this.tooltip.showRightOf(keys.right, a.top + a.height / 2, queries.left,
      h('div', { class: 'tip-title' }, h('strong', {}, showToken(own, 28)), ` (${f.side} #${f.index}) ${f.side === 'query' ? 'attends most to' : 'is attended to most by'}`),
      h('table', { class: 'tip-table' }, h('thead', {}, headRow), h('tbody', {}, ...rows)));
  }

  /** Draws the lines (all, or the focused token's) and tints the tokens at the other end. */
  private draw(): void {
    const l = this.layer;
    const c = this.canvas;
    const rows = l ? Math.max(l.info.queryTokens, l.info.keyTokens) : 0;
    const dpr = window.devicePixelRatio || 1;
    c.style.width = `${LINES_WIDTH}px`;
    c.style.height = `${rows * ROW}px`;
    c.width = Math.round(LINES_WIDTH * dpr);
    c.height = Math.max(1, Math.round(rows * ROW * dpr));
    const ctx = c.getContext('2d');
    this.lines = 0;
    for (const el of [...this.queryEls, ...this.keyEls]) {
      el.style.removeProperty('--tint');
      el.classList.remove('focused');
    }
    if (!l || !ctx) {
      this.describe();
      document.body.dataset.attentionLines = '0';
      return;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, LINES_WIDTH, rows * ROW);
    ctx.lineWidth = 2;
    ctx.lineCap = 'round';
    const x0 = 3;
    const x1 = LINES_WIDTH - 3;
    const y = (i: number) => (i + 0.5) * ROW;
    const f = this.focus;
    const qs = f?.side === 'query' ? [f.index] : range(l.info.queryTokens);
    const ks = f?.side === 'key' ? [f.index] : range(l.info.keyTokens);
    // Each head's lines are shifted a little up or down, so heads joining the same pair show side by side.
    const step = Math.min(3, (ROW * 0.5) / Math.max(1, this.heads.length));
    this.heads.forEach((head, rank) => {
      const dy = (rank - (this.heads.length - 1) / 2) * step;
      ctx.strokeStyle = this.colours[head];
      for (const i of qs) {
        for (const j of ks) {
          const w = weightAt(l, head, i, j);
          if (!(w >= MIN_WEIGHT)) continue;
          ctx.globalAlpha = Math.min(1, w);
          ctx.beginPath();
          ctx.moveTo(x0, y(i) + dy);
          ctx.lineTo(x1, y(j) + dy);
          ctx.stroke();
          this.lines++;
        }
      }
    });
    ctx.globalAlpha = 1;
    if (f) this.tint(l, f);
    this.describe();
    document.body.dataset.attentionLines = String(this.lines);
  }

  /** Tints each token at the other end of the focused one by its strongest weight, in that head's colour. */
  private tint(l: TokenLayer, f: Focus): void {
    (f.side === 'query' ? this.queryEls : this.keyEls)[f.index]?.classList.add('focused');
    const others = f.side === 'query' ? this.keyEls : this.queryEls;
    others.forEach((el, o) => {
      let best = 0;
      let bestHead = -1;
      for (const head of this.heads) {
        const w = f.side === 'query' ? weightAt(l, head, f.index, o) : weightAt(l, head, o, f.index);
        if (w > best) {
          best = w;
          bestHead = head;
        }
      }
      if (bestHead >= 0 && best >= MIN_WEIGHT) el.style.setProperty('--tint', `color-mix(in srgb, ${this.colours[bestHead]} ${Math.round(Math.min(1, best) * 70)}%, transparent)`);
    });
  }

  /** The canvas' label: what is drawn and the strongest links. */
  private describe(): void {
    const l = this.layer;
    if (!l) {
      this.canvas.setAttribute('aria-label', 'No attention to show yet.');
      return;
    }
    const heads = this.heads;
    // The three strongest links, kept sorted while scanning (no array of every link).
    const links: { i: number; j: number; head: number; w: number }[] = [];
    for (const head of heads) {
      for (let i = 0; i < l.info.queryTokens; i++) {
        for (let j = 0; j < l.info.keyTokens; j++) {
          const w = weightAt(l, head, i, j);
          if (links.length === 3 && !(w > links[2].w)) continue;
          links.push({ i, j, head, w });
          links.sort((a, b) => b.w - a.w);
          if (links.length > 3) links.pop();
        }
      }
    }
    const top = links.map((x) => `${l.queries[x.i]} → ${l.keys[x.j]} ${fmtW(x.w)} (head ${x.head})`);
    const who = heads.length === 0 ? 'no heads' : heads.length === 1 ? `head ${heads[0]}` : `heads ${heads.join(', ')}`;
    this.canvas.setAttribute('aria-label', `Attention lines of layer ${l.info.name}, ${who}: ${l.info.queryTokens} query tokens to ${l.info.keyTokens} key tokens, ${this.lines} lines drawn${this.focus ? ` for ${this.focus.side} token ${this.focus.index}` : ''}.${top.length ? ` Strongest: ${top.join('; ')}.` : ''}`);
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * The model view (after bertviz's): every layer (rows) × head (columns) as a small attention
 * matrix, rows = query tokens, columns = key tokens, colour = weight on one fixed 0–1 scale so
 * matrices compare. Hovering a cell names its query, key and weight; clicking a matrix opens
 * that layer and head in the head view.
 */
import { colormapLut } from '../../shared/colormaps';
import { colormapGradient } from '../util/heatmap';
import { h } from './dom';
import { Tooltip } from './tooltip';
import { headColours } from './attention-layers';
import { fmtW, showToken } from '../util/format';
import { weightAt, type LayerGroup, type TokenLayer } from '../util/token-layers';

const COLORMAP = 'viridis';

/** Side (CSS px) of a matrix thumbnail: smaller when there are many heads. */
function thumbSide(heads: number): number {
  return heads <= 6 ? 104 : heads <= 12 ? 72 : 52;
}

export class ModelView {
  readonly el: HTMLElement;
  /** Matrices drawn (for the body's data-attention-cells). */
  cells = 0;
  private readonly body: HTMLElement;
  private readonly tooltip: Tooltip;

  /** `onPick`: a matrix was clicked (open it in the head view). */
  constructor(private readonly onPick: (layer: string, head: number) => void) {
    const bar = h('span', { class: 'colorbar', 'aria-hidden': 'true' });
    bar.style.background = colormapGradient(COLORMAP);
    this.body = h('div', { class: 'model-groups' });
    this.tooltip = new Tooltip('model-tip');
    this.el = h('div', { class: 'model-view' },
      h('p', { class: 'hint' }, 'Every layer and head: rows are query tokens, columns key tokens. Hover a cell for its tokens and weight; click a matrix to open it in the head view.'),
      h('div', { class: 'model-legend' }, h('span', {}, '0'), bar, h('span', {}, '1'), h('span', { class: 'muted' }, 'attention weight (the same scale for every matrix)')),
      this.body);
  }

  setData(groups: LayerGroup[]): void {
    this.cells = 0;
    const lut = colormapLut(COLORMAP);
    this.body.replaceChildren(...groups.map((g) => {
      const heads = Math.max(...g.layers.map((l) => l.info.heads));
      const side = thumbSide(heads);
      const colours = headColours(heads);
      const grid = h('div', { class: 'model-grid', role: 'grid', 'aria-label': `${g.title}: ${g.layers.length} layers × ${heads} heads` });
      grid.style.gridTemplateColumns = `minmax(200px, max-content) repeat(${heads}, ${side + 8}px)`;
      grid.append(h('div', { class: 'row', role: 'row' },
        h('div', { class: 'corner', role: 'columnheader' }, 'layer \\ head'),
        ...Array.from({ length: heads }, (_, i) => {
          const el = h('div', { class: 'head-label', role: 'columnheader' }, h('i', { class: 'swatch', 'aria-hidden': 'true' }), `head ${i}`);
          el.style.setProperty('--head', colours[i]);
          return el;
        })));
      for (const l of g.layers) {
        grid.append(h('div', { class: 'row', role: 'row' },
          h('div', { class: 'layer-label', role: 'rowheader', title: l.info.name },
            h('span', { class: 'name' }, l.info.name), h('small', { class: 'muted' }, `#${l.index} · ${l.info.queryTokens}×${l.info.keyTokens}`)),
          ...Array.from({ length: heads }, (_, head) => (head < l.info.heads ? this.cell(l, head, side, lut) : h('div', { role: 'gridcell' })))));
      }
      return h('section', { class: 'model-group', 'data-group': g.id },
        h('h3', { class: 'group-title' }, g.title, h('span', { class: 'muted' }, ` · ${g.detail}`)), h('div', { class: 'model-scroll' }, grid));
    }));
    document.body.dataset.attentionCells = String(this.cells);
  }

  private cell(l: TokenLayer, head: number, side: number, lut: Uint8Array): HTMLElement {
    const { queryTokens: nq, keyTokens: nk } = l.info;
    const canvas = h('canvas', { class: 'matrix', 'aria-hidden': 'true' }) as HTMLCanvasElement;
    canvas.width = nk;
    canvas.height = nq;
    const scale = side / Math.max(nq, nk);
    canvas.style.width = `${Math.max(1, Math.round(nk * scale))}px`;
    canvas.style.height = `${Math.max(1, Math.round(nq * scale))}px`;
    const ctx = canvas.getContext('2d');
    let best = { i: 0, j: 0, w: -Infinity };
    if (ctx) {
      const img = ctx.createImageData(nk, nq);
      for (let i = 0; i < nq; i++) {
        for (let j = 0; j < nk; j++) {
          const w = weightAt(l, head, i, j);
          if (w > best.w) best = { i, j, w };
          const k = Math.min(255, Math.max(0, Math.floor((Number.isFinite(w) ? w : 0) * 256))) * 3;
          const p = (i * nk + j) * 4;
          img.data[p] = lut[k];
          img.data[p + 1] = lut[k + 1];
          img.data[p + 2] = lut[k + 2];
          img.data[p + 3] = 255;
        }
      }
      ctx.putImageData(img, 0, 0);
    }
    const label = `Layer ${l.info.name}, head ${head}: ${nq} query tokens × ${nk} key tokens; strongest ${l.queries[best.i]} → ${l.keys[best.j]} ${fmtW(best.w)}. Open in the head view.`;
    const button = h('button', { type: 'button', class: 'matrix-cell', role: 'gridcell', 'data-layer': l.info.name, 'data-head': head, 'aria-label': label }, canvas);
    button.style.width = `${side + 8}px`;
    button.style.height = `${Math.max(1, Math.round(nq * scale)) + 8}px`;
    button.addEventListener('click', () => {
      this.tooltip.hide();
      this.onPick(l.info.name, head);
    });
    canvas.addEventListener('mousemove', (e) => {
      const r = canvas.getBoundingClientRect();
      const i = Math.min(nq - 1, Math.max(0, Math.floor(((e.clientY - r.top) / r.height) * nq)));
      const j = Math.min(nk - 1, Math.max(0, Math.floor(((e.clientX - r.left) / r.width) * nk)));
      this.tooltip.showAt(e.clientX, e.clientY,
        h('div', { class: 'tip-title' }, h('strong', {}, `${l.info.name} · head ${head}`)),
        h('div', {}, 'query ', h('strong', {}, showToken(l.queries[i], 28)), ` #${i}`),
        h('div', {}, 'key ', h('strong', {}, showToken(l.keys[j], 28)), ` #${j}`),
        h('div', {}, `weight ${fmtW(weightAt(l, head, i, j))}`));
    });
    canvas.addEventListener('mouseleave', () => this.tooltip.hide());
    button.addEventListener('focus', () => {
      this.tooltip.showBeside(button, h('strong', {}, `${l.info.name} · head ${head}`), h('br'),
        `strongest: ${showToken(l.queries[best.i])} → ${showToken(l.keys[best.j])} ${fmtW(best.w)}`, h('br'), h('span', { class: 'muted' }, 'Enter: open in the head view'));
    });
    button.addEventListener('blur', () => this.tooltip.hide());
    this.cells++;
    return button;
  }
}

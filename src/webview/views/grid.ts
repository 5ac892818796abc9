/**
 * The side-by-side grid: one row per selected method with its heatmap tile, time, notes and
 * faithfulness numbers. Clicking a tile shows that map large. Tiles redraw instantly when the
 * colormap or the opacity changes (the raw maps are kept).
 */
import type { ColormapName } from '../../shared/colormaps';
import type { FaithfulnessInfo, MapMessage } from '../../shared/protocol/explain';
import { OverlayCanvas } from '../render/overlay-canvas';
import { h } from './dom';
import { methodColour } from '../util/colour';
import { fmtAuc, fmtMs } from '../util/format';
import { describeMap } from '../util/map-caption';

interface Row {
  id: string;
  label: string;
  el: HTMLElement;
  tile: HTMLButtonElement;
  canvas: OverlayCanvas;
  detail: HTMLElement;
  ms: HTMLElement;
  deletion: HTMLElement;
  insertion: HTMLElement;
  road: HTMLElement;
  pointing: HTMLElement;
  map?: MapMessage;
}

const HEADERS = [
  ['Map', ''],
  ['Method', ''],
  ['Time', 'Time to compute the map'],
  ['Deletion ↓', 'Area under the target probability as the most salient pixels are removed first (RISE): lower is better'],
  ['Insertion ↑', 'Area under the target probability as the most salient pixels are put back onto a blurred image (RISE): higher is better'],
  ['ROAD ↓ / ↑', 'ROAD with noisy linear imputation: most-relevant-first (lower is better) / least-relevant-first (higher is better)'],
  ['Pointing', "Does the map's peak fall inside the object's box (from boxes.json beside the image)?"],
] as const;

export class MethodGrid {
  readonly el: HTMLElement;
  private rows: Row[] = [];
  private image?: HTMLImageElement;
  private focus?: string;

  constructor(private readonly onFocus: (method: string) => void) {
    this.el = h('div', { id: 'grid', class: 'grid', role: 'table', 'aria-label': 'Maps of the selected methods' });
  }

  setImage(img: HTMLImageElement): void {
    this.image = img;
    for (const r of this.rows) r.canvas.setImage(img);
  }

  /** Lays out one row per method, keeping the maps of methods already shown. */
  setMethods(methods: readonly { id: string; label: string }[]): void {
    const old = new Map(this.rows.map((r) => [r.id, r]));
    this.rows = methods.map((m, i) => old.get(m.id) ?? this.makeRow(m.id, m.label, i));
    this.rows.forEach((r, i) => r.el.style.setProperty('--swatch', methodColour(r.id, i)));
    const head = h('div', { class: 'row head', role: 'row' }, ...HEADERS.map(([t, title]) => h('span', { role: 'columnheader', title }, t)));
    this.el.replaceChildren(head, ...this.rows.map((r) => r.el));
  }

  /** Forgets every map (a new target, layer or checkpoint): rows show as pending. */
  clear(): void {
    for (const r of this.rows) {
      r.map = undefined;
      r.canvas.setMap(undefined);
      r.el.classList.add('pending');
      r.detail.textContent = 'waiting…';
      for (const c of [r.ms, r.deletion, r.insertion, r.road, r.pointing]) c.textContent = '';
    }
  }

  setMap(m: MapMessage, colormap: ColormapName, opacity: number): void {
    const r = this.rows.find((x) => x.id === m.method);
    if (!r) return;
    r.map = m;
    r.el.classList.remove('pending');
    r.canvas.setMap({ data: new Float32Array(m.data), height: m.height, width: m.width, signed: m.signed });
    r.canvas.draw(colormap, opacity);
    r.ms.textContent = fmtMs(m.ms);
    r.detail.textContent = describeMap(m);
    r.el.classList.toggle('degenerate', m.note !== undefined);
  }

  setMetrics(method: string, f: FaithfulnessInfo): void {
    const r = this.rows.find((x) => x.id === method);
    if (!r) return;
    r.deletion.textContent = fmtAuc(f.deletion.auc);
    r.insertion.textContent = fmtAuc(f.insertion.auc);
    r.road.textContent = f.road ? `${fmtAuc(f.road.morf.auc)} / ${fmtAuc(f.road.lerf.auc)}` : '–';
    r.pointing.textContent = f.pointing ? (f.pointing.hit ? 'hit' : 'miss') : '–';
    r.pointing.className = f.pointing ? (f.pointing.hit ? 'hit' : 'miss') : '';
    if (f.pointing) r.pointing.title = `peak at (${f.pointing.peak.x}, ${f.pointing.peak.y}); box ${f.pointing.box.x},${f.pointing.box.y} ${f.pointing.box.w}×${f.pointing.box.h}`;
  }

  setFocus(method: string | undefined): void {
    this.focus = method;
    for (const r of this.rows) {
      const on = r.id === method;
      r.el.classList.toggle('focused', on);
      r.tile.setAttribute('aria-pressed', on ? 'true' : 'false');
    }
  }

  redraw(colormap: ColormapName, opacity: number): void {
    for (const r of this.rows) r.canvas.draw(colormap, opacity);
  }

  /** The rows that have a map, in grid order. */
  shown(): MapMessage[] {
    return this.rows.flatMap((r) => (r.map ? [r.map] : []));
  }

  private makeRow(id: string, label: string, index: number): Row {
    const canvasEl = h('canvas', { class: 'thumb', 'aria-hidden': 'true' });
    const tile = h('button', { class: 'tile', title: `Show ${label} large`, 'aria-label': `Show ${label} large`, 'aria-pressed': 'false' }, canvasEl) as HTMLButtonElement;
    const cell = (cls: string) => h('span', { role: 'cell', class: cls });
    const detail = h('small', { class: 'detail' }, 'waiting…');
    const r: Row = {
      id, label, tile, detail,
      canvas: new OverlayCanvas(canvasEl as HTMLCanvasElement, { minSide: 160, maxSide: 160 }),
      el: h('div', { class: 'row pending', role: 'row', 'data-method': id }),
      ms: cell('ms'), deletion: cell('num deletion'), insertion: cell('num insertion'), road: cell('num road'), pointing: cell('pointing'),
    };
    r.el.append(
      h('span', { role: 'cell' }, tile),
      h('span', { role: 'cell', class: 'method' }, h('span', { class: 'name' }, h('i', { class: 'swatch', 'aria-hidden': 'true' }), label), detail),
      r.ms, r.deletion, r.insertion, r.road, r.pointing,
    );
    r.el.style.setProperty('--swatch', methodColour(id, index));
    tile.addEventListener('click', () => this.onFocus(id));
    if (this.image) r.canvas.setImage(this.image);
    if (this.focus === id) r.el.classList.add('focused');
    return r;
  }
}

/**
 * TCAV bars (Kim et al. 2018), one chart per layer: a bar per concept (and relative pair) with the
 * mean over runs and an error bar of ± one standard deviation, the layer's random-vs-random null
 * as a last bar and as a dashed line with its ± sd band, insignificant bars hatched AND labelled
 * "n.s.", low-accuracy CAVs marked ⚠. When saved results are compared, one dataset per result
 * (the current one first), named by checkpoint and time in the legend.
 */
import type { Plugin, TooltipItem } from 'chart.js';
import { Chart, chartTheme, themeColour } from './chart-theme';
import { h } from './dom';
import { RANDOM_KEY as RANDOM, barTooltipLines, describeTcavLayer, tickLabel, type TcavBar as Bar } from '../util/tcav-text';
import { parseRgb } from '../util/colour';
import type { TcavResult } from '../../shared/tcav';

/** A result drawn as one dataset: `name` is its legend entry. */
export interface TcavSeries {
  name: string;
  result: TcavResult;
}

type Point = { y: number; yMin: number; yMax: number };
type BarChart = Chart<'barWithErrorBars', Point[], string>;

/** Dataset colours: the theme's chart colours, the current result first. */
const COLOURS: [string, string][] = [
  ['--vscode-charts-blue', '#3794ff'],
  ['--vscode-charts-orange', '#d18616'],
  ['--vscode-charts-green', '#89d185'],
  ['--vscode-charts-purple', '#b180d7'],
  ['--vscode-charts-yellow', '#cca700'],
  ['--vscode-charts-red', '#f14c4c'],
];

/** Any CSS colour as [r, g, b] (through a canvas, so theme variables in any syntax work). */
function rgb(colour: string): [number, number, number] {
  const c = document.createElement('canvas').getContext('2d');
  if (!c) return [128, 128, 128];
  c.fillStyle = '#808080';
  c.fillStyle = colour;
  return parseRgb(String(c.fillStyle));
}

function alpha(colour: string, a: number): string {
  const [r, g, b] = rgb(colour);
  return `rgba(${r}, ${g}, ${b}, ${a})`;
}

const hatches = new Map<string, CanvasPattern | string>();
/** Diagonal stripes in `colour` over a faint fill: the "not significant" bar. */
function hatch(colour: string): CanvasPattern | string {
  const cached = hatches.get(colour);
  if (cached) return cached;
  const size = 8;
  const tile = document.createElement('canvas');
  tile.width = size;
  tile.height = size;
  const c = tile.getContext('2d');
  let pattern: CanvasPattern | string = alpha(colour, 0.25);
  if (c) {
    c.fillStyle = alpha(colour, 0.12);
    c.fillRect(0, 0, size, size);
    c.strokeStyle = alpha(colour, 0.75);
    c.lineWidth = 1.5;
    c.beginPath();
    // One stripe corner to corner plus the two halves that make it seamless.
    c.moveTo(0, size);
    c.lineTo(size, 0);
    c.moveTo(-size / 2, size / 2);
    c.lineTo(size / 2, -size / 2);
    c.moveTo(size / 2, size + size / 2);
    c.lineTo(size + size / 2, size / 2);
    c.stroke();
    pattern = c.createPattern(tile, 'repeat') ?? pattern;
  }
  hatches.set(colour, pattern);
  return pattern;
}

export function seriesColour(index: number): string {
  const [name, fallback] = COLOURS[index % COLOURS.length];
  return themeColour(name, fallback);
}

export class TcavCharts {
  readonly el: HTMLElement;
  private charts: BarChart[] = [];

  constructor() {
    this.el = h('div', { class: 'tcav-charts' });
  }

  /**
   * Draws one chart per layer (the current result's layers first, then any only a compared one
   * has). `series[0]` is the current result. Returns the number of the current result's concept
   * bars drawn.
   */
  update(series: readonly TcavSeries[], magnitude: boolean): number {
    for (const c of this.charts) c.destroy();
    this.charts = [];
    const layers: string[] = [];
    for (const s of series) for (const l of s.result.layers) if (!layers.includes(l)) layers.push(l);
    const boxes = layers.map((layer) => {
      const canvas = h('canvas', { role: 'img', 'data-layer': layer }) as HTMLCanvasElement;
      const box = h('div', { class: 'tcav-chart', 'data-layer': layer }, canvas);
      return { layer, canvas, box };
    });
    this.el.classList.toggle('comparing', series.length > 1);
    this.el.replaceChildren(...boxes.map((b) => b.box));
    for (const b of boxes) this.charts.push(this.layerChart(b.canvas, b.layer, series, magnitude));
    const current = series[0]?.result;
    return current ? current.cells.filter((c) => layers.includes(c.layer)).length : 0;
  }

  destroy(): void {
    for (const c of this.charts) c.destroy();
    this.charts = [];
    this.el.replaceChildren();
  }

  private layerChart(canvas: HTMLCanvasElement, layer: string, series: readonly TcavSeries[], magnitude: boolean): BarChart {
    const { fg, grid, font } = chartTheme();
    const muted = themeColour('--vscode-descriptionForeground', '#9d9d9d');
    const warn = themeColour('--vscode-editorWarning-foreground', '#cca700');
    // Concepts first, relative pairs after, in the current result's order; then the null.
    const keys: string[] = [];
    for (const kind of ['concept', 'relative'] as const) {
      for (const s of series) for (const c of s.result.cells) if (c.layer === layer && c.kind === kind && !keys.includes(c.concept)) keys.push(c.concept);
    }
    if (!magnitude) keys.push(RANDOM);
    const bars: Bar[][] = series.map((s) => keys.map((k): Bar => {
      if (k === RANDOM) {
        const baseline = s.result.random.find((x) => x.layer === layer);
        return baseline ? { baseline } : undefined;
      }
      const cell = s.result.cells.find((c) => c.layer === layer && c.concept === k);
      return cell ? { cell } : undefined;
    }));
    const ticks = keys.map((k, i) => tickLabel(k, bars.map((row) => {
      const b = row[i];
      return b && 'cell' in b ? b.cell : undefined;
    })));
    const nullBaseline = magnitude ? undefined : series[0]?.result.random.find((x) => x.layer === layer);

    const datasets = series.map((s, si) => {
      const colour = seriesColour(si);
      const data = bars[si].map((b): Point => {
        if (!b) return { y: NaN, yMin: NaN, yMax: NaN };
        const [m, sd] = 'baseline' in b ? [b.baseline.mean, b.baseline.std] : magnitude ? [b.cell.magnitudeMean, b.cell.magnitudeStd] : [b.cell.mean, b.cell.std];
        return { y: m, yMin: Math.max(0, m - sd), yMax: Math.min(1, m + sd) };
      });
      const fill = bars[si].map((b) => (!b ? colour : 'baseline' in b ? alpha(muted, 0.35) : b.cell.significant ? alpha(colour, 0.85) : hatch(colour)));
      return {
        label: s.name,
        data,
        backgroundColor: fill,
        borderColor: bars[si].map((b) => (b && 'baseline' in b ? alpha(colour, 0.9) : colour)),
        borderWidth: 1.5,
        maxBarThickness: 64,
        errorBarColor: fg,
        errorBarWhiskerColor: fg,
        errorBarLineWidth: 1.5,
        errorBarWhiskerLineWidth: 1.5,
        errorBarWhiskerRatio: 0.35,
      };
    });

    const labelFont = `${font.size - 1}px ${font.family}`;
    const annotate: Plugin<'barWithErrorBars'> = {
      id: 'tcavAnnotations',
      beforeDatasetsDraw: (chart) => {
        if (!nullBaseline) return;
        const { ctx, chartArea: a, scales: { y } } = chart;
        const top = y.getPixelForValue(Math.min(1, nullBaseline.mean + nullBaseline.std));
        const bottom = y.getPixelForValue(Math.max(0, nullBaseline.mean - nullBaseline.std));
        ctx.save();
        ctx.fillStyle = alpha(muted, 0.12);
        ctx.fillRect(a.left, top, a.right - a.left, bottom - top);
        ctx.restore();
      },
      afterDatasetsDraw: (chart) => {
        const { ctx, chartArea: a, scales: { y } } = chart;
        ctx.save();
        if (nullBaseline) {
          const py = y.getPixelForValue(nullBaseline.mean);
          ctx.strokeStyle = muted;
          ctx.lineWidth = 1.5;
          ctx.setLineDash([6, 4]);
          ctx.beginPath();
          ctx.moveTo(a.left, py);
          ctx.lineTo(a.right, py);
          ctx.stroke();
          ctx.setLineDash([]);
        }
        // "n.s." and ⚠ above the error bar of each bar that needs them.
        ctx.font = labelFont;
        ctx.textAlign = 'center';
        ctx.textBaseline = 'bottom';
        series.forEach((_, si) => {
          if (!chart.isDatasetVisible(si)) return;
          const meta = chart.getDatasetMeta(si);
          bars[si].forEach((b, i) => {
            if (!b || !('cell' in b) || (b.cell.significant && !b.cell.lowAccuracy)) return;
            const el = meta.data[i] as unknown as { x: number; y: number; yMax?: number | null };
            if (!el || !Number.isFinite(el.x) || !Number.isFinite(el.y)) return;
            let py = Math.min(el.y, typeof el.yMax === 'number' && Number.isFinite(el.yMax) ? el.yMax : el.y) - 3;
            if (!b.cell.significant) {
              ctx.fillStyle = fg;
              ctx.fillText('n.s.', el.x, py);
              py -= font.size + 1;
            }
            if (b.cell.lowAccuracy) {
              ctx.fillStyle = warn;
              ctx.fillText('⚠', el.x, py);
            }
          });
        });
        ctx.restore();
      },
    };

    const tooltipLines = (item: TooltipItem<'barWithErrorBars'>): string[] =>
      barTooltipLines(bars[item.datasetIndex]?.[item.dataIndex], series[item.datasetIndex].result, magnitude);

    const chart: BarChart = new Chart(canvas, {
      type: 'barWithErrorBars',
      data: { labels: keys, datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        color: fg,
        font,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        plugins: {
          title: { display: true, text: layer, color: fg, font: { ...font, size: 12, weight: 'bold' }, padding: { top: 4, bottom: 30 } },
          legend: {
            display: series.length > 1,
            position: 'bottom',
            labels: {
              color: fg,
              font,
              boxWidth: 12,
              boxHeight: 12,
              generateLabels: (c) => c.data.datasets.map((d, i) => ({
                text: String(d.label ?? ''),
                fillStyle: alpha(seriesColour(i), 0.85),
                strokeStyle: seriesColour(i),
                lineWidth: 1,
                fontColor: fg,
                hidden: !c.isDatasetVisible(i),
                datasetIndex: i,
              })),
            },
          },
          tooltip: {
            callbacks: {
              title: (items) => {
                const k = keys[items[0]?.dataIndex ?? 0];
                return k === RANDOM ? `random vs random @ ${layer}` : `${k} @ ${layer}`;
              },
              // Several results: the result's name, then its numbers; one: the numbers alone.
              label: (item) => (series.length > 1 ? series[item.datasetIndex].name : tooltipLines(item)[0] ?? ''),
              afterLabel: (item) => (series.length > 1 ? tooltipLines(item) : tooltipLines(item).slice(1)),
            },
          },
        },
        scales: {
          x: {
            type: 'category',
            ticks: { color: fg, font, autoSkip: false, maxRotation: 40, callback: (_v, i) => ticks[i] ?? '' },
            grid: { display: false },
          },
          y: {
            type: 'linear',
            min: 0,
            max: 1,
            title: { display: true, text: magnitude ? 'TCAV magnitude (mean ± sd)' : 'TCAV score (mean ± sd)', color: fg, font },
            ticks: { color: fg, font, stepSize: 0.25, callback: (v) => Number(v).toFixed(2) },
            grid: { color: grid },
          },
        },
      },
      plugins: [annotate],
    });
    const current = series[0]?.result;
    if (current) canvas.setAttribute('aria-label', describeTcavLayer(layer, current, magnitude));
    return chart;
  }
}

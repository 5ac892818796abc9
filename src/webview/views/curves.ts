/**
 * Deletion and insertion curves (RISE) of every method in the grid, drawn with Chart.js: the
 * target's probability against the fraction of pixels removed / inserted in saliency order.
 * Colours follow the grid's swatches; axes and text take the theme's colours.
 */
import { Chart, chartTheme } from './chart-theme';
import { h } from './dom';

export interface CurveSeries {
  method: string;
  label: string;
  colour: string;
  deletion: number[];
  insertion: number[];
}

export class CurveCharts {
  readonly el: HTMLElement;
  private readonly charts: Chart<'line', { x: number; y: number }[]>[] = [];

  constructor() {
    const del = h('canvas', { id: 'deletion-chart', role: 'img', 'aria-label': 'Deletion curves' }) as HTMLCanvasElement;
    const ins = h('canvas', { id: 'insertion-chart', role: 'img', 'aria-label': 'Insertion curves' }) as HTMLCanvasElement;
    this.el = h('section', { class: 'curves', hidden: true },
      h('div', { class: 'chart' }, del),
      h('div', { class: 'chart' }, ins));
    this.charts.push(this.make(del, 'Deletion: probability as top pixels are removed (lower is better)', 'fraction of pixels removed'));
    this.charts.push(this.make(ins, 'Insertion: probability as top pixels are restored (higher is better)', 'fraction of pixels inserted'));
  }

  update(series: readonly CurveSeries[]): void {
    this.el.hidden = series.length === 0;
    const pick: ('deletion' | 'insertion')[] = ['deletion', 'insertion'];
    this.charts.forEach((chart, i) => {
      chart.data.datasets = series.map((s) => {
        const ys = s[pick[i]];
        return {
          label: s.label,
          data: ys.map((y, k) => ({ x: k / Math.max(1, ys.length - 1), y })),
          borderColor: s.colour,
          backgroundColor: s.colour,
          borderWidth: s.method === 'random' ? 1.5 : 2,
          borderDash: s.method === 'random' ? [5, 4] : [],
          pointRadius: 0,
          tension: 0,
        };
      });
      chart.update('none');
    });
  }

  private make(canvas: HTMLCanvasElement, title: string, xLabel: string): Chart<'line', { x: number; y: number }[]> {
    const { fg, grid, font } = chartTheme();
    return new Chart(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        color: fg,
        font,
        plugins: {
          title: { display: true, text: title, color: fg, font: { ...font, size: 12, weight: 'normal' } },
          legend: { position: 'bottom', labels: { color: fg, boxWidth: 14, boxHeight: 2, font } },
          tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${(c.parsed.y ?? 0).toFixed(3)} at ${((c.parsed.x ?? 0) * 100).toFixed(0)}%` } },
        },
        scales: {
          x: { type: 'linear', min: 0, max: 1, title: { display: true, text: xLabel, color: fg, font }, ticks: { color: fg, font }, grid: { color: grid } },
          y: { type: 'linear', suggestedMin: 0, suggestedMax: 1, title: { display: true, text: 'target score', color: fg, font }, ticks: { color: fg, font }, grid: { color: grid } },
        },
      },
    });
  }
}

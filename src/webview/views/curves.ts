/**
 * Deletion and insertion curves (RISE) of every method in the grid, drawn with Chart.js: the
 * target's probability against the fraction of pixels removed / inserted in saliency order.
 * Colours follow the grid's swatches; axes and text take the theme's colours.
 */
import { axisStyle, Chart, chartTheme, lineChartOptions } from './chart-theme';
import { h } from './dom';
import { curvePoints, curveTooltipLabel } from '../util/curve-points';

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
          data: curvePoints(ys),
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
    const theme = chartTheme();
    return new Chart(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: lineChartOptions(theme, {
        title,
        tooltip: { callbacks: { label: (c) => curveTooltipLabel(c.dataset.label, c.parsed.x, c.parsed.y) } },
        scales: {
          x: { type: 'linear', min: 0, max: 1, ...axisStyle(theme, xLabel) },
          y: { type: 'linear', suggestedMin: 0, suggestedMax: 1, ...axisStyle(theme, 'target score') },
        },
      }),
    });
  }
}

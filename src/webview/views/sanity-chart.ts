/**
 * Similarity against randomization step, one line per method (the mean over the images, with a
 * band of ± one standard deviation when there are several), and the verdict threshold dashed.
 */
import { axisStyle, Chart, chartTheme, lineChartOptions, themeColour } from './chart-theme';
import type { SanityResult } from '../../shared/sanity';
import { SIMILARITY_LABELS } from '../../shared/sanity';
import { methodColour } from '../util/colour';

type Point = { x: number; y: number };

export class SanityChart {
  private readonly chart: Chart<'line', Point[]>;
  private labels: string[] = [];

  constructor(canvas: HTMLCanvasElement) {
    const theme = chartTheme();
    const x = axisStyle(theme, 'randomized from the logits down to …');
    this.chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: lineChartOptions(theme, {
        legendFilter: (item) => !item.text.startsWith('±'),
        tooltip: { callbacks: { title: (items) => this.labels[items[0]?.parsed.x ?? 0] ?? '', label: (c) => `${c.dataset.label}: ${(c.parsed.y ?? 0).toFixed(3)}` } },
        scales: {
          x: { type: 'linear', min: 0, ...x, ticks: { ...x.ticks, stepSize: 1, autoSkip: false, maxRotation: 60, callback: (v) => this.labels[Number(v)] ?? '' } },
          y: { type: 'linear', suggestedMin: -0.2, suggestedMax: 1, ...axisStyle(theme) },
        },
      }),
    });
  }

  update(result: SanityResult, methodLabels: Map<string, string>): void {
    const metric = result.metric;
    this.labels = result.steps.map((s) => s.layer ?? 'original');
    const last = result.steps.length - 1;
    const datasets: Chart<'line', Point[]>['data']['datasets'] = [];
    const several = result.images.length > 1;
    result.summary.forEach((s, i) => {
      const colour = methodColour(s.method, i);
      const label = methodLabels.get(s.method) ?? s.method;
      const mean = s.mean.map((m, x) => ({ x, y: m[metric] }));
      if (several) {
        // The band: mean + std, then mean − std filled back to it.
        datasets.push({ label: `± ${label} upper`, data: s.mean.map((m, x) => ({ x, y: m[metric] + s.std[x][metric] })), borderWidth: 0, pointRadius: 0, backgroundColor: `${colour}33`, fill: false });
        datasets.push({ label: `± ${label}`, data: s.mean.map((m, x) => ({ x, y: m[metric] - s.std[x][metric] })), borderWidth: 0, pointRadius: 0, backgroundColor: `${colour}33`, fill: '-1' });
      }
      datasets.push({ label: `${label} (${s.verdict})`, data: mean, borderColor: colour, backgroundColor: colour, borderWidth: 2, pointRadius: 3, borderDash: s.verdict === 'fails' ? [6, 3] : [] });
    });
    datasets.push({ label: `threshold ${result.threshold}`, data: [{ x: 0, y: result.threshold }, { x: last, y: result.threshold }], borderColor: themeColour('--vscode-descriptionForeground', '#888'), borderDash: [2, 4], borderWidth: 1, pointRadius: 0 });
    this.chart.data.datasets = datasets;
    const opts = this.chart.options;
    if (opts.scales?.x) opts.scales.x.max = last;
    if (opts.scales?.y?.title) opts.scales.y.title.text = SIMILARITY_LABELS[metric];
    if (opts.plugins?.title) opts.plugins.title.text = `Similarity to the original map, ${result.mode}${several ? ` (mean ± sd, ${result.images.length} images)` : ''}`;
    this.chart.update('none');
  }
}

/**
 * Chart.js set up once for the panels: the line-chart parts the explain and sanity charts use,
 * the bars with error bars of the TCAV chart (chartjs-chart-error-bars, on a category axis), and
 * the colours and font of the current VS Code theme (read from its CSS variables when a chart is
 * made).
 */
import { CategoryScale, Chart, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Title, Tooltip, type ChartOptions, type LegendItem } from 'chart.js';
import { BarWithErrorBar, BarWithErrorBarsController } from 'chartjs-chart-error-bars';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Title, Tooltip, Filler, BarWithErrorBarsController, BarWithErrorBar, CategoryScale);

export { Chart };

export function themeColour(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

export interface ChartTheme { fg: string; grid: string; font: { family: string; size: number } }

/** Text colour, grid colour and font for a chart in the current theme. */
export function chartTheme(): ChartTheme {
  return {
    fg: themeColour('--vscode-foreground', '#888'),
    grid: themeColour('--vscode-widget-border', 'rgba(128,128,128,0.25)'),
    font: { family: themeColour('--vscode-font-family', 'sans-serif'), size: 11 },
  };
}

/**
 * The options of the panels' line charts ({x, y} points, no animation, filling their box), in
 * the theme's colours: a title, a legend below (`legendFilter` hides items), and the plugins and
 * axes a chart adds.
 */
export function lineChartOptions(
  theme: ChartTheme,
  parts: { title?: string; legendFilter?: (item: LegendItem) => boolean; tooltip: NonNullable<NonNullable<ChartOptions<'line'>['plugins']>['tooltip']>; scales: ChartOptions<'line'>['scales'] },
): ChartOptions<'line'> {
  const { fg, font } = theme;
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    parsing: false,
    color: fg,
    font,
    plugins: {
      title: { display: true, text: parts.title, color: fg, font: { ...font, size: 12, weight: 'normal' } },
      legend: { position: 'bottom', labels: { color: fg, boxWidth: 14, boxHeight: 2, font, filter: parts.legendFilter } },
      tooltip: parts.tooltip,
    },
    scales: parts.scales,
  };
}

/** A line chart axis's title, ticks and grid in the theme's colours. */
export function axisStyle(theme: ChartTheme, title?: string) {
  const { fg, grid, font } = theme;
  return { title: { display: true, text: title, color: fg, font }, ticks: { color: fg, font }, grid: { color: grid } };
}

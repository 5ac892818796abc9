/**
 * Chart.js set up once for the panels: the line-chart parts the explain and sanity charts use,
 * the bars with error bars of the TCAV chart (chartjs-chart-error-bars, on a category axis), and
 * the colours and font of the current VS Code theme (read from its CSS variables when a chart is
 * made).
 */
import { CategoryScale, Chart, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Title, Tooltip } from 'chart.js';
import { BarWithErrorBar, BarWithErrorBarsController } from 'chartjs-chart-error-bars';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Title, Tooltip, Filler, BarWithErrorBarsController, BarWithErrorBar, CategoryScale);

export { Chart };

export function themeColour(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** Text colour, grid colour and font for a chart in the current theme. */
export function chartTheme(): { fg: string; grid: string; font: { family: string; size: number } } {
  return {
    fg: themeColour('--vscode-foreground', '#888'),
    grid: themeColour('--vscode-widget-border', 'rgba(128,128,128,0.25)'),
    font: { family: themeColour('--vscode-font-family', 'sans-serif'), size: 11 },
  };
}

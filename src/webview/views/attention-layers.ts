/**
 * The per-head colours the token-attention panel's head and model views share, in the current
 * theme. (The layers' data, ready to draw, is in ../util/token-layers.ts.)
 */
import { headPalette } from '../util/colour';
import { themeColour } from './chart-theme';

/** A categorical colour per head: VS Code's chart colours first (they follow the theme), then fixed ones. */
export function headColours(n: number): string[] {
  return headPalette([
    themeColour('--vscode-charts-blue', '#3794ff'),
    themeColour('--vscode-charts-orange', '#d18616'),
    themeColour('--vscode-charts-green', '#89d185'),
    themeColour('--vscode-charts-red', '#f14c4c'),
    themeColour('--vscode-charts-purple', '#b180d7'),
    themeColour('--vscode-charts-yellow', '#cca700'),
  ], n);
}

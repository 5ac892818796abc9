/** The webview side of the typed protocol, and the panel's persisted state. */
import type { FromPanelMessage } from '../shared/protocol';

interface VsCodeApi {
  postMessage(message: FromPanelMessage): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

export const vscode = acquireVsCodeApi();

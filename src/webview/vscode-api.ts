/** The webview side of the typed protocol, and the panel's persisted state. */
import type { FromPanelMessage, PanelViewState } from '../shared/protocol';

interface VsCodeApi {
  postMessage(message: FromPanelMessage): void;
  getState(): PanelViewState | undefined;
  setState(state: PanelViewState): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

export const vscode = acquireVsCodeApi();

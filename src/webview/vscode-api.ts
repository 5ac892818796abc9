/** The webview side of the typed protocol, and the panel's persisted state. */

/** What a panel's page may do with VS Code: post `ToHost` messages (its own panel's), keep its state. */
export interface VsCodeApi<ToHost> {
  postMessage(message: ToHost): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi<unknown>;

// Acquired once per page (a second call throws): the panels' views share it.
const api = acquireVsCodeApi();

/** The page's VS Code API, typed on the messages its panel's host takes. */
export function vscodeApi<ToHost>(): VsCodeApi<ToHost> {
  return api as VsCodeApi<ToHost>;
}

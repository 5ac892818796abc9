/**
 * The panel's HTML: strict CSP with a nonce, scripts and styles only from the extension. No
 * inline styles either: the UI library (Lit) adopts constructed style sheets, and the panel's
 * own code sets styles through the CSSOM.
 */
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';

/** Which page the shared webview bundle draws. */
export type PanelView = 'explain' | 'sanity' | 'tcav' | 'attention';

export function panelHtml(webview: vscode.Webview, extensionUri: vscode.Uri, title: string, view: PanelView = 'explain'): string {
  const nonce = randomBytes(16).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'panel.css'));
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} blob: data:`,
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>${esc(title)}</title>
</head>
<body data-view="${view}">
<main id="app" aria-busy="true"><p class="placeholder">Loading ${esc(title)}…</p></main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}

/**
 * Sets up a panel's webview: scripts on, resources only from the extension's dist/ and media/,
 * the XAI Lens icon, the title, and the page for `view`.
 */
export function setUpWebviewPanel(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, title: string, view: PanelView): void {
  panel.webview.options = {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
  panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'icon.svg');
  panel.title = title;
  panel.webview.html = panelHtml(panel.webview, extensionUri, title, view);
}

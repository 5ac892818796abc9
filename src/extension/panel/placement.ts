/**
 * Where new panels open: as tabs of one editor group beside the code, as the Markdown preview
 * does. The first panel opens beside the active editor; later ones open in the group of the
 * XAI Lens panel used last, wherever the user has moved it. Panels keep their page while another
 * tab of the group is shown (`retainContextWhenHidden`): a hidden sanity check or TCAV run goes
 * on, and shows its state when its tab comes back, as it did in a column of its own.
 */
import * as vscode from 'vscode';

export class PanelPlacement {
  /** The open panels, the one used last at the end. */
  private readonly used: vscode.WebviewPanel[] = [];
  /**
   * Where a panel just created went, until VS Code says which column it is in: beside the active
   * editor, which is the panel's own group if it took the focus.
   */
  private readonly placed = new WeakMap<vscode.WebviewPanel, vscode.ViewColumn>();

  /** Creates a panel where panels go (see above) and follows it. */
  create(viewType: string, title: string, preserveFocus: boolean): vscode.WebviewPanel {
    const viewColumn = this.column();
    const panel = vscode.window.createWebviewPanel(viewType, title, { viewColumn, preserveFocus }, { retainContextWhenHidden: true });
    this.placed.set(panel, viewColumn > 0 ? viewColumn : preserveFocus && viewColumn === vscode.ViewColumn.Beside ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active);
    this.follow(panel);
    return panel;
  }

  /** Follows a panel (created here, or restored after a reload): when it is used, and until it closes. */
  follow(panel: vscode.WebviewPanel): void {
    this.used.push(panel);
    panel.onDidChangeViewState((e) => {
      if (e.webviewPanel.active) this.touch(panel);
    });
    panel.onDidDispose(() => {
      const i = this.used.indexOf(panel);
      if (i >= 0) this.used.splice(i, 1);
    });
  }

  /** The column for a new panel: that of the panel used last, else beside the active editor. */
  column(): vscode.ViewColumn {
    const last = this.used[this.used.length - 1];
    if (!last) return vscode.ViewColumn.Beside;
    const column = last.viewColumn;
    if (column !== undefined && column > 0) return column;
    return this.placed.get(last) ?? vscode.ViewColumn.Beside;
  }

  private touch(panel: vscode.WebviewPanel): void {
    const i = this.used.indexOf(panel);
    if (i < 0 || i === this.used.length - 1) return;
    this.used.splice(i, 1);
    this.used.push(panel);
  }
}

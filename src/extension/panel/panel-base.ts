/**
 * What the sanity, TCAV and attention panels share: the webview set-up, posting (also to the
 * tests' message hook, keyed by what the panel is about), failure reports, and disposal.
 */
import * as vscode from 'vscode';
import type { FromPanelMessage, ToPanelMessage } from '../../shared/protocol';
import { setUpWebviewPanel, type PanelView } from './html';
import { reportFailure } from './failure';
import type { PanelServices } from './services';

export abstract class PanelBase implements vscode.Disposable {
  protected disposed = false;
  protected readonly disposables: vscode.Disposable[] = [];

  constructor(
    readonly panel: vscode.WebviewPanel,
    protected readonly services: PanelServices,
    view: PanelView,
    title: string,
    private readonly onDispose: (p: PanelBase) => void,
  ) {
    setUpWebviewPanel(panel, services.context.extensionUri, title, view);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: FromPanelMessage) => this.onMessage(m)),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  /** What the panel is about (an image, an experiment, a model): the key of its posted messages. */
  protected abstract get subject(): string;

  /** Handles a message from the webview (also used by tests to act as the webview). */
  abstract onMessage(m: FromPanelMessage): Promise<void>;

  post(message: ToPanelMessage): void {
    if (this.disposed) return;
    void this.panel.webview.postMessage(message);
    this.services.onDidPost({ imagePath: this.subject, message });
  }

  /** Tells the panel (and, for unexpected errors, the user) what went wrong; `what` names the task. */
  protected fail(requestId: number | undefined, err: unknown, what: string): void {
    reportFailure(err, requestId, (m) => this.post(m), (message) => this.services.showError(message), what);
  }

  /** Stops what the panel is computing; called once, on dispose. */
  protected stop(): void {}

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stop();
    this.onDispose(this);
    this.disposables.forEach((d) => d.dispose());
    this.panel.dispose();
  }
}

/**
 * What every panel shares: the webview set-up, posting (also to the tests' message hook, keyed
 * by what the panel is about), failure reports, and disposal. A panel is typed on its own
 * protocol: `ToHost` is what its page may send, `ToWebview` what it may post back.
 */
import * as vscode from 'vscode';
import { setUpWebviewPanel, type PanelView } from './html';
import { reportFailure } from './failure';
import { DeferredProgress } from './deferred-progress';
import type { PendingRequest, PendingRequests } from '../../shared/protocol/requests';
import type { PanelServices, ToHostMessage, ToWebviewMessage } from './services';

export abstract class PanelBase<ToHost extends ToHostMessage = ToHostMessage, ToWebview extends ToWebviewMessage = ToWebviewMessage> implements vscode.Disposable {
  protected disposed = false;
  protected readonly disposables: vscode.Disposable[] = [];

  constructor(
    readonly panel: vscode.WebviewPanel,
    protected readonly services: PanelServices,
    view: PanelView,
    title: string,
  ) {
    setUpWebviewPanel(panel, services.context.extensionUri, title, view);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: ToHost) => this.onMessage(m)),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  /** What the panel is about (an image, an experiment, a model): the key of its posted messages. */
  protected abstract get subject(): string;

  /** Handles a message from the webview (also used by tests to act as the webview). */
  abstract onMessage(m: ToHost): Promise<void>;

  post(message: ToWebview): void {
    if (this.disposed) return;
    void this.panel.webview.postMessage(message);
    this.services.onDidPost({ subject: this.subject, message });
  }

  /**
   * Tells the panel (and, for unexpected errors, the user) what went wrong; `what` names the task.
   * Every panel's protocol has the Failed message.
   */
  protected fail(requestId: number | undefined, err: unknown, what: string): void {
    reportFailure(err, requestId, (m) => this.post(m as ToWebview), (message) => this.services.showError(message), what);
  }

  /**
   * Runs a request with a cancellable notification (`title`) that `body` reports to: a failure
   * of the still-current request goes to the page (and the user) as `what`'s, and the request
   * ends either way.
   */
  protected async runTracked<K extends string>(
    runs: PendingRequests<K>, run: PendingRequest<K>, title: string, what: () => string, body: (progress: DeferredProgress) => Promise<void>,
  ): Promise<void> {
    const progress = new DeferredProgress(title, () => {
      if (run.current) runs.cancel(run.id);
    }, 0);
    try {
      await body(progress);
    } catch (err) {
      if (run.current) this.fail(run.id, err, what());
    } finally {
      progress.done();
      runs.end(run);
    }
  }

  /** Stops what the panel is computing; called once, on dispose. */
  protected stop(): void {}

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.stop();
    this.services.onPanelDisposed(this);
    this.disposables.forEach((d) => d.dispose());
    this.panel.dispose();
  }
}

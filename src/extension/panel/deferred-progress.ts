/**
 * A progress notification with Cancel that appears only when the work is still running after a
 * moment: quick re-explanations (tens of milliseconds) do not flash a notification.
 */
import * as vscode from 'vscode';

export type ProgressStep = { message?: string; increment?: number };

export class DeferredProgress implements vscode.Progress<ProgressStep> {
  private shown?: vscode.Progress<ProgressStep>;
  private last?: ProgressStep;
  private finish?: () => void;
  private finished = false;
  private readonly timer: NodeJS.Timeout;

  constructor(title: string, onCancel: () => void, delayMs = 600) {
    this.timer = setTimeout(() => {
      void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
        token.onCancellationRequested(onCancel);
        this.shown = progress;
        if (this.last) progress.report({ message: this.last.message });
        return new Promise<void>((resolve) => {
          this.finish = resolve;
          if (this.finished) resolve();
        });
      });
    }, delayMs);
  }

  report(step: ProgressStep): void {
    this.last = step;
    this.shown?.report(step);
  }

  done(): void {
    this.finished = true;
    clearTimeout(this.timer);
    this.finish?.();
  }
}

/**
 * The TensorFlow.js backend of this extension host and the status bar item that shows it with
 * the model in use. The backend is initialised on first use and again when the setting changes.
 */
import * as vscode from 'vscode';
import * as path from 'node:path';
import { describeBackend, initBackend, type BackendChoice, type BackendReport } from '../backend/backends';
import { backendSetting } from './settings';
import { COMMANDS } from './ids';

export class BackendController implements vscode.Disposable {
  private report?: BackendReport;
  private initialised?: { choice: BackendChoice; done: Promise<BackendReport> };
  private modelName?: string;
  readonly statusBar: vscode.StatusBarItem;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.statusBar = vscode.window.createStatusBarItem('xaiLens.status', vscode.StatusBarAlignment.Right, 100);
    this.statusBar.name = 'XAI Lens';
    this.statusBar.command = COMMANDS.showStatusMenu;
    this.render();
  }

  /** Folders searched for @tensorflow/tfjs-node(-gpu): the on-demand install, then the workspace. */
  nativeSearchPaths(): string[] {
    return [
      path.join(this.context.globalStorageUri.fsPath, 'native'),
      ...(vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
    ];
  }

  /** The backend for the current setting, initialising it when needed. */
  async ensure(): Promise<BackendReport> {
    const choice = backendSetting();
    if (!this.initialised || this.initialised.choice !== choice) {
      const done = initBackend(choice, { nativeSearchPaths: this.nativeSearchPaths(), wasmDir: path.join(this.context.extensionPath, 'dist') + path.sep });
      this.initialised = { choice, done };
      done.then((r) => {
        this.report = r;
        this.render();
        const wanted = r.attempts.find((a) => a.backend === choice && !a.ok);
        if (wanted) {
          void vscode.window.showWarningMessage(`XAI Lens: the ${choice} backend is not available (${wanted.reason}); using ${r.backend} instead.`);
        }
      }, () => undefined);
    }
    return this.initialised.done;
  }

  /** Forces a fresh initialisation (after installing a native backend). */
  reset(): void {
    this.initialised = undefined;
  }

  get current(): BackendReport | undefined {
    return this.report;
  }

  setModel(name: string | undefined): void {
    this.modelName = name;
    this.render();
  }

  private render(): void {
    const backend = this.report?.backend ?? 'not started';
    this.statusBar.text = `$(eye) ${this.modelName ?? 'XAI Lens'} · ${backend}`;
    const tip = new vscode.MarkdownString();
    tip.appendMarkdown(`**XAI Lens**\n\nModel: ${this.modelName ?? 'none yet'}\n\nBackend: ${this.report ? describeBackend(this.report) : 'starts with the first explanation'}\n\nClick to switch model or backend.`);
    this.statusBar.tooltip = tip;
    this.statusBar.show();
  }

  dispose(): void {
    this.statusBar.dispose();
  }
}

/**
 * The compute pool (worker threads, each with its own TensorFlow.js backend) and the status bar
 * item that shows the backend with the model in use. The pool starts on first use and starts
 * again when the backend or the number of workers changes; this thread never computes.
 */
import * as vscode from 'vscode';
import * as path from 'node:path';
import { describeBackend, type BackendChoice, type BackendReport } from '../backend/backends';
import { nativeSearchPaths } from '../backend/native-search-paths';
import { ComputePool } from '../compute/pool';
import { backendSetting, workersSetting } from '../settings/settings';
import { COMMANDS } from '../settings/ids';

export class BackendController implements vscode.Disposable {
  private report?: BackendReport;
  private initialised?: { choice: BackendChoice; workers: number | undefined; pool: ComputePool; done: Promise<BackendReport> };
  private modelName?: string;
  readonly statusBar: vscode.StatusBarItem;

  private readonly trustListener: vscode.Disposable;

  constructor(private readonly context: vscode.ExtensionContext) {
    // Once the user trusts the workspace, its node_modules may hold the native backend: start afresh.
    this.trustListener = vscode.workspace.onDidGrantWorkspaceTrust(() => {
      const native = (b: string | undefined) => b === 'tensorflow' || b === 'tensorflow-gpu';
      if (this.initialised && !native(this.report?.backend) && (backendSetting() === 'auto' || native(backendSetting()))) this.reset();
    });
    this.statusBar = vscode.window.createStatusBarItem('xaiLens.status', vscode.StatusBarAlignment.Right, 100);
    this.statusBar.name = 'XAI Lens';
    this.statusBar.command = COMMANDS.showStatusMenu;
    this.render();
  }

  /** Folders searched for @tensorflow/tfjs-node(-gpu): the on-demand install, then a trusted workspace. */
  nativeSearchPaths(): string[] {
    const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    return nativeSearchPaths(this.context.globalStorageUri.fsPath, folders, vscode.workspace.isTrusted);
  }

  /** The backend for the current settings, starting the compute pool when needed. */
  async ensure(): Promise<BackendReport> {
    return (await this.start()).done;
  }

  /** The compute pool for the current settings, once its first worker has its backend. */
  async pool(): Promise<ComputePool> {
    const started = await this.start();
    await started.done;
    return started.pool;
  }

  private async start(): Promise<NonNullable<BackendController['initialised']>> {
    const choice = backendSetting();
    const workers = workersSetting();
    if (!this.initialised || this.initialised.choice !== choice || this.initialised.workers !== workers) {
      void this.initialised?.pool.dispose();
      const pool = new ComputePool({
        size: workers, backend: choice, nativeSearchPaths: this.nativeSearchPaths(), wasmDir: path.join(this.context.extensionPath, 'dist') + path.sep,
      });
      const done = pool.ready();
      this.initialised = { choice, workers, pool, done };
      done.then((r) => {
        this.report = r;
        this.render();
        const wanted = r.attempts.find((a) => a.backend === choice && !a.ok);
        if (wanted) {
          void vscode.window.showWarningMessage(`XAI Lens: the ${choice} backend is not available (${wanted.reason}); using ${r.backend} instead.`);
        }
      }, () => undefined);
    }
    return this.initialised;
  }

  /** Forces a fresh start (after installing a native backend). */
  reset(): void {
    void this.initialised?.pool.dispose();
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
    const workers = this.initialised ? `\n\nWorkers: ${this.initialised.pool.size}` : '';
    tip.appendMarkdown(`**XAI Lens**\n\nModel: ${this.modelName ?? 'none yet'}\n\nBackend: ${this.report ? describeBackend(this.report) : 'starts with the first explanation'}${workers}\n\nClick to switch model or backend.`);
    this.statusBar.tooltip = tip;
    this.statusBar.show();
  }

  dispose(): void {
    void this.initialised?.pool.dispose();
    this.trustListener.dispose();
    this.statusBar.dispose();
  }
}

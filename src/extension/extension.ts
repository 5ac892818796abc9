/**
 * XAI Lens: activation registers the commands, the panel serializer, the status bar item and the
 * model watcher. Nothing is computed until an explanation is asked for.
 */
import * as vscode from 'vscode';
import { COMMANDS } from './settings/ids';
import { BackendController } from './commands/backend-status';
import { explainImageCommand } from './commands/explain-image';
import { selectBackendCommand, selectModelCommand, statusMenuCommand } from './commands/select';
import { installGpuBackendCommand } from './commands/install-gpu';
import { sanityCheckCommand } from './commands/sanity';
import { newTcavExperimentCommand, runTcavCommand } from './commands/tcav';
import { showAttentionCommand } from './commands/attention';
import { PanelManager } from './panel/panel-manager';
import type { ExplainPanel } from './panel/explain-panel';
import type { SanityPanel } from './panel/sanity-panel';
import type { TcavPanel } from './panel/tcav-panel';
import type { AttentionPanel } from './panel/attention-panel';
import type { PostedMessage } from './panel/services';
import type { ComputePool } from './compute/pool';

/** What activate() returns: used by the integration tests to watch the panels. */
export interface XaiLensApi {
  readonly onDidPostMessage: vscode.Event<PostedMessage>;
  readonly onDidShowError: vscode.Event<string>;
  panelFor(imagePath: string): ExplainPanel | undefined;
  sanityPanelFor(imagePath: string): SanityPanel | undefined;
  tcavPanelFor(experiment: string): TcavPanel | undefined;
  attentionPanelFor(modelFile: string): AttentionPanel | undefined;
  /** The compute pool (started on first use). */
  computePool(): Promise<ComputePool>;
}

export function activate(context: vscode.ExtensionContext): XaiLensApi {
  const backend = new BackendController(context);
  const panels = new PanelManager(context, backend);
  context.subscriptions.push(
    backend,
    panels,
    vscode.commands.registerCommand(COMMANDS.explainImage, (uri?: vscode.Uri) => explainImageCommand(panels, uri)),
    vscode.commands.registerCommand(COMMANDS.selectModel, (uri?: vscode.Uri) => selectModelCommand(panels, uri)),
    vscode.commands.registerCommand(COMMANDS.selectBackend, () => selectBackendCommand(panels)),
    vscode.commands.registerCommand(COMMANDS.installGpuBackend, () => installGpuBackendCommand(panels)),
    vscode.commands.registerCommand(COMMANDS.showStatusMenu, () => statusMenuCommand()),
    vscode.commands.registerCommand(COMMANDS.runSanityCheck, (uri?: vscode.Uri, selected?: vscode.Uri[]) => sanityCheckCommand(panels, uri, selected)),
    vscode.commands.registerCommand(COMMANDS.newTcavExperiment, (uri?: vscode.Uri) => newTcavExperimentCommand(panels, uri)),
    vscode.commands.registerCommand(COMMANDS.runTcav, (uri?: vscode.Uri) => runTcavCommand(panels, uri)),
    vscode.commands.registerCommand(COMMANDS.showAttention, (uri?: vscode.Uri) => showAttentionCommand(panels, uri)),
  );
  return {
    onDidPostMessage: panels.onDidPostMessage,
    onDidShowError: panels.onDidShowError,
    panelFor: (p) => panels.panelFor(p),
    sanityPanelFor: (p) => panels.sanityPanelFor(p),
    tcavPanelFor: (p) => panels.tcavPanelFor(p),
    attentionPanelFor: (p) => panels.attentionPanelFor(p),
    computePool: () => backend.pool(),
  };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}

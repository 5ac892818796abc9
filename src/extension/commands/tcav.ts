/**
 * XAI Lens: New TCAV Experiment (scaffolds the workspace convention, asking for the class, the
 * layers and the concepts) and XAI Lens: Run TCAV (on an experiment file from the explorer, the
 * editor, or a pick among the workspace's experiments).
 */
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PanelManager } from '../panel/panel-manager';
import type { TcavPanel } from '../panel/tcav-panel';
import { scaffoldExperiment } from '../tcav/scaffold';
import { UserError } from '../../shared/errors';

/** An experiment file: named experiment.json, or a JSON object with "layers" and a "target". */
export function looksLikeExperiment(file: string): boolean {
  if (!file.endsWith('.json') || !fs.existsSync(file)) return false;
  if (path.basename(file) === 'experiment.json') return true;
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    return Array.isArray(j.layers) && j.target !== undefined;
  } catch {
    return false;
  }
}

async function pickExperiment(): Promise<vscode.Uri | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file' && looksLikeExperiment(active.fsPath)) return active;
  const found = (await vscode.workspace.findFiles('**/experiment.json', '**/node_modules/**', 200)).filter((u) => looksLikeExperiment(u.fsPath));
  if (found.length === 1) return found[0];
  if (found.length === 0) {
    const make = 'New TCAV Experiment…';
    const choice = await vscode.window.showInformationMessage('XAI Lens: no TCAV experiment (experiment.json) in the workspace yet.', make);
    if (choice === make) await vscode.commands.executeCommand('xaiLens.newTcavExperiment');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    found.map((u) => ({ label: path.basename(path.dirname(u.fsPath)), description: vscode.workspace.asRelativePath(u), uri: u })),
    { title: 'XAI Lens: Run TCAV', placeHolder: 'Which experiment?' },
  );
  return pick?.uri;
}

export async function runTcavCommand(panels: PanelManager, uri?: vscode.Uri): Promise<TcavPanel | undefined> {
  const file = uri instanceof vscode.Uri && uri.scheme === 'file' && looksLikeExperiment(uri.fsPath) ? uri : await pickExperiment();
  if (!file) return undefined;
  const panel = panels.openTcav(file);
  panel.runWhenReady();
  return panel;
}

function folderOf(uri?: vscode.Uri): vscode.Uri | undefined {
  if (uri instanceof vscode.Uri && uri.scheme === 'file' && fs.existsSync(uri.fsPath)) {
    return fs.statSync(uri.fsPath).isDirectory() ? uri : vscode.Uri.file(path.dirname(uri.fsPath));
  }
  return vscode.workspace.workspaceFolders?.[0]?.uri;
}

export async function newTcavExperimentCommand(panels: PanelManager, uri?: vscode.Uri): Promise<string | undefined> {
  const parent = folderOf(uri);
  if (!parent) {
    void vscode.window.showErrorMessage('XAI Lens: open a folder first; the experiment is created in it.');
    return undefined;
  }
  const title = 'XAI Lens: New TCAV Experiment';
  try {
    const modelFile = await panels.models.resolveModelPath();
    // The model's labels and layers, from a worker's copy of it.
    const m = await panels.models.describe(modelFile);
    const info = {
      labels: m.labels ?? Array.from({ length: m.outputSize }, (_, i) => String(i)),
      layers: m.layers.filter((l) => l.outputShape.length >= 2 && !l.className.toLowerCase().includes('input')).map((l) => ({ name: l.name, detail: `${l.className} ${JSON.stringify(l.outputShape.slice(1))}`, spatial: l.spatial })),
      defaultLayer: m.defaultLayer,
    };
    const target = await vscode.window.showQuickPick(info.labels.map((label, i) => ({ label, description: `class ${i}` })), { title, placeHolder: 'The class whose use of the concepts you want to measure' });
    if (!target) return undefined;
    const spatial = info.layers.filter((l) => l.spatial);
    const preselect = new Set([info.defaultLayer, spatial[Math.floor(spatial.length / 2)]?.name]);
    const layers = await vscode.window.showQuickPick(
      info.layers.map((l) => ({ label: l.name, description: l.detail, picked: preselect.has(l.name) })),
      { title, canPickMany: true, placeHolder: 'Layers at which to train concept activation vectors' },
    );
    if (!layers || layers.length === 0) return undefined;
    const concepts = await vscode.window.showInputBox({ title, prompt: 'Concept names, comma-separated (one folder of example images each)', value: 'striped, dotted' });
    if (!concepts) return undefined;
    const name = await vscode.window.showInputBox({
      title, prompt: `Experiment folder, created in ${vscode.workspace.asRelativePath(parent)}`, value: `tcav-${target.label}`,
      validateInput: (v) => (v.trim() === '' ? 'a folder name' : fs.existsSync(path.join(parent.fsPath, v.trim(), 'experiment.json')) ? 'that folder already holds an experiment' : undefined),
    });
    if (!name) return undefined;
    const file = scaffoldExperiment({
      dir: path.join(parent.fsPath, name.trim()), model: modelFile, target: target.label,
      layers: layers.map((l) => l.label), concepts: concepts.split(',').map((c) => c.trim()).filter((c) => c !== ''),
    });
    await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: false });
    void vscode.window.showInformationMessage(`XAI Lens: experiment created. Put concept examples in concepts/, random images in random/ and images of ${target.label} in class/ (see its README.md), then run TCAV.`);
    return file;
  } catch (err) {
    const message = err instanceof UserError ? err.message : `could not create the experiment: ${(err as Error).message}`;
    panels.showError(message);
    return undefined;
  }
}

/**
 * Which model the workspace explains: `xaiLens.modelPath` when set, the only model file (model.json,
 * .onnx, .keras, .h5) when there is one, else the user picks one (remembered per workspace).
 */
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { modelPathSetting, setModelPathSetting } from '../settings/settings';
import { UserError } from '../../shared/errors';
import { claimingFormat, modelFilesGlob } from '../model/formats/registry';
import { modelDisplayName } from '../model/load';

export async function findModelFiles(): Promise<vscode.Uri[]> {
  const found = await vscode.workspace.findFiles(modelFilesGlob(), '**/{node_modules,.git,.cache,out,dist}/**', 500);
  // The globs are wide (every *.h5 and model.json): keep the files a format claims by their bytes,
  // less Keras' weights-only checkpoints (`*.weights.h5`), which hold no model.
  const models = found.filter((u) => {
    if (/\.weights\.h5$/i.test(u.fsPath)) return false;
    try {
      return claimingFormat(u.fsPath) !== undefined;
    } catch {
      return false;
    }
  });
  return models.sort((a, b) => a.fsPath.localeCompare(b.fsPath));
}

function workspaceRelative(file: string): string {
  return vscode.workspace.asRelativePath(file);
}

function absolute(setting: string): string {
  if (path.isAbsolute(setting)) return setting;
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const p = path.join(folder.uri.fsPath, setting);
    if (fs.existsSync(p)) return p;
  }
  // "folder/sub/model.json" as asRelativePath writes it for multi-root workspaces.
  const [first, ...rest] = setting.split(/[\\/]/);
  const folder = vscode.workspace.workspaceFolders?.find((f) => f.name === first);
  return folder ? path.join(folder.uri.fsPath, ...rest) : setting;
}

/** Lets the user pick among the workspace's models and remembers the choice. */
export async function pickModel(): Promise<string | undefined> {
  const files = await findModelFiles();
  if (files.length === 0) {
    void vscode.window.showWarningMessage('XAI Lens: no model found in this workspace (a TF.js model.json, an ONNX .onnx, a Keras .keras or .h5 file).');
    return undefined;
  }
  const current = modelPathSetting();
  const pick = await vscode.window.showQuickPick(
    files.map((f) => ({
      label: modelDisplayName(f.fsPath),
      description: workspaceRelative(f.fsPath),
      picked: current !== undefined && absolute(current) === f.fsPath,
      file: f.fsPath,
    })),
    { title: 'XAI Lens: Select Model', placeHolder: 'Which model should XAI Lens explain?' },
  );
  if (!pick) return undefined;
  await setModelPathSetting(workspaceRelative(pick.file));
  return pick.file;
}

/** The model file to use, asking the user when it is ambiguous. Throws UserError when there is none. */
export async function resolveModelPath(): Promise<string> {
  const setting = modelPathSetting();
  if (setting !== undefined) {
    const p = absolute(setting);
    if (fs.existsSync(p)) return p;
    void vscode.window.showWarningMessage(`XAI Lens: the model set in xaiLens.modelPath (${setting}) does not exist; pick another.`);
  }
  const files = await findModelFiles();
  if (files.length === 1) return files[0].fsPath;
  if (files.length === 0) throw new UserError('no model found in this workspace: XAI Lens reads TF.js model.json, ONNX .onnx and Keras .keras / .h5 files (set xaiLens.modelPath to one)');
  const picked = await pickModel();
  if (!picked) throw new UserError('no model selected');
  return picked;
}

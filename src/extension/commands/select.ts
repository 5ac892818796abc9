/** XAI Lens: Select Model / Select Backend, and the status bar's menu. */
import * as vscode from 'vscode';
import { pickModel } from './model-choice';
import { BACKEND_CHOICES, type BackendChoice } from '../backend/backends';
import * as path from 'node:path';
import { backendSetting, setBackendSetting, setModelPathSetting } from '../settings/settings';
import { claimingFormat } from '../model/formats/registry';
import { COMMANDS } from '../settings/ids';
import type { PanelManager } from '../panel/panel-manager';
import { MessageType } from '../../shared/protocol/common';

const BACKEND_DESCRIPTIONS: Record<BackendChoice, string> = {
  auto: 'the fastest that loads: GPU, then native CPU, then WebAssembly, then JavaScript',
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu: needs an NVIDIA GPU with CUDA 11.2 and cuDNN 8.1',
  tensorflow: '@tensorflow/tfjs-node: native TensorFlow on the CPU',
  wasm: 'WebAssembly (XNNPACK, SIMD): works everywhere, no install',
  cpu: 'plain JavaScript: slowest, always available',
};

/**
 * Picks the model to explain: the file right-clicked in the explorer (a model.json, .onnx,
 * .keras or .h5), else a choice among the workspace's models. The choice is remembered.
 */
export async function selectModelCommand(panels: PanelManager, uri?: vscode.Uri): Promise<void> {
  let file: string | undefined;
  if (uri instanceof vscode.Uri && uri.scheme === 'file') {
    if (!claimingFormat(uri.fsPath)) {
      void vscode.window.showErrorMessage(`XAI Lens: ${path.basename(uri.fsPath)} is not a model XAI Lens reads (a TF.js model.json, an ONNX .onnx, a Keras .keras or .h5 file).`);
      return;
    }
    file = uri.fsPath;
    await setModelPathSetting(vscode.workspace.asRelativePath(file));
  } else {
    file = await pickModel();
  }
  if (!file) return;
  panels.backend.setModel(vscode.workspace.asRelativePath(file));
  for (const p of panels.openPanels) await p.onMessage({ type: MessageType.Ready });
}

export async function selectBackendCommand(panels: PanelManager): Promise<void> {
  const current = backendSetting();
  const pick = await vscode.window.showQuickPick(
    BACKEND_CHOICES.map((b) => ({ label: b, description: b === current ? '(current)' : '', detail: BACKEND_DESCRIPTIONS[b], backend: b })),
    { title: 'XAI Lens: Select Backend' },
  );
  if (!pick || pick.backend === current) return;
  await setBackendSetting(pick.backend);
  const report = await panels.backend.ensure();
  void vscode.window.showInformationMessage(`XAI Lens: now computing on ${report.backend}.`);
}

export async function statusMenuCommand(): Promise<void> {
  const pick = await vscode.window.showQuickPick(
    [
      { label: '$(file) Select Model', command: COMMANDS.selectModel },
      { label: '$(server-process) Select Backend', command: COMMANDS.selectBackend },
      { label: '$(cloud-download) Install GPU Backend', command: COMMANDS.installGpuBackend },
    ],
    { title: 'XAI Lens' },
  );
  if (pick) await vscode.commands.executeCommand(pick.command);
}

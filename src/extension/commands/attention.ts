/**
 * XAI Lens: Show Attention — for the workspace's Transformer: token models open the token
 * attention panel (head and model views); ViT-like image models open the image's explain panel
 * on its Attention tab (the image from the explorer, the active editor, or a dialog).
 */
import * as vscode from 'vscode';
import type { PanelManager } from '../panel/panel-manager';
import type { AttentionPanel } from '../panel/attention-panel';
import type { ExplainPanel } from '../panel/explain-panel';
import { IMAGE_EXTENSIONS } from '../image/extensions';
import { UserError } from '../../shared/errors';
import { MessageType } from '../../shared/protocol/common';
import { findModelFiles } from './model-choice';
import { setModelPathSetting } from '../settings/settings';
import { mayHaveAttention } from '../attention/attention-cache';
import type { AttentionSummary } from '../compute/jobs/attention';

const isImage = (u: vscode.Uri) => u.scheme === 'file' && IMAGE_EXTENSIONS.includes(u.path.split('.').pop()?.toLowerCase() ?? '');

async function pickImage(uri?: vscode.Uri): Promise<vscode.Uri | undefined> {
  if (uri instanceof vscode.Uri && isImage(uri)) return uri;
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const active = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
  if (active && isImage(active)) return active;
  const picked = await vscode.window.showOpenDialog({
    title: 'XAI Lens: Show Attention — pick an image',
    canSelectMany: false,
    filters: { Images: IMAGE_EXTENSIONS },
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0];
}

/** The workspace model when it has attention, else one the user picks among those that have. */
async function attentionModel(panels: PanelManager): Promise<AttentionSummary | undefined> {
  const file = await panels.models.resolveModelPath();
  const model = await panels.models.attention(file);
  if (model) return model;
  const candidates = (await findModelFiles()).filter((u) => mayHaveAttention(u.fsPath));
  if (candidates.length === 0) {
    throw new UserError(`the model ${vscode.workspace.asRelativePath(file)} has no attention layers (MultiHeadAttention, or Softmax nodes with [batch, heads, q, k] outputs), and no other model in the workspace has`);
  }
  const pick = await vscode.window.showQuickPick(
    candidates.map((u) => ({ label: vscode.workspace.asRelativePath(u).split('/').slice(-2, -1)[0] ?? u.fsPath, description: vscode.workspace.asRelativePath(u), file: u.fsPath })),
    { title: 'XAI Lens: Show Attention', placeHolder: `${vscode.workspace.asRelativePath(file)} has no attention layers: which Transformer?` },
  );
  if (!pick) return undefined;
  const picked = await panels.models.attention(pick.file);
  if (!picked) throw new UserError(`${pick.description} has no attention layers`);
  return picked;
}

export async function showAttentionCommand(panels: PanelManager, uri?: vscode.Uri): Promise<AttentionPanel | ExplainPanel | undefined> {
  try {
    await panels.backend.ensure();
    const model = await attentionModel(panels);
    if (!model) return undefined;
    if (model.kind === 'tokens') return panels.openAttention(model.file);
    const image = await pickImage(uri);
    if (!image) return undefined;
    if (model.file !== (await panels.models.resolveModelPath())) {
      // An image model is explained by the workspace's model: make this one it, as Select Model does.
      await setModelPathSetting(vscode.workspace.asRelativePath(model.file));
      panels.models.useModel(model.file);
      panels.backend.setModel(vscode.workspace.asRelativePath(model.file));
      for (const p of panels.openPanels) if (p.imagePath !== image.fsPath) await p.onMessage({ type: MessageType.Ready });
    }
    return panels.open(image, { attention: true });
  } catch (err) {
    panels.showError(err instanceof UserError ? err.message : `could not show attention: ${(err as Error).message}`);
    return undefined;
  }
}

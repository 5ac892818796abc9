/** XAI Lens: Explain Image — from the explorer, the image preview's title bar, or the palette. */
import * as vscode from 'vscode';
import type { PanelManager } from '../panel/panel-manager';
import type { ExplainPanel } from '../panel/explain-panel';
import { IMAGE_EXTENSIONS } from '../image/extensions';

function activeImage(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
  return uri && IMAGE_EXTENSIONS.includes(uri.path.split('.').pop()?.toLowerCase() ?? '') ? uri : undefined;
}

export async function explainImageCommand(panels: PanelManager, uri?: vscode.Uri): Promise<ExplainPanel | undefined> {
  let image = uri instanceof vscode.Uri ? uri : activeImage();
  if (!image) {
    const picked = await vscode.window.showOpenDialog({
      title: 'XAI Lens: Explain Image',
      canSelectMany: false,
      filters: { Images: IMAGE_EXTENSIONS },
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    image = picked?.[0];
  }
  if (!image) return undefined;
  if (image.scheme !== 'file') {
    void vscode.window.showErrorMessage('XAI Lens: only images on the file system can be explained.');
    return undefined;
  }
  return panels.open(image);
}

/**
 * XAI Lens: Run Sanity Check — on the images selected in the explorer (several: the mean and
 * spread over them), the active image, the explain panel's image, or one picked in a dialog.
 */
import * as vscode from 'vscode';
import type { PanelManager } from '../panel/panel-manager';
import type { SanityPanel } from '../panel/sanity-panel';
import { IMAGE_EXTENSIONS } from '../image/extensions';

const isImage = (u: vscode.Uri) => u.scheme === 'file' && IMAGE_EXTENSIONS.includes(u.path.split('.').pop()?.toLowerCase() ?? '');

export async function sanityCheckCommand(panels: PanelManager, uri?: vscode.Uri, selected?: vscode.Uri[]): Promise<SanityPanel | undefined> {
  let images = (Array.isArray(selected) && selected.length > 0 ? selected : uri instanceof vscode.Uri ? [uri] : []).filter(isImage);
  if (images.length === 0) {
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    const active = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
    if (active && isImage(active)) images = [active];
  }
  if (images.length === 0) {
    const picked = await vscode.window.showOpenDialog({
      title: 'XAI Lens: Run Sanity Check — pick one or more images',
      canSelectMany: true,
      filters: { Images: IMAGE_EXTENSIONS },
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    images = (picked ?? []).filter(isImage);
  }
  if (images.length === 0) return undefined;
  return panels.openSanity(images);
}

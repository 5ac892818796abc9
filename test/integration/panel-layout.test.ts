/**
 * Where the panels open: from a code editor, the explain, sanity, TCAV and attention panels (and
 * a second explain panel, opened while a panel has the focus) become tabs of one editor group
 * beside the code, as the Markdown preview does, not a new column each.
 */
import { describe, it, before } from 'mocha';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { MessageType } from '../../src/shared/protocol/common';
import type { ToWebviewMessage } from '../../src/extension/panel/services';
import type { XaiLensApi } from '../../src/extension/extension';
import { ATTENTION_VIEW_TYPE, PANEL_VIEW_TYPE, SANITY_VIEW_TYPE, TCAV_VIEW_TYPE } from '../../src/extension/settings/ids';
import { collectMessages, finished } from './messages';

const VIEW_TYPES = [PANEL_VIEW_TYPE, SANITY_VIEW_TYPE, TCAV_VIEW_TYPE, ATTENTION_VIEW_TYPE];

/** The XAI Lens panels' tabs (VS Code prefixes an extension's view type in the tab's input). */
function panelTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) =>
    t.input instanceof vscode.TabInputWebview && VIEW_TYPES.some((v) => (t.input as vscode.TabInputWebview).viewType.endsWith(v)));
}

/** Polls until `test` holds (the tab model reaches the extension host a moment after a change). */
async function until(test: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const describeTabs = () => JSON.stringify(vscode.window.tabGroups.all.map((g) => ({ column: g.viewColumn, tabs: g.tabs.map((t) => t.label) })));

describe('panel layout', () => {
  let api: XaiLensApi;
  let root: string;

  before(async () => {
    api = await vscode.extensions.getExtension<XaiLensApi>('xai-lens.xai-lens')!.activate();
    root = vscode.workspace.workspaceFolders![0].uri.fsPath;
  });

  it('opens the explain, sanity, TCAV and attention panels as tabs of one group beside the code editor', async function () {
    this.timeout(300_000);
    const config = vscode.workspace.getConfiguration('xaiLens');
    const modelBefore = config.get<string>('modelPath');
    const collect = (subject: string, until: (m: ToWebviewMessage) => boolean) => collectMessages(api, subject, until, 120_000);
    const [image, image2] = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'images', 'boxes.json'), 'utf8'))).map((n) => path.join(root, 'images', n));
    const experiment = path.join(root, 'tcav', 'experiment.json');
    const tokenModel = path.join(root, 'models', 'token-marker', 'model.json');
    const code = vscode.Uri.file(path.join(root, 'synthetic.ts'));
    try {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await until(() => vscode.window.tabGroups.all.length === 1 && panelTabs().length === 0, 'a window without editors');
      await vscode.window.showTextDocument(code, { viewColumn: vscode.ViewColumn.One, preview: false });

      // Each panel, as a user opens them: the next one once the last has shown something.
      const explained = collect(image, finished);
      await vscode.commands.executeCommand('xaiLens.explainImage', vscode.Uri.file(image));
      await explained;
      // The sanity check has loaded its model once its first map arrives (then the model setting may change).
      const sanityMap = collect(image, (m) => m.type === MessageType.SanityMap || m.type === MessageType.Failed);
      await vscode.commands.executeCommand('xaiLens.runSanityCheck', vscode.Uri.file(image));
      await sanityMap;
      const tcav = collect(experiment, (m) => m.type === MessageType.TcavInit || m.type === MessageType.Failed);
      await vscode.commands.executeCommand('xaiLens.runTcav', vscode.Uri.file(experiment));
      await tcav;
      const attention = collect(tokenModel, (m) => m.type === MessageType.AttentionTokenResult || m.type === MessageType.Failed);
      await config.update('modelPath', 'models/token-marker/model.json', vscode.ConfigurationTarget.Workspace);
      await vscode.commands.executeCommand('xaiLens.showAttention');
      await attention;
      await config.update('modelPath', modelBefore, vscode.ConfigurationTarget.Workspace);
      // The attention panel has the focus: a further explain panel still joins the others.
      const second = collect(image2, (m) => m.type === MessageType.Init || m.type === MessageType.Failed);
      await vscode.commands.executeCommand('xaiLens.explainImage', vscode.Uri.file(image2));
      await second;

      const panels = [api.panelFor(image), api.sanityPanelFor(image), api.tcavPanelFor(experiment), api.attentionPanelFor(tokenModel), api.panelFor(image2)];
      assert.ok(panels.every((p) => p !== undefined), 'all five panels are open');
      await until(() => panelTabs().length === 5, `five panel tabs: ${describeTabs()}`);

      assert.equal(vscode.window.tabGroups.all.length, 2, `two editor groups: ${describeTabs()}`);
      const codeGroup = vscode.window.tabGroups.all.find((g) => g.tabs.some((t) => t.input instanceof vscode.TabInputText && t.input.uri.fsPath === code.fsPath));
      assert.ok(codeGroup, 'the code editor is open');
      const groups = new Set(panelTabs().map((t) => t.group));
      assert.equal(groups.size, 1, `the panels share one group: ${describeTabs()}`);
      const panelGroup = [...groups][0];
      assert.notEqual(panelGroup, codeGroup, 'the panels are not in the code\'s group');
      assert.equal(panelGroup.viewColumn, codeGroup.viewColumn + 1, 'the panels\' group is beside the code\'s');
      assert.equal(codeGroup.tabs.length, 1, 'only the code is in its group');
      await until(() => panels.every((p) => p!.panel.viewColumn === panelGroup.viewColumn), 'the panels to know their column');
    } finally {
      await config.update('modelPath', modelBefore, vscode.ConfigurationTarget.Workspace);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    }
  });
});

// Tests of the test harness itself (scripts/run-vscode-tests.mjs): the suite runs inside a real
// VS Code extension host, with the workspace and the extension under development it was asked
// for. The runner tells the extension host what it asked for through the environment:
//   XAI_TEST_HOST       "code-server" or "desktop"
//   XAI_TEST_WORKSPACE  the folder opened (default: <repo>/demo)
//   XAI_TEST_EXTENSION  the --extensionDevelopmentPath (default: the repository root)
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'mocha';
import * as vscode from 'vscode';

// out/test/integration/harness.test.js → repository root
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const real = (p: string) => fs.realpathSync(path.resolve(p));
const expectedWorkspace = real(process.env.XAI_TEST_WORKSPACE ?? path.join(repoRoot, 'demo'));
const expectedExtension = real(process.env.XAI_TEST_EXTENSION ?? repoRoot);

describe('integration harness', () => {
  it('opened the requested workspace folder', () => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    assert.equal(folders.length, 1, `workspace folders: ${folders.map((f) => f.uri.toString()).join(', ')}`);
    assert.equal(real(folders[0].uri.fsPath), expectedWorkspace);
  });

  it('runs in the extension host it was asked for', () => {
    if (process.env.XAI_TEST_HOST === 'code-server') {
      assert.equal(vscode.env.uiKind, vscode.UIKind.Web);
      assert.ok(vscode.env.remoteName, 'remoteName is set in code-server');
      // code-server's extension host is plain Node (the Node 24 it runs on), not Electron.
      assert.equal(process.versions.electron, undefined);
      assert.ok(Number(process.versions.node.split('.')[0]) >= 22, `Node ${process.versions.node}`);
    } else {
      assert.equal(vscode.env.uiKind, vscode.UIKind.Desktop);
    }
    assert.match(vscode.version, /^\d+\.\d+\.\d+/);
  });

  it('loaded the extension under development', () => {
    const ext = vscode.extensions.all.find((e) => real(e.extensionPath) === expectedExtension);
    assert.ok(ext, `no extension at ${expectedExtension}; extensions: ` +
      vscode.extensions.all.filter((e) => !e.id.startsWith('vscode.')).map((e) => `${e.id} (${e.extensionPath})`).join(', '));
    const manifest = JSON.parse(fs.readFileSync(path.join(expectedExtension, 'package.json'), 'utf8'));
    assert.equal(ext.id.toLowerCase(), `${manifest.publisher}.${manifest.name}`.toLowerCase());
  });

  it('opens a workspace file in an editor', async () => {
    const [uri] = await vscode.workspace.findFiles('**/*.{json,ts,md,txt}', '**/node_modules/**', 1);
    assert.ok(uri, 'the workspace has text files');
    const doc = await vscode.workspace.openTextDocument(uri);
    const editor = await vscode.window.showTextDocument(doc);
    assert.equal(editor.document.uri.toString(), uri.toString());
    assert.equal(vscode.window.activeTextEditor?.document.uri.toString(), uri.toString());
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});

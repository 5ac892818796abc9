/**
 * XAI Lens: Install GPU Backend — installs @tensorflow/tfjs-node-gpu into the extension's global
 * storage with npm, then switches to it. Its install step downloads libtensorflow (GPU build),
 * and loading it needs CUDA 11.2 + cuDNN 8.1: when either fails, the message says which, and the
 * extension keeps computing on the backend it had.
 */
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { setBackendSetting } from '../settings/settings';
import type { PanelManager } from '../panel/panel-manager';

const PACKAGE = '@tensorflow/tfjs-node-gpu@4.22.0';

let output: vscode.OutputChannel | undefined;
function log(): vscode.OutputChannel {
  output ??= vscode.window.createOutputChannel('XAI Lens');
  return output;
}

/** Why an npm install failed, from its output, in one line. */
export function explainInstallFailure(code: number | null, out: string): string {
  if (/ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|getaddrinfo|network/i.test(out)) {
    if (/libtensorflow|install\.js|node-pre-gyp/i.test(out)) {
      return 'the package installed, but its install step could not download libtensorflow (this machine seems to be offline)';
    }
    return 'npm could not reach the package registry (this machine seems to be offline)';
  }
  if (/EACCES|EPERM/.test(out)) return 'npm was not allowed to write to the extension storage folder';
  const last = out.trim().split('\n').filter((l) => /err/i.test(l)).pop();
  return `npm exited with code ${code}${last ? `: ${last.trim()}` : ''}`;
}

function runNpm(args: string[], cwd: string, token: vscode.CancellationToken): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const child = spawn(npm, args, { cwd, env: { ...process.env, npm_config_yes: 'true' } });
    let out = '';
    const take = (b: Buffer) => {
      out += b.toString();
      log().append(b.toString());
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (err) => reject(new Error(`could not run npm (${err.message}); install Node.js and npm, or install ${PACKAGE} into your workspace`)));
    child.on('close', (code) => resolve({ code, out }));
    token.onCancellationRequested(() => child.kill());
  });
}

export async function installGpuBackendCommand(panels: PanelManager): Promise<void> {
  const dir = path.join(panels.context.globalStorageUri.fsPath, 'native');
  fs.mkdirSync(dir, { recursive: true });
  log().appendLine(`Installing ${PACKAGE} into ${dir}`);
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `XAI Lens: installing ${PACKAGE}`, cancellable: true },
    (progress, token) => {
      progress.report({ message: 'npm install (downloads libtensorflow, ~400 MB)…' });
      return runNpm(['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', '--foreground-scripts', PACKAGE], dir, token);
    },
  ).then(
    (r) => r,
    (err: Error) => ({ code: -1, out: err.message }),
  );
  const binding = path.join(dir, 'node_modules', '@tensorflow', 'tfjs-node-gpu', 'lib');
  if (result.code !== 0 || !fs.existsSync(binding)) {
    const why = result.code === -1 ? result.out : explainInstallFailure(result.code, result.out);
    const current = panels.backend.current?.backend ?? 'wasm';
    void vscode.window.showErrorMessage(`XAI Lens: installing the GPU backend failed: ${why}. Still computing on ${current}.`, 'Show Log').then((a) => a && log().show());
    return;
  }
  await setBackendSetting('tensorflow-gpu');
  panels.backend.reset();
  panels.models.forget();
  const report = await panels.backend.ensure();
  if (report.backend === 'tensorflow-gpu') {
    void vscode.window.showInformationMessage('XAI Lens: the GPU backend is installed and in use.');
  }
  // Otherwise BackendController.ensure has already said why it did not load (e.g. missing CUDA).
}

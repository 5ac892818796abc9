/**
 * Live while training: watches the files of the models the panels use and says when one of
 * them has a new checkpoint (after a quiet moment: a training loop writes several files).
 */
import * as vscode from 'vscode';
import * as path from 'node:path';
import { formatOf } from '../model/formats/registry';

/** Quiet time after the last file event before a changed model is reloaded. */
const CHECKPOINT_DEBOUNCE_MS = 1500;

export class CheckpointWatcher implements vscode.Disposable {
  private readonly watchers = new Map<string, vscode.Disposable>();

  constructor(private readonly onCheckpoint: (modelFile: string) => void) {}

  /** Starts watching a model's files (once per model). */
  watch(modelFile: string): void {
    if (this.watchers.has(modelFile)) return;
    let pattern: string;
    try {
      pattern = formatOf(modelFile).watchPattern(modelFile);
    } catch {
      pattern = path.basename(modelFile);
    }
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(modelFile)), pattern));
    let timer: NodeJS.Timeout | undefined;
    const changed = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => this.onCheckpoint(modelFile), CHECKPOINT_DEBOUNCE_MS);
    };
    watcher.onDidChange(changed);
    watcher.onDidCreate(changed);
    this.watchers.set(modelFile, vscode.Disposable.from(watcher, { dispose: () => timer && clearTimeout(timer) }));
  }

  dispose(): void {
    for (const w of this.watchers.values()) w.dispose();
    this.watchers.clear();
  }
}

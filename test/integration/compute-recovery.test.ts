/**
 * A compute worker that dies in the middle of an explanation (killed here, as a crash or a wasm
 * abort would end it) becomes a clear message in the panel, a fresh worker takes its place, and
 * the next request works.
 */
import { describe, it, before } from 'mocha';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { MessageType, type FailedMessage } from '../../src/shared/protocol/common';
import type { ToWebviewMessage } from '../../src/extension/panel/services';
import type { XaiLensApi } from '../../src/extension/extension';
import { collectMessages, finished } from './messages';

describe('compute workers', () => {
  let api: XaiLensApi;
  let root: string;

  before(async () => {
    api = await vscode.extensions.getExtension<XaiLensApi>('xai-lens.xai-lens')!.activate();
    root = vscode.workspace.workspaceFolders![0].uri.fsPath;
  });

  it('a worker killed mid-run becomes a message in the panel, and the next request works', async function () {
    this.timeout(120_000);
    const image = path.join(root, 'images', 'triangle-2.png');
    const first = collectMessages(api, image, finished, 60_000);
    await vscode.commands.executeCommand('xaiLens.explainImage', vscode.Uri.file(image));
    await first;
    const panel = api.panelFor(image)!;
    const pool = await api.computePool();
    const before = pool.replaced;

    // RISE with its 1000 masks runs long enough to be killed once the predictions are out.
    const killed = collectMessages(api, image, (m, all) => finished(m) && all.some((x) => x.type === MessageType.Started && x.requestId === 901), 60_000);
    let kill: Promise<number> | undefined;
    const sub = api.onDidPostMessage((e) => {
      if (e.subject !== image || e.message.type !== MessageType.Predictions || e.message.requestId !== 901 || kill) return;
      const busy = pool.threadIds.findIndex((_, i) => pool.busy(i));
      kill = pool.kill(busy >= 0 ? busy : 0);
    });
    void panel.onMessage({ type: MessageType.Explain, requestId: 901, methods: ['rise'], metrics: false });
    const messages: ToWebviewMessage[] = await killed;
    sub.dispose();
    await kill;
    const failed = messages.find((m): m is FailedMessage => m.type === MessageType.Failed && m.requestId === 901);
    assert.ok(failed, `the run failed: ${messages.map((m) => m.type).join(', ')}`);
    assert.match(failed.message, /compute worker stopped while running explain .*a fresh worker has taken its place/);
    assert.equal(failed.cancelled, false);
    assert.equal(pool.replaced, before + 1, 'one worker was replaced');

    const again = collectMessages(api, image, (m, all) => finished(m) && all.some((x) => x.type === MessageType.Started && x.requestId === 902), 60_000);
    void panel.onMessage({ type: MessageType.Explain, requestId: 902, methods: ['gradcam'], metrics: false });
    const next = await again;
    assert.ok(next.some((m) => m.type === MessageType.Done && m.requestId === 902), `the next request finished: ${next.map((m) => m.type).join(', ')}`);
    assert.ok(next.some((m) => m.type === MessageType.Map && m.requestId === 902 && m.method === 'gradcam'));
    panel.dispose();
  });
});

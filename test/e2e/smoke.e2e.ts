// Smoke test of the e2e helpers (test/e2e/workbench.ts): starts code-server on demo/ (with a
// .vsix installed when one is given), opens the workbench in Chromium, opens a file from the
// explorer, runs a harmless command from the palette and checks its effect, optionally picks an
// explorer context-menu item, and saves screenshots in test-artifacts/.
//
//   npx tsc -p tsconfig.test.json && node out/test/e2e/smoke.e2e.js \
//     [--vsix xai-lens.vsix] [--file README.md] [--context-item <title> [--expect <toast text>]]
//
// Prints "N passed, N failed" last; exits non-zero on failure.
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import {
  ensureVsCodeEnv, explorerContextMenu, launchChromium, openFileFromExplorer, openWorkbench,
  relayExtensionHostConsole, repoPath, runCommand, screenshot, startCodeServer, waitForNotification,
} from './workbench';

async function main(): Promise<number> {
  const { values: opts } = parseArgs({
    options: {
      vsix: { type: 'string' },
      workspace: { type: 'string', default: repoPath('demo') },
      file: { type: 'string' },
      'context-item': { type: 'string' },
      expect: { type: 'string' },
    },
  });
  const t0 = Date.now();
  const step = (msg: string) => console.log(`[smoke ${((Date.now() - t0) / 1000).toFixed(1)} s] ${msg}`);
  const workspace = opts.workspace as string;
  // README.md when demo/ has one, else its first file.
  const file = opts.file ?? (fs.existsSync(`${workspace}/README.md`) ? 'README.md'
    : fs.readdirSync(workspace, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort()[0]);
  if (!file) throw new Error(`no file in ${workspace}`);

  const env = await ensureVsCodeEnv();
  step(`starting code-server on ${workspace}${opts.vsix ? ` with ${opts.vsix}` : ''}`);
  const server = await startCodeServer({ workspace, vsix: opts.vsix });
  const browser = await launchChromium(env.chromium);
  const { page } = browser;
  relayExtensionHostConsole(page, (line) => console.log(`[extension host] ${line}`));
  let passed = 0;
  try {
    step(`opening ${server.url}`);
    await openWorkbench(page, server.url);
    step('workbench up');
    passed++;

    await openFileFromExplorer(page, file);
    await page.locator('.editor-instance .monaco-editor .view-lines').first().waitFor();
    step(`opened ${file} from the explorer`);
    passed++;

    // A harmless command with a visible effect: the editor's minimap goes away.
    const minimap = page.locator('.editor-instance .monaco-editor .minimap').first();
    const before = await minimap.isVisible();
    await runCommand(page, 'View: Toggle Minimap');
    await minimap.waitFor({ state: before ? 'hidden' : 'visible', timeout: 10_000 });
    await runCommand(page, 'View: Toggle Word Wrap');
    step(`ran "View: Toggle Minimap" (minimap ${before ? 'hidden' : 'shown'}) and "View: Toggle Word Wrap"`);
    passed++;

    if (opts['context-item']) {
      await explorerContextMenu(page, file, opts['context-item']);
      if (opts.expect) await waitForNotification(page, opts.expect);
      step(`explorer context menu "${opts['context-item']}" on ${file}${opts.expect ? ` showed "${opts.expect}"` : ''}`);
      passed++;
    }

    step(`screenshot ${await screenshot(page, 'smoke-workbench')}`);
    console.log(`${passed} passed, 0 failed`);
    return 0;
  } catch (err) {
    console.error(err);
    await screenshot(page, 'smoke-failure').then((f) => console.error(`screenshot of the failure: ${f}`), () => {});
    console.error('last lines of code-server:\n' + server.logs.slice(-15).join('\n'));
    console.log(`${passed} passed, 1 failed`);
    return 1;
  } finally {
    await browser.close();
    await server.stop();
    step('stopped');
  }
}

main().then((code) => { process.exitCode = code; }, (err) => {
  console.error(err);
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
});

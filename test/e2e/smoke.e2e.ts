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
  explorerContextMenu, openFileFromExplorer, openWorkbench, repoPath, runCommand, runE2e, screenshot, waitForNotification,
} from './workbench';

const { values: opts } = parseArgs({
  options: {
    vsix: { type: 'string' },
    workspace: { type: 'string', default: repoPath('demo') },
    file: { type: 'string' },
    'context-item': { type: 'string' },
    expect: { type: 'string' },
  },
});
const workspace = opts.workspace as string;
// README.md when the workspace has one, else its first file.
const file = opts.file ?? (fs.existsSync(`${workspace}/README.md`) ? 'README.md'
  : fs.readdirSync(workspace, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort()[0]);

runE2e('smoke', { workspace, vsix: opts.vsix }, async ({ page, server, step, check }) => {
  if (!file) throw new Error(`no file in ${workspace}`);
  step(`opening ${server.url}`);
  await openWorkbench(page, server.url);
  check(true, 'workbench up');

  await openFileFromExplorer(page, file);
  await page.locator('.editor-instance .monaco-editor .view-lines').first().waitFor();
  check(true, `opened ${file} from the explorer`);

  // A harmless command with a visible effect: the editor's minimap goes away.
  const minimap = page.locator('.editor-instance .monaco-editor .minimap').first();
  const before = await minimap.isVisible();
  await runCommand(page, 'View: Toggle Minimap');
  await minimap.waitFor({ state: before ? 'hidden' : 'visible', timeout: 10_000 });
  await runCommand(page, 'View: Toggle Word Wrap');
  check(true, `ran "View: Toggle Minimap" (minimap ${before ? 'hidden' : 'shown'}) and "View: Toggle Word Wrap"`);

  if (opts['context-item']) {
    await explorerContextMenu(page, file, opts['context-item']);
    if (opts.expect) await waitForNotification(page, opts.expect);
    check(true, `explorer context menu "${opts['context-item']}" on ${file}${opts.expect ? ` showed "${opts.expect}"` : ''}`);
  }
  step(`screenshot ${await screenshot(page, 'smoke-workbench')}`);
});

// Entry point of the integration tests: VS Code's extension host calls run() (the
// `extensionTestsPath` of @vscode/test-electron, or of scripts/run-vscode-tests.mjs with
// code-server). It runs every compiled `*.test.js` under this folder with mocha (BDD:
// `import { describe, it } from 'mocha'`), prints the counts on a line
//   MOCHA-RESULT {"passed":N,"failed":N,"pending":N}
// that the runner parses, and rejects when a test failed (or none ran).
//
// The runner passes options through the environment, which reaches the extension host:
//   XAI_TEST_GREP        only tests whose full title matches this regular expression
//   XAI_TEST_TIMEOUT_MS  per-test timeout (default 60 000)
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

function testFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(p);
    return entry.name.endsWith('.test.js') ? [p] : [];
  }).sort();
}

export function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'bdd',
    reporter: 'spec',
    color: false,
    timeout: Number(process.env.XAI_TEST_TIMEOUT_MS ?? 60_000),
  });
  if (process.env.XAI_TEST_GREP) mocha.grep(new RegExp(process.env.XAI_TEST_GREP));
  const files = testFiles(__dirname);
  for (const f of files) mocha.addFile(f);

  return new Promise<void>((resolve, reject) => {
    const report = (passed: number, failed: number, pending: number) =>
      console.log(`MOCHA-RESULT ${JSON.stringify({ passed, failed, pending })}`);
    if (files.length === 0) {
      report(0, 1, 0);
      reject(new Error(`no *.test.js files under ${__dirname}`));
      return;
    }
    try {
      const runner = mocha.run((failures) => {
        const stats = runner.stats;
        const passed = stats?.passes ?? 0;
        const failed = Math.max(stats?.failures ?? 0, failures);
        report(passed, failed, stats?.pending ?? 0);
        if (failed > 0) reject(new Error(`${failed} integration test(s) failed`));
        else if (passed === 0) reject(new Error('no integration test ran'));
        else resolve();
      });
    } catch (err) {
      // A test file that throws while loading.
      console.error(err);
      report(0, 1, 0);
      reject(err);
    }
  });
}

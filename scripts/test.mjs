// `npm test`: sets up what the tests need on a fresh machine, then runs every check.
//   1. npm ci when node_modules is missing or older than package-lock.json
//   2. build (esbuild), type-check (tsc --noEmit), lint (eslint)
//   3. the .vsix files, one per platform (scripts/package.mjs; not with --unit)
//   4. unit tests (Node's built-in runner, plain Node: no VS Code; test/unit/packaging/ checks the
//      .vsix files and installs the CLI's npm package into a temporary folder)
//   5. the VS Code environment (Debian's chromium, Node 24 and code-server, cached in .cache/),
//      the integration tests inside VS Code, and the browser e2e test (on xai-lens.vsix)
// Ends with one line "N passed, N failed"; exits non-zero when anything failed.
// `npm test -- --unit` stops after the unit tests.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDependencies } from './deps.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

function run(title, cmd, args, opts = {}) {
  console.log(`\n▶ ${title}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`✗ ${title} failed (exit ${r.status ?? r.signal})`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

if (!ensureDependencies()) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
run('build', 'node', ['scripts/build.mjs']);
run('type-check (host, tests)', 'npx', ['tsc', '--noEmit', '-p', '.']);
run('type-check (webview)', 'npx', ['tsc', '--noEmit', '-p', 'tsconfig.webview.json']);
run('lint', 'npx', ['eslint', '.']);
run('compile tests', 'npx', ['tsc', '-p', 'tsconfig.test.json']);
// The .vsix files (one per platform, and xai-lens.vsix for this machine) before the unit tests,
// whose test/unit/packaging/ checks open them; `--unit` skips this, and those checks say so.
if (!process.argv.includes('--unit')) {
  run('package the extension (a .vsix per platform; Node 24 is installed the first time)', 'node', ['scripts/package.mjs', '--no-build']);
}

mkdirSync('test-artifacts', { recursive: true });
console.log('\n▶ unit tests');
const tap = join('test-artifacts', 'unit.tap');
const unit = spawnSync('node', ['scripts/run-unit-tests.mjs', '--no-build', '--tap', tap], { stdio: 'inherit' });
const summary = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(summary)?.[1] ?? 0);
let passed = count('pass');
let failed = count('fail') + (unit.status !== 0 && count('fail') === 0 ? 1 : 0);

/** Runs a suite that ends with a line "N passed, N failed" and adds its counts. */
function suite(title, cmd, args) {
  console.log(`\n▶ ${title}`);
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  process.stdout.write(r.stdout ?? '');
  const m = [...(r.stdout ?? '').matchAll(/^(\d+) passed, (\d+) failed/gm)].pop();
  const p = m ? Number(m[1]) : 0;
  const f = m ? Number(m[2]) : 1;
  passed += p;
  failed += f + (r.status !== 0 && f === 0 ? 1 : 0);
}

if (!process.argv.includes('--unit')) {
  run('VS Code environment (chromium, Node 24, code-server; the first run takes a few minutes)', 'node', ['scripts/vscode-setup.mjs']);
  // The tests rewrite model files: they run on a scratch copy of demo/.
  const ws = join('test-artifacts', 'workspace');
  rmSync(ws, { recursive: true, force: true });
  cpSync('demo', ws, { recursive: true });
  suite('integration tests inside VS Code (code-server)', 'node', ['scripts/run-vscode-tests.mjs', '--workspace', ws]);
  suite('browser e2e: right-click → Explain Image (code-server + chromium)', 'node', ['out/test/e2e/explain.e2e.js', '--vsix', 'xai-lens.vsix']);
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);

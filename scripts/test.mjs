// `npm test`: sets up what the tests need on a fresh machine, then runs every check.
//   1. npm ci when node_modules is missing or older than package-lock.json
//   2. build (esbuild), type-check (tsc --noEmit), lint (eslint)
//   3. unit tests (Node's built-in runner, plain Node: no VS Code)
// Ends with one line "N passed, N failed"; exits non-zero when anything failed.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

function ensureDependencies() {
  const lock = readFileSync('package-lock.json');
  const hash = createHash('sha256').update(lock).digest('hex');
  const stamp = join('node_modules', '.xai-lens-lock-hash');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return;
  run('npm ci (dependencies changed or missing)', 'npm', ['ci', '--no-audit', '--no-fund']);
  writeFileSync(stamp, hash);
}

ensureDependencies();
run('build', 'node', ['scripts/build.mjs']);
run('type-check (host, tests)', 'npx', ['tsc', '--noEmit', '-p', '.']);
run('type-check (webview)', 'npx', ['tsc', '--noEmit', '-p', 'tsconfig.webview.json']);
run('lint', 'npx', ['eslint', '.']);
run('compile tests', 'npx', ['tsc', '-p', 'tsconfig.test.json']);

mkdirSync('test-artifacts', { recursive: true });
console.log('\n▶ unit tests');
const tap = join('test-artifacts', 'unit.tap');
const unit = spawnSync('node', ['scripts/run-unit-tests.mjs', '--tap', tap], { stdio: 'inherit' });
const summary = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(summary)?.[1] ?? 0);
const passed = count('pass');
const failed = count('fail') + (unit.status !== 0 && count('fail') === 0 ? 1 : 0);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);

// Runs the compiled unit tests (out/test/unit/**/*.test.js) with Node's built-in test runner.
// Arguments narrow the run to files whose path contains one of them; `--tap <file>` also writes
// a TAP report there (read by scripts/test.mjs for its summary line).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

const args = process.argv.slice(2);
const tapAt = args.indexOf('--tap');
const tap = tapAt >= 0 ? args.splice(tapAt, 2)[1] : undefined;
const files = walk('out/test/unit')
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => args.length === 0 || args.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no unit test files found under out/test/unit (run npx tsc -p tsconfig.test.json first)');
  process.exit(1);
}
const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout'];
if (tap) reporters.push('--test-reporter=tap', `--test-reporter-destination=${tap}`);
const r = spawnSync(process.execPath, ['--test', ...reporters, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);

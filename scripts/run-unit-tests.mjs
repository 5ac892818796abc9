// `npm run test:unit [-- filters]`: builds the bundles (the CLI tests run dist/cli.js), compiles
// the tests into out/, then runs the unit tests (out/test/unit/**/*.test.js whose test/unit/**/*.ts
// source still exists, so a deleted or moved test leaves nothing stale behind) with Node's
// built-in test runner.
// Arguments narrow the run to files whose path contains one of them; `--tap <file>` also writes
// a TAP report there (read by scripts/test.mjs for its summary line); `--no-build` skips the
// build and the compile (scripts/test.mjs has done both).
import { existsSync, readdirSync, statSync } from 'node:fs';
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
const noBuildAt = args.indexOf('--no-build');
if (noBuildAt >= 0) args.splice(noBuildAt, 1);
else {
  for (const [what, cmd] of [['build', ['scripts/build.mjs']], ['compile tests', ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.test.json']]]) {
    const r = spawnSync(process.execPath, cmd, { stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`${what} failed (exit ${r.status ?? r.signal})`);
      process.exit(1);
    }
  }
}
const files = walk('out/test/unit')
  .filter((f) => f.endsWith('.test.js') && existsSync(f.replace(/^out[\\/]/, '').replace(/\.js$/, '.ts')))
  .filter((f) => args.length === 0 || args.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no unit test files found under out/test/unit');
  process.exit(1);
}
const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout'];
if (tap) reporters.push('--test-reporter=tap', `--test-reporter-destination=${tap}`);
const r = spawnSync(process.execPath, ['--test', ...reporters, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);

// Installs the npm dependencies when node_modules is missing or was installed from another
// package-lock.json (npm ci, then a stamp with the lock file's hash). Node built-ins only, so it
// runs on a fresh clone. Used by `npm test` and `npm run start-demo`; run directly, it does the same.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Returns false when npm ci failed. */
export function ensureDependencies() {
  const hash = createHash('sha256').update(readFileSync(join(root, 'package-lock.json'))).digest('hex');
  const stamp = join(root, 'node_modules', '.xai-lens-lock-hash');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return true;
  console.log('\n▶ npm ci (dependencies changed or missing)');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) return false;
  writeFileSync(stamp, hash);
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exit(ensureDependencies() ? 0 : 1);

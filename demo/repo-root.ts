/** The repository's root folder, for the demo's scripts, wherever they were built to. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The nearest folder above this script with a package.json (dist/ and out/demo/ both sit below it). */
export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

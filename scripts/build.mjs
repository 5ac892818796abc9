// Bundles the entry points with esbuild. Packages stay external for the CLI and tools: they run
// from this folder, where node_modules is installed.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

const entries = [
  { in: 'src/cli/main.ts', out: 'cli', banner: '#!/usr/bin/env node' },
  { in: 'demo/make-fixtures.ts', out: 'fixtures' },
  { in: 'bench/main.ts', out: 'bench' },
];

await Promise.all(entries.map((e) => build({
  entryPoints: [e.in],
  outfile: `dist/${e.out}.js`,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
  banner: e.banner ? { js: e.banner } : undefined,
})));
chmodSync('dist/cli.js', 0o755);

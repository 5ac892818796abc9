// Bundles the entry points with esbuild.
// - dist/extension.js: the extension host (tfjs bundled in; sharp, onnxruntime-node and the
//   optional native tfjs backends stay external: they are native and found at run time), plus the
//   wasm binaries.
// - dist/worker.js: a compute worker (worker_threads) of the extension and of the CLI, bundled
//   like the extension host.
// - dist/webview.js: the panel (browser).
// - dist/cli.js: the CLI (`xai-lens`), bundled like the extension host.
// - dist/fixtures.js, dist/bench.js: tools run from this folder, with packages taken from
//   node_modules.
//
//   node scripts/build.mjs [--watch]
//
// --watch (`npm run watch`) builds, then rebuilds each bundle when one of its sources changes,
// until stopped; reload the extension host (or rerun the CLI) to pick the new bundle up.
import { context } from 'esbuild';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const common = { bundle: true, sourcemap: true, logLevel: 'warning', target: 'es2022' };
const node = { ...common, platform: 'node', target: 'node20', format: 'cjs' };

const tools = [
  // The CLI is bundled like the extension host: its npm package installs only the native packages.
  { in: 'src/cli/main.ts', out: 'cli', banner: '#!/usr/bin/env node', bundled: true },
  { in: 'demo/make-fixtures.ts', out: 'fixtures' },
  { in: 'demo/export-dataset.ts', out: 'export-dataset' },
  { in: 'bench/main.ts', out: 'bench' },
].filter((e) => existsSync(e.in));

const hostExternal = ['vscode', 'sharp', 'onnxruntime-node', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-backend-wasm/package.json'];

const watch = process.argv.includes('--watch');
const configs = [
  {
    ...node,
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.js',
    external: hostExternal,
  },
  {
    ...node,
    entryPoints: ['src/extension/compute/worker.ts'],
    outfile: 'dist/worker.js',
    external: hostExternal,
  },
  {
    ...common,
    entryPoints: ['src/webview/main.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    format: 'iife',
  },
  ...tools.map((e) => ({
    ...node,
    entryPoints: [e.in],
    outfile: `dist/${e.out}.js`,
    ...(e.bundled ? { external: hostExternal } : { packages: 'external' }),
    banner: e.banner ? { js: e.banner } : undefined,
  })),
];
// A watched CLI keeps its executable bit: esbuild rewrites the file in place.
const keepExecutable = { name: 'executable', setup(b) { b.onEnd(() => { if (existsSync('dist/cli.js')) chmodSync('dist/cli.js', 0o755); }); } };
const contexts = await Promise.all(configs.map((c) => context({ ...c, plugins: c.outfile === 'dist/cli.js' ? [keepExecutable] : [] })));
if (watch) {
  await Promise.all(contexts.map((ctx) => ctx.watch()));
  console.log(`[build] watching ${configs.length} bundles (Ctrl+C stops)`);
} else {
  try {
    await Promise.all(contexts.map((ctx) => ctx.rebuild()));
  } finally {
    await Promise.all(contexts.map((ctx) => ctx.dispose()));
  }
}

// The wasm backend loads its binaries from the folder setWasmPaths names: dist/.
const wasmDist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
mkdirSync('dist', { recursive: true });
for (const f of readdirSync(wasmDist).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(wasmDist, f), join('dist', f));

/**
 * The command line as an npm package, as someone who never cloned this repository gets it:
 * `npm pack` (package.json "files": the CLI bundle, the compute worker's bundle and the tfjs
 * wasm binaries), `npm install <tarball>` into an empty folder, then `npx xai-lens explain` on
 * the demo's models. Also the fallback where onnxruntime-node cannot load (no binary: npm on
 * macOS x64; not installed: the darwin-x64 .vsix): the ONNX model then runs on TensorFlow.js
 * alone and gives exactly what `--no-onnxruntime` gives.
 *
 * Needs the build (dist/). The install takes packages from npm's cache first (--prefer-offline)
 * and the registry for the rest; the test is skipped, saying so, only when npm cannot reach the
 * registry. onnxruntime-node's install step is told to download nothing
 * (npm_config_onnxruntime_node_install=skip); the optional @tensorflow/tfjs-node-gpu's download
 * fails offline, and npm then leaves it out without failing the install.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { builtinModules } from 'node:module';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import sharp from 'sharp';
import { decodeNpy } from '../../../src/extension/image/npy';
import { argmax2d } from '../../../src/shared/map-ops';

const ROOT = path.resolve(__dirname, '../../../..');
const DIST = path.join(ROOT, 'dist');
const IMAGE = path.join(ROOT, 'demo', 'images', 'circle-1.png');
const TFJS_MODEL = path.join(ROOT, 'demo', 'models', 'shapes', 'model.json');
const ONNX_MODEL = path.join(ROOT, 'demo', 'models', 'shapes-pytorch', 'model.onnx');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-npm-'));
const app = path.join(tmp, 'app');
let tarball = '';
let packed: { path: string; size: number }[] = [];
let skipped: string | undefined;

/** npm's environment without an outer `npm test`'s npm_* variables (its prefix would redirect the install). */
function npmEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return { ...env, npm_config_onnxruntime_node_install: 'skip', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

function npm(args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync('npm', args, { cwd, env: npmEnv(), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60 * 1000 });
}

const NETWORK = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH)\b/;

before(() => {
  assert.ok(fs.existsSync(path.join(DIST, 'cli.js')) && fs.existsSync(path.join(DIST, 'worker.js')), 'dist/ has no CLI bundle: run npm run build first');
  // --ignore-scripts: the prepack script would rebuild dist/ under the other tests' feet.
  const pack = npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], ROOT);
  assert.equal(pack.status, 0, pack.stderr);
  const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')))[0];
  tarball = path.join(tmp, info.filename);
  packed = info.files;
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'uses-xai-lens', version: '1.0.0', private: true }));
  const install = npm(['install', tarball, '--prefer-offline'], app);
  if (install.status !== 0) {
    const output = `${install.stdout}\n${install.stderr}`;
    if (NETWORK.test(output) && npm(['ping'], app).status !== 0) {
      skipped = `npm cannot reach the registry to install the packed CLI's dependencies (${NETWORK.exec(output)?.[1]})`;
      return;
    }
    assert.fail(`npm install ${path.basename(tarball)} failed (${install.status ?? install.signal}):\n${output.slice(-4000)}`);
  }
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** `npx xai-lens <args>` in the folder it was installed into. */
function xaiLens(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('npx', ['--no', 'xai-lens', ...args], { cwd: app, env: npmEnv(), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The packages a bundle require()s, by package name. */
function requiredBy(bundle: string): Set<string> {
  const builtins = new Set(builtinModules);
  const out = new Set<string>();
  for (const m of fs.readFileSync(path.join(DIST, bundle), 'utf8').matchAll(/\brequire\(\s*["']([^"'.][^"']*)["']\s*\)/g)) {
    const spec = m[1];
    if (spec.startsWith('node:') || builtins.has(spec.split('/')[0]) || spec === 'vscode') continue;
    out.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
  }
  return out;
}

test('npm pack holds the CLI bundle, its worker, the wasm binaries and the documents, nothing else', (t) => {
  const wasm = fs.readdirSync(DIST).filter((f) => f.endsWith('.wasm')).map((f) => `dist/${f}`);
  assert.ok(wasm.length >= 1, 'the build copies the tfjs wasm binaries into dist/');
  assert.deepEqual(packed.map((f) => f.path).sort(), ['CHANGELOG.md', 'LICENSE', 'README.md', 'package.json', 'dist/cli.js', 'dist/worker.js', ...wasm].sort());
  const size = fs.statSync(tarball).size;
  t.diagnostic(`${path.basename(tarball)}: ${(size / 1024 / 1024).toFixed(1)} MB packed, ${(packed.reduce((s, f) => s + f.size, 0) / 1024 / 1024).toFixed(1)} MB unpacked`);
});

test('package.json "dependencies" are exactly what the shipped bundles load at run time', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const declared = new Set([...Object.keys(manifest.dependencies), ...Object.keys(manifest.optionalDependencies ?? {})]);
  const installed = (name: string) => fs.existsSync(path.join(ROOT, 'node_modules', name, 'package.json'));
  // What the npm package's bundles load must be installed with it (an uninstalled name such as
  // node-fetch's optional "encoding" is one the code guards).
  for (const bundle of ['cli.js', 'worker.js']) {
    const missing = [...requiredBy(bundle)].filter((n) => installed(n) && !declared.has(n));
    assert.deepEqual(missing, [], `dist/${bundle} loads packages that are not in "dependencies"`);
  }
  // And nothing else: what esbuild bundles belongs in "devDependencies".
  const loaded = new Set(['cli.js', 'worker.js', 'extension.js'].flatMap((b) => [...requiredBy(b)]));
  assert.deepEqual(Object.keys(manifest.dependencies).filter((n) => !loaded.has(n)), [], 'dependencies that no shipped bundle loads');
  assert.equal(manifest.bin['xai-lens'], 'dist/cli.js');
  assert.ok(fs.readFileSync(path.join(DIST, 'cli.js'), 'utf8').startsWith('#!/usr/bin/env node\n'));
});

test('npx xai-lens explain, installed from the tarball, explains a demo image with the TF.js model', async (t) => {
  if (skipped) return t.skip(skipped);
  const out = path.join(tmp, 'out-tfjs');
  const r = xaiLens('explain', IMAGE, '--model', TFJS_MODEL, '--method', 'gradcam,occlusion', '--json', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.inputSize, [64, 64]);
  assert.equal(report.predictions[0].label, 'circle');
  assert.ok(report.predictions[0].probability > 0.9, JSON.stringify(report.predictions));
  assert.deepEqual(report.maps.map((m: { method: string }) => m.method), ['gradcam', 'occlusion']);
  // Grad-CAM peaks on the circle: demo/images/boxes.json puts it at x, y 2..21.
  const gradcam = decodeNpy(fs.readFileSync(path.join(out, 'circle-1.png.gradcam.npy')));
  assert.deepEqual(gradcam.shape, [64, 64]);
  const peak = argmax2d(gradcam.data, 64, 64);
  assert.ok(peak.x >= 2 && peak.x < 22 && peak.y >= 2 && peak.y < 22, `Grad-CAM peaks at ${JSON.stringify(peak)}`);
  for (const method of ['gradcam', 'occlusion']) {
    const meta = await sharp(path.join(out, `circle-1.png.${method}.png`)).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 64, 64]);
  }
});

test('ONNX models run with the installed onnxruntime-node, and without it on TensorFlow.js alone', (t) => {
  if (skipped) return t.skip(skipped);
  const ort = spawnSync(process.execPath, ['-e', 'console.log(require("onnxruntime-node").env.versions.node)'], { cwd: app, encoding: 'utf8' });
  assert.equal(ort.status, 0, `onnxruntime-node loads from the installed package: ${ort.stderr}`);
  assert.equal(ort.stdout.trim(), '1.31.1');
  const explain = (name: string, ...extra: string[]) => {
    const out = path.join(tmp, `out-${name}`);
    const r = xaiLens('explain', IMAGE, '--model', ONNX_MODEL, '--method', 'occlusion', '--json', '--out', out, ...extra);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const report = JSON.parse(r.stdout);
    return { probabilities: report.predictions.map((p: { label: string; probability: number }) => [p.label, p.probability]), map: fs.readFileSync(path.join(out, 'circle-1.png.occlusion.npy')) };
  };
  const withOrt = explain('onnxruntime');
  const tfjs = explain('no-onnxruntime', '--no-onnxruntime');
  assert.equal(withOrt.probabilities[0][0], 'circle');
  for (let i = 0; i < 3; i++) {
    assert.equal(withOrt.probabilities[i][0], tfjs.probabilities[i][0]);
    assert.ok(Math.abs(withOrt.probabilities[i][1] - tfjs.probabilities[i][1]) < 1e-4, `${withOrt.probabilities[i]} vs ${tfjs.probabilities[i]}`);
  }
  const a = decodeNpy(withOrt.map).data;
  const b = decodeNpy(tfjs.map).data;
  const scale = Math.max(...b.map(Math.abs));
  assert.ok(a.every((v, i) => Math.abs(v - b[i]) <= 1e-4 * scale), 'occlusion on onnxruntime and on TensorFlow.js agree');

  // No binary for this platform (what npm installs on macOS x64): onnxruntime-node fails to load.
  const bin = path.join(app, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
  fs.renameSync(bin, `${bin}.away`);
  const noBinary = explain('no-binary');
  assert.deepEqual(noBinary.probabilities, tfjs.probabilities);
  assert.ok(noBinary.map.equals(tfjs.map), 'the same occlusion map as --no-onnxruntime, byte for byte');
  // Not installed at all (the darwin-x64 .vsix leaves it out).
  const pkg = path.join(app, 'node_modules', 'onnxruntime-node');
  fs.renameSync(pkg, path.join(tmp, 'onnxruntime-node.away'));
  const notInstalled = explain('not-installed');
  assert.deepEqual(notInstalled.probabilities, tfjs.probabilities);
  assert.ok(notInstalled.map.equals(tfjs.map), 'the same occlusion map as --no-onnxruntime, byte for byte');
});

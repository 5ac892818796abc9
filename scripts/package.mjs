// `npm run package`: builds the extension and packages one .vsix per platform with @vscode/vsce
// (`vsce package --target <t>`), run by the Node 24 from .cache/node24 (vsce needs Node >= 22;
// scripts/vscode-setup.mjs installs it when missing).
//
//   node scripts/package.mjs [--target all|host|<target>[,<target>...]] [--out <file.vsix>] [--no-build]
//
// Targets: linux-x64, linux-arm64, darwin-x64, darwin-arm64, win32-x64 (`all`, the default);
// `host` is this machine's. Each goes to xai-lens-<target>.vsix in the repository, and this
// machine's is also copied to xai-lens.vsix (what `code --install-extension xai-lens.vsix` and
// the e2e test install). `--out` writes a single target there instead.
//
// What goes in: the files .vscodeignore lets through (dist/ without the command-line tools,
// media/, README, CHANGELOG, LICENSE, package.json; listed by `vsce ls`), plus the packages the
// bundles (package.json "main" and dist/worker.js) still require() at run time (sharp,
// onnxruntime-node), with their dependencies. For each target a staging folder in .cache/vsix/
// gets exactly that, with the target's native parts only, and vsce packages the folder:
//   - a package with platform-specific optional dependencies (sharp: @img/sharp-<os>-<arch> and
//     @img/sharp-libvips-<os>-<arch>) is installed for the target with `npm install --os --cpu`
//     into .cache/platform-packages/<target>/ (kept; the repository's node_modules is not
//     touched), and the optional dependencies npm installed there for the target go in;
//   - a package that ships every platform's binaries (onnxruntime-node: bin/napi-v<n>/<os>/<arch>/)
//     keeps the target's only, and is left out, with what only it needs, where it has none
//     (onnxruntime-node has no darwin-x64 build: there the extension runs ONNX models on
//     TensorFlow.js alone).
// The staging folder also gets its own package.json (no "files": vsce refuses "files" together
// with an ignore file; "dependencies" = the packages that went in).
// Each .vsix is then checked: the entry point and the worker, every packaged package, the
// target's native binaries, and no native binary (.node, .so, .dylib, .dll) of anything else.
import { spawn, spawnSync } from 'node:child_process';
import { builtinModules, createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import {
  copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, CACHE, ensureNode24, node24Env } from './vscode-setup.mjs';

/** vsce's target → Node's process.platform and process.arch. */
const TARGETS = {
  'linux-x64': { os: 'linux', cpu: 'x64' },
  'linux-arm64': { os: 'linux', cpu: 'arm64' },
  'darwin-x64': { os: 'darwin', cpu: 'x64' },
  'darwin-arm64': { os: 'darwin', cpu: 'arm64' },
  'win32-x64': { os: 'win32', cpu: 'x64' },
};
const HOST = `${process.platform}-${process.arch}`;
/** Native binaries by name: Node addons, shared libraries (libfoo.so.1.2 too), dylibs, DLLs. */
const NATIVE = /\.(node|dll|dylib)$|\.so(\.\d+)*$/;

const t0 = Date.now();
const say = (msg) => console.log(`[package] ${msg}`);
const die = (msg) => { console.error(`[package] ${msg}`); process.exit(1); };

const { values: opts } = parseArgs({
  options: {
    target: { type: 'string', default: 'all' },
    out: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
  },
});
const targets = opts.target === 'all' ? Object.keys(TARGETS)
  : [...new Set(opts.target.split(',').map((t) => (t.trim() === 'host' ? HOST : t.trim())))];
for (const t of targets) {
  if (!(t in TARGETS)) die(`unknown target ${t}${opts.target.includes('host') ? ` (this machine is ${HOST})` : ''}: ${Object.keys(TARGETS).join(', ')}, all or host`);
}
if (opts.out && targets.length !== 1) die('--out takes a single --target');
const outFile = (t) => (opts.out ? resolve(opts.out) : join(ROOT, `xai-lens-${t}.vsix`));
process.chdir(ROOT);

// 1. build
if (!opts['no-build']) {
  say('build (node scripts/build.mjs)');
  const b = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  if (b.status !== 0) die(`build failed (${b.status ?? b.signal})`);
}
const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
if (!manifest.main) die('package.json has no "main" (the extension entry point)');
const main = resolve(ROOT, manifest.main.endsWith('.js') ? manifest.main : `${manifest.main}.js`);
if (!existsSync(main)) die(`the entry point ${relative(ROOT, main)} does not exist after the build`);

// 2. the packages the bundles load at run time: the extension host's and its compute workers'
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const worker = join(dirname(main), 'worker.js');
if (!existsSync(worker)) die(`the compute worker ${relative(ROOT, worker)} does not exist after the build`);
const bundle = [main, worker].map((f) => readFileSync(f, 'utf8')).join('\n');
const required = new Set();
for (const m of bundle.matchAll(/\brequire\(\s*["']([^"'.][^"']*)["']\s*\)/g)) {
  const spec = m[1];
  if (builtins.has(spec) || builtins.has(spec.split('/')[0]) || spec === 'vscode' || spec.startsWith('node:')) continue;
  required.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
}

/** Folder of package `name` as Node would find it from `fromDir` (within `top`), or undefined. */
function findPackage(name, fromDir, top = ROOT) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === dirname(dir) || relative(top, dir).startsWith('..') || dir === top) return undefined;
  }
}
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

const installed = [...required].filter((n) => findPackage(n, ROOT));
const missingTop = [...required].filter((n) => !findPackage(n, ROOT));
if (missingTop.length) say(`not packaged (required by the bundles but not installed; must be optional): ${missingTop.join(', ')}`);
const undeclared = installed.filter((n) => !(n in (manifest.dependencies ?? {})) && !(n in (manifest.optionalDependencies ?? {})));
if (undeclared.length) die(`the bundles require ${undeclared.join(', ')}, which package.json does not list in "dependencies" or "optionalDependencies"`);

/** onnxruntime-node's layout: bin/napi-v<n>/<os>/<arch>/ folders (relative to the package). */
function nativeFolders(dir) {
  const bin = join(dir, 'bin');
  if (!existsSync(bin)) return [];
  const out = [];
  for (const napi of readdirSync(bin).filter((d) => /^napi-v\d+$/.test(d))) {
    for (const os of readdirSync(join(bin, napi))) {
      for (const arch of readdirSync(join(bin, napi, os))) out.push({ path: `bin/${napi}/${os}/${arch}`, os, cpu: arch });
    }
  }
  return out;
}

/**
 * What goes in for `target`: the run-time packages from this checkout's node_modules (folders
 * relative to ROOT, each with the native folders to keep), the packages to install for the
 * target because they have platform-specific optional dependencies, and what is left out.
 */
function closure(target) {
  const { os, cpu } = TARGETS[target];
  const packaged = new Map(); // folder relative to ROOT → { name, version, keepNative }
  const perTarget = new Map(); // name → version (installed for the target)
  const omitted = [];
  const notInstalled = [];
  const add = (name, fromDir, optional) => {
    const dir = findPackage(name, fromDir);
    if (!dir) { if (!optional) notInstalled.push(name); return; }
    const rel = relative(ROOT, dir);
    if (packaged.has(rel)) return;
    const pkg = readJson(join(dir, 'package.json'));
    const native = nativeFolders(dir);
    const keepNative = native.filter((n) => n.os === os && n.cpu === cpu);
    if (native.length > 0 && keepNative.length === 0) {
      omitted.push(`${name} (no ${os}/${cpu} build among ${native.map((n) => `${n.os}/${n.cpu}`).join(', ')})`);
      return;
    }
    packaged.set(rel, { name, version: pkg.version, keepNative: keepNative.map((n) => n.path), native: native.map((n) => n.path) });
    // Optional dependencies are where platform-specific builds live (sharp's @img/sharp-<os>-<arch>):
    // this machine's are not the target's, so the package is installed for the target instead.
    if (Object.keys(pkg.optionalDependencies ?? {}).length > 0) perTarget.set(name, pkg.version);
    for (const dep of Object.keys(pkg.dependencies ?? {})) add(dep, dir, false);
  };
  for (const name of installed) add(name, ROOT, false);
  if (notInstalled.length) die(`dependencies not installed: ${notInstalled.join(', ')} (npm ci?)`);
  return { packaged, perTarget, omitted };
}

/** npm's environment without an outer `npm run`'s npm_* variables (its prefix would redirect an install). */
const npmEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

/**
 * The target's platform-specific packages: `names` (name → version) installed with
 * `npm install --os --cpu` into .cache/platform-packages/<target>/ (reused while the versions
 * stay), then the installed packages that name an os or cpu. Returns their folders.
 */
function platformPackages(target, names) {
  if (names.size === 0) return [];
  const { os, cpu } = TARGETS[target];
  const dir = join(CACHE, 'platform-packages', target);
  const spec = JSON.stringify({ private: true, description: `run-time packages of xai-lens for ${target} (scripts/package.mjs)`, dependencies: Object.fromEntries([...names].sort()) }, null, 2);
  const stamp = join(dir, 'node_modules', '.xai-lens-spec');
  if (!(existsSync(stamp) && readFileSync(stamp, 'utf8') === spec)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), spec);
    const args = ['install', '--prefix', dir, `--os=${os}`, `--cpu=${cpu}`, ...(os === 'linux' ? ['--libc=glibc'] : []),
      '--prefer-offline', '--ignore-scripts', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error'];
    say(`${target}: npm ${args.map((a) => (a === dir ? relative(ROOT, dir) : a)).join(' ')} (${[...names].map(([n, v]) => `${n}@${v}`).join(', ')}) → ${relative(ROOT, dir)}`);
    const r = spawnSync('npm', args, { cwd: dir, env: npmEnv(), encoding: 'utf8' });
    if (r.status !== 0) die(`npm install for ${target} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
    writeFileSync(stamp, spec);
  }
  // The optional dependencies npm installed for the target (and what they need), e.g.
  // @img/sharp-darwin-arm64 and, as its own optional dependency, @img/sharp-libvips-darwin-arm64.
  const found = new Map(); // folder → name
  const take = (name, fromDir) => {
    const got = findPackage(name, fromDir, dir);
    if (!got || found.has(got)) return;
    const pkg = readJson(join(got, 'package.json'));
    const fits = (list, v) => !list || list.includes(v);
    if (!fits(pkg.os, os) || !fits(pkg.cpu, cpu)) die(`${target}: npm installed ${pkg.name}, built for ${pkg.os}/${pkg.cpu}`);
    found.set(got, pkg.name);
    for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]) take(dep, got);
  };
  for (const [name, version] of names) {
    const got = findPackage(name, dir, dir);
    if (!got || readJson(join(got, 'package.json')).version !== version) die(`${target}: npm did not install ${name}@${version} into ${relative(ROOT, dir)}`);
    for (const dep of Object.keys(readJson(join(got, 'package.json')).optionalDependencies ?? {})) take(dep, got);
  }
  if (found.size === 0) die(`${target}: npm installed none of the optional dependencies of ${[...names.keys()].join(', ')}`);
  return [...found].map(([d, name]) => ({ name, dir: d, rel: relative(dir, d) }));
}

/** Copies a file tree (hard links where possible), leaving out what `skip(relative path)` says. */
function copyTree(src, dest, skip = () => false, rel = '') {
  mkdirSync(dest, { recursive: true });
  for (const e of readdirSync(src, { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (skip(r)) continue;
    const s = join(src, e.name);
    const d = join(dest, e.name);
    if (e.isDirectory()) copyTree(s, d, skip, r);
    else copyFile(s, d);
  }
}
function copyFile(s, d) {
  mkdirSync(dirname(d), { recursive: true });
  try {
    linkSync(s, d);
  } catch {
    copyFileSync(s, d);
  }
}

/** Runs Node 24 with `args` in `cwd`; resolves with its exit code and output. */
function runNode24(node24, args, cwd) {
  return new Promise((resolveRun) => {
    let text = '';
    const child = spawn(join(node24, 'node'), args, { cwd, env: node24Env(node24), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => { text += d; });
    child.stderr.on('data', (d) => { text += d; });
    child.on('close', (code) => resolveRun({ code, text }));
  });
}

// 3. what goes in besides node_modules: the files .vscodeignore lets through, as vsce lists them
const node24 = await ensureNode24();
const vsce = join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
if (!existsSync(vsce)) die('node_modules/@vscode/vsce is missing (npm ci)');
const listed = await runNode24(node24, [vsce, 'ls', '--no-dependencies', '--ignoreFile', '.vscodeignore'], ROOT);
if (listed.code !== 0) die(`vsce ls failed (${listed.code}):\n${listed.text}`);
const payload = listed.text.split('\n').map((l) => l.trim()).filter((l) => l && existsSync(join(ROOT, l)) && statSync(join(ROOT, l)).isFile());
for (const f of [relative(ROOT, main), relative(ROOT, worker), 'package.json']) {
  if (!payload.includes(f)) die(`.vscodeignore leaves out ${f}`);
}
const tools = payload.filter((f) => /^dist\/(cli|fixtures|bench|export-dataset)\.js$/.test(f));
if (tools.length) die(`.vscodeignore lets the command-line tools in: ${tools.join(', ')}`);

const yauzl = createRequire(join(ROOT, 'node_modules', '@vscode', 'vsce', 'package.json'))('yauzl');
function zipEntries(file) {
  return new Promise((resolveEntries, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      const names = [];
      zip.on('entry', (e) => { names.push(e.fileName); zip.readEntry(); });
      zip.on('end', () => resolveEntries(names));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/** Stages, packages and checks one target; returns its size line. */
async function packageTarget(target) {
  const { packaged, perTarget, omitted } = closure(target);
  const platform = platformPackages(target, perTarget);
  const stage = join(CACHE, 'vsix', target);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  for (const f of payload) if (f !== 'package.json') copyFile(join(ROOT, f), join(stage, f));
  const expected = [relative(ROOT, main), relative(ROOT, worker)];
  const allowedNative = new Set();
  for (const [rel, p] of packaged) {
    const drop = new Set(p.native.filter((n) => !p.keepNative.includes(n)));
    copyTree(join(ROOT, rel), join(stage, rel), (r) => r === 'node_modules' || drop.has(r));
    expected.push(`${rel}/package.json`);
    for (const n of p.keepNative) {
      for (const f of readdirSync(join(ROOT, rel, n))) {
        expected.push(`${rel}/${n}/${f}`);
        allowedNative.add(`${rel}/${n}/${f}`);
      }
    }
  }
  for (const { dir, rel } of platform) {
    copyTree(dir, join(stage, rel), (r) => r === 'node_modules');
    expected.push(`${rel}/package.json`);
    const walk = (d, r) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) {
          if (e.name !== 'node_modules') walk(join(d, e.name), `${r}/${e.name}`);
        } else if (NATIVE.test(e.name)) {
          expected.push(`${r}/${e.name}`);
          allowedNative.add(`${r}/${e.name}`);
        }
      }
    };
    walk(dir, rel);
  }
  // The manifest vsce reads: no "files" (vsce refuses it beside an ignore file), no "bin" (the
  // CLI is the npm package's), no scripts or development dependencies; "dependencies" are the
  // packages that went in.
  const top = [...packaged.values()].filter((p) => installed.includes(p.name) && packaged.has(`node_modules/${p.name}`));
  const staged = { ...manifest, dependencies: Object.fromEntries(top.map((p) => [p.name, p.version]).sort()) };
  for (const k of ['files', 'bin', 'scripts', 'devDependencies', 'optionalDependencies', 'allowScripts']) delete staged[k];
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(staged, null, 2)}\n`);
  writeFileSync(join(stage, '.vscodeignore'), '# scripts/package.mjs: this staging folder holds exactly what goes in\n');

  const out = outFile(target);
  const args = [vsce, 'package', '--target', target, '--out', out, '--no-rewrite-relative-links'];
  args.push(...(packaged.size + platform.length === 0 ? ['--no-dependencies'] : ['--dependencies', '--no-yarn']));
  const run = await runNode24(node24, args, stage);
  for (const line of run.text.split('\n')) {
    if (/WARNING|ERROR/.test(line)) say(`${target}:   ${line.trim()}`);
  }
  if (run.code !== 0) die(`vsce failed for ${target} (${run.code}); the staging folder is ${relative(ROOT, stage)}:\n${run.text}`);

  // 4. check what went in
  const entries = await zipEntries(out);
  const has = new Set(entries);
  const absent = expected.filter((e) => !has.has(`extension/${e}`));
  if (absent.length) die(`${relative(ROOT, out)} lacks: ${absent.slice(0, 5).join(', ')}${absent.length > 5 ? ` and ${absent.length - 5} more` : ''}`);
  const strays = entries.filter((e) => NATIVE.test(e) && !allowedNative.has(e.replace(/^extension\//, '')));
  if (strays.length) die(`${relative(ROOT, out)} holds native binaries that are not ${target}'s: ${strays.slice(0, 5).join(', ')}`);
  rmSync(stage, { recursive: true, force: true });
  const mb = (statSync(out).size / 1024 / 1024).toFixed(1);
  const fromModules = entries.filter((e) => e.startsWith('extension/node_modules/')).length;
  return `${relative(ROOT, out)}: ${mb} MB, ${entries.length} files (${fromModules} from node_modules, ${allowedNative.size} native)` +
    `${omitted.length ? `; left out: ${omitted.join(', ')}` : ''}`;
}

// 5. every target, two at a time on two cores (vsce mostly compresses)
say(`targets: ${targets.join(', ')}; run-time packages: ${installed.join(', ')}`);
const queue = [...targets];
const lines = new Map();
await Promise.all(Array.from({ length: Math.max(1, Math.min(2, availableParallelism(), queue.length)) }, async () => {
  while (queue.length > 0) {
    const t = queue.shift();
    lines.set(t, await packageTarget(t));
  }
}));
for (const t of targets) say(lines.get(t));
if (!opts.out && targets.includes(HOST)) {
  copyFileSync(outFile(HOST), join(ROOT, 'xai-lens.vsix'));
  say(`xai-lens.vsix: a copy of ${relative(ROOT, outFile(HOST))} (this machine's)`);
}
say(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

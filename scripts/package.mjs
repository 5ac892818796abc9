// `npm run package`: builds the extension and packages it as xai-lens.vsix with @vscode/vsce,
// run by the Node 24 from .cache/node24 (vsce needs Node >= 22; scripts/vscode-setup.mjs
// installs it when missing).
//
//   node scripts/package.mjs [--out <file.vsix>] [--no-build]
//
// What goes in: .vscodeignore (dist/, media/, README, package.json) plus the packages that the
// bundle (package.json "main") still require()s at run time (e.g. sharp, native), found by
// reading the bundle, with their installed dependencies; those are added to a generated copy of
// .vscodeignore (.cache/vscodeignore.generated). A bundle without such packages is packaged with
// --no-dependencies. Packages that carry every platform's native binaries (onnxruntime-node)
// keep this machine's only. The script checks the .vsix has the entry point, those packages and
// their native binaries for this machine, and reports its size.
import { spawn, spawnSync } from 'node:child_process';
import { builtinModules, createRequire } from 'node:module';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, CACHE, ensureNode24, node24Env } from './vscode-setup.mjs';

const say = (msg) => console.log(`[package] ${msg}`);
const die = (msg) => { console.error(`[package] ${msg}`); process.exit(1); };

const { values: opts } = parseArgs({
  options: { out: { type: 'string', default: 'xai-lens.vsix' }, 'no-build': { type: 'boolean', default: false } },
});
const out = resolve(ROOT, opts.out);
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

/** Folder of package `name` as Node would find it from `fromDir`, or undefined. */
function findPackage(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === dirname(dir) || relative(ROOT, dir).startsWith('..')) return undefined;
  }
}

const packaged = new Map(); // folder relative to ROOT → name
const notInstalled = [];
function addWithDependencies(name, fromDir, optional) {
  const dir = findPackage(name, fromDir);
  if (!dir) { if (!optional) notInstalled.push(name); return; }
  const rel = relative(ROOT, dir);
  if (packaged.has(rel)) return;
  packaged.set(rel, name);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const dep of Object.keys(pkg.dependencies ?? {})) addWithDependencies(dep, dir, false);
  // Optional dependencies: the ones installed here (e.g. sharp's @img/sharp-linux-x64).
  for (const dep of Object.keys(pkg.optionalDependencies ?? {})) addWithDependencies(dep, dir, true);
}
for (const name of required) addWithDependencies(name, ROOT, true);
const missingTop = [...required].filter((n) => !findPackage(n, ROOT));
if (missingTop.length) say(`not packaged (required by the bundle but not installed; must be optional): ${missingTop.join(', ')}`);
if (notInstalled.length) die(`dependencies not installed: ${notInstalled.join(', ')} (npm ci?)`);
const undeclared = [...required].filter((n) => findPackage(n, ROOT) &&
  !(n in (manifest.dependencies ?? {})) && !(n in (manifest.optionalDependencies ?? {})));
if (undeclared.length) die(`the bundle requires ${undeclared.join(', ')}, which package.json does not list in "dependencies"`);

// Packages that ship every platform's native binaries in one package (onnxruntime-node:
// bin/napi-v<n>/<platform>/<arch>/) keep this machine's only. vsce lets any `!pattern` win over
// every ignore pattern, so such a package is added back entry by entry, bin/ only for this machine.
const here = `${process.platform}/${process.arch}`;
const otherPlatforms = [];
const nativeHere = [];
const addBack = new Map(); // package folder → its `!` patterns
for (const dir of packaged.keys()) {
  addBack.set(dir, [`!${dir}/**`]);
  const bin = join(dir, 'bin');
  const napis = existsSync(bin) ? readdirSync(bin).filter((d) => /^napi-v\d+$/.test(d)) : [];
  if (napis.length === 0) continue;
  const patterns = readdirSync(dir).filter((e) => e !== 'bin').map((e) => (statSync(join(dir, e)).isDirectory() ? `!${dir}/${e}/**` : `!${dir}/${e}`));
  for (const napi of napis) {
    for (const os of readdirSync(join(bin, napi))) {
      for (const arch of readdirSync(join(bin, napi, os))) {
        const folder = `${dir}/bin/${napi}/${os}/${arch}`;
        if (`${os}/${arch}` === here) {
          nativeHere.push(folder);
          patterns.push(`!${folder}/**`);
        } else otherPlatforms.push(folder);
      }
    }
  }
  addBack.set(dir, patterns);
}

// 3. vsce
const node24 = await ensureNode24();
const vsce = join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
if (!existsSync(vsce)) die('node_modules/@vscode/vsce is missing (npm ci)');
const args = [vsce, 'package', '--out', out, '--allow-missing-repository', '--no-rewrite-relative-links'];
if (!['LICENSE', 'LICENSE.md', 'LICENSE.txt'].some((f) => existsSync(f))) args.push('--skip-license');
if (packaged.size === 0) {
  args.push('--no-dependencies');
  say('the bundle requires no packages at run time: --no-dependencies');
} else {
  mkdirSync(CACHE, { recursive: true });
  const ignoreFile = join(CACHE, 'vscodeignore.generated');
  const extra = [...packaged.keys()].sort().flatMap((d) => addBack.get(d));
  writeFileSync(ignoreFile, `${readFileSync('.vscodeignore', 'utf8')}\n# added by scripts/package.mjs: run-time packages of ${manifest.main}\n${extra.join('\n')}\n`);
  args.push('--dependencies', '--no-yarn', '--ignoreFile', ignoreFile);
  say(`run-time packages: ${[...required].filter((n) => findPackage(n, ROOT)).join(', ')} → with dependencies: ${[...packaged.values()].sort().join(', ')}`);
}
say(`vsce package (Node 24): ${relative(ROOT, out)}`);
const output = await new Promise((resolveOutput) => {
  let text = '';
  const child = spawn(join(node24, 'node'), args, { env: node24Env(node24), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d) => { text += d; });
  child.stderr.on('data', (d) => { text += d; });
  child.on('close', (code) => resolveOutput({ code, text }));
});
for (const line of output.text.split('\n')) {
  if (/WARNING|ERROR|DONE/.test(line)) console.log(`[package]   ${line.trim()}`);
}
if (output.code !== 0) die(`vsce failed (${output.code}):\n${output.text}`);

// 4. check what went in
const yauzl = createRequire(join(ROOT, 'node_modules', '@vscode', 'vsce', 'package.json'))('yauzl');
const entries = await new Promise((resolveEntries, reject) => {
  yauzl.open(out, { lazyEntries: true }, (err, zip) => {
    if (err) return reject(err);
    const names = [];
    zip.on('entry', (e) => { names.push(e.fileName); zip.readEntry(); });
    zip.on('end', () => resolveEntries(names));
    zip.on('error', reject);
    zip.readEntry();
  });
});
const has = new Set(entries);
const expected = [`extension/${relative(ROOT, main)}`, ...[...packaged.keys()].map((d) => `extension/${d}/package.json`)];
for (const folder of nativeHere) {
  for (const f of readdirSync(folder)) expected.push(`extension/${folder}/${f}`);
}
const strays = entries.filter((e) => otherPlatforms.some((p) => e.startsWith(`extension/${p}/`)));
if (strays.length) die(`the .vsix holds binaries of other platforms: ${strays.slice(0, 3).join(', ')}`);
const absent = expected.filter((e) => !has.has(e));
if (absent.length) die(`the .vsix lacks: ${absent.join(', ')}`);
const mb = (statSync(out).size / 1024 / 1024).toFixed(1);
say(`${relative(ROOT, out)}: ${mb} MB, ${entries.length} files (${entries.filter((e) => e.startsWith('extension/node_modules/')).length} from node_modules)`);

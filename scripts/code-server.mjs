// Starts code-server (a real VS Code: its server and web workbench) on 127.0.0.1 for the
// integration tests, the e2e tests and `npm run start-demo`. See docs/vscode-harness.md.
//
//   const server = await startCodeServer({ workspace: 'demo', vsix: 'xai-lens.vsix' });
//   ... open server.url in a browser ...
//   await server.stop();
//
// Every server gets fresh user-data, extensions, HOME and XDG folders (in one temporary folder,
// removed by stop() unless `keep` is set), runs in a process group of its own (spawned with
// setsid) and is stopped by killing that group: code-server leaves helper processes otherwise.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { format } from 'node:util';
import { ensureVsCodeEnv, isolatedHome, node24Env } from './vscode-setup.mjs';

/** User settings of every server: quiet, offline, no trust prompt, no AI, no welcome page. */
export const DEFAULT_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
};

const CONFIG_YAML = [
  'auth: none',
  'cert: false',
  'disable-telemetry: true',
  'disable-update-check: true',
  'disable-workspace-trust: true',
  'disable-getting-started-override: true',
  '',
].join('\n');

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The environment code-server runs in: Node 24 first on PATH, a scratch HOME, no VS Code IPC. */
function serverEnv(node24, base, extra) {
  const env = node24Env(node24, { ...process.env, ...isolatedHome(base), ...extra });
  // Inherited from a VS Code terminal, these would send `--install-extension` to that VS Code.
  for (const k of Object.keys(env)) {
    if (/^(VSCODE_|ELECTRON_)/.test(k)) delete env[k];
  }
  return env;
}

function collect(stream, sink) {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) sink(l);
  });
  stream.on('end', () => { if (rest) sink(rest); });
}

/**
 * @param {{
 *   workspace: string,            // folder to open
 *   extensionsDir?: string,       // default: fresh temporary folder
 *   userDataDir?: string,         // default: fresh temporary folder
 *   port?: number,                // default: a free port
 *   host?: string,                // default 127.0.0.1
 *   vsix?: string,                // installed with --install-extension before the server starts
 *   settings?: Record<string, unknown>, // merged over DEFAULT_SETTINGS
 *   env?: Record<string, string>, // extra environment (reaches the extension host too)
 *   testDriver?: boolean,         // --vscode-option enable-smoke-test-driver (default false):
 *                                 // needed for extension tests (URL payload), but it also
 *                                 // stops notification toasts from showing: off for UI tests
 *   keep?: boolean,               // keep the temporary folder after stop()
 *   echo?: boolean,               // also print the server's output
 *   healthTimeoutMs?: number,     // default 60 000
 * }} options
 * @returns {Promise<{ url: string, port: number, host: string, pid: number, dir: string,
 *   logFile: string, logs: string[], exited: Promise<number | null>, stop(): Promise<void> }>}
 */
export async function startCodeServer(options) {
  const { workspace, vsix, env: extraEnv = {}, testDriver = false, keep = false, echo = false } = options;
  const host = options.host ?? '127.0.0.1';
  if (!workspace || !existsSync(workspace)) throw new Error(`startCodeServer: no workspace folder ${workspace}`);
  if (vsix && !existsSync(vsix)) throw new Error(`startCodeServer: no vsix at ${vsix}`);
  const { node24, codeServer } = await ensureVsCodeEnv();

  const dir = mkdtempSync(join(tmpdir(), 'xai-code-server-'));
  const userDataDir = resolve(options.userDataDir ?? join(dir, 'user-data'));
  const extensionsDir = resolve(options.extensionsDir ?? join(dir, 'extensions'));
  const config = join(dir, 'config.yaml');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  writeFileSync(config, CONFIG_YAML);
  writeFileSync(join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({ ...DEFAULT_SETTINGS, ...options.settings }, null, 2) + '\n');
  const env = serverEnv(node24, dir, extraEnv);

  const logFile = join(dir, 'code-server.log');
  const logStream = createWriteStream(logFile);
  /** @type {string[]} */
  const logs = [];
  const sink = (line) => {
    if (logs.length >= 10_000) logs.splice(0, 1_000);
    logs.push(line);
    logStream.write(line + '\n');
    if (echo) console.log(`[code-server] ${line}`);
  };
  const common = ['--config', config, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
  const removeDir = () => { if (!keep) rmSync(dir, { recursive: true, force: true }); };

  if (vsix) {
    // Before the server starts: installing into a running server's user-data dir breaks its IPC.
    const code = await new Promise((resolveCode, reject) => {
      const child = spawn(codeServer, [...common, '--install-extension', resolve(vsix)], { env, cwd: dir });
      collect(child.stdout, sink);
      collect(child.stderr, sink);
      child.on('error', reject);
      child.on('close', resolveCode);
    });
    if (code !== 0) {
      logStream.end();
      const tail = logs.slice(-30).join('\n');
      removeDir();
      throw new Error(`code-server --install-extension ${vsix} failed (${code}):\n${tail}`);
    }
  }

  // A port picked here may be taken before the server binds it: retry with another one.
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? await freePort(host);
    const args = [...common, '--bind-addr', `${host}:${port}`, '--reconnection-grace-time', '5',
      ...(testDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []), resolve(workspace)];
    sink(`$ code-server ${args.join(' ')}`);
    // detached: the child calls setsid(), so it leads a new session and process group (pgid = pid).
    const child = spawn(codeServer, args, { env, cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    collect(child.stdout, sink);
    collect(child.stderr, sink);
    const pgid = child.pid;
    let exitCode;
    const exited = new Promise((r) => child.on('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 : null);
      r(exitCode);
    }));
    child.on('error', (err) => sink(`spawn error: ${err.message}`));
    const killGroup = (sig) => { try { process.kill(-pgid, sig); } catch { /* already gone */ } };
    const onExit = () => killGroup('SIGKILL');
    process.on('exit', onExit);

    let stopped;
    const stop = () => stopped ??= (async () => {
      killGroup('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      await sleep(200);
      killGroup('SIGKILL'); // helpers that outlive the main process
      process.off('exit', onExit);
      await new Promise((r) => logStream.end(r));
      removeDir();
    })();

    // Wait for /healthz.
    const deadline = Date.now() + (options.healthTimeoutMs ?? 60_000);
    let healthy = false;
    while (Date.now() < deadline && exitCode === undefined) {
      try {
        const res = await fetch(`http://${host}:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) { healthy = true; break; }
      } catch { /* not up yet */ }
      await sleep(250);
    }
    if (healthy) {
      const url = `http://${host}:${port}/?folder=${encodeURIComponent(resolve(workspace))}`;
      return { url, port, host, pid: pgid, dir, logFile, logs, exited, stop };
    }
    const tail = logs.slice(-30).join('\n');
    const addrInUse = logs.some((l) => l.includes('EADDRINUSE'));
    killGroup('SIGTERM');
    await Promise.race([exited, sleep(3000)]);
    killGroup('SIGKILL');
    process.off('exit', onExit);
    if (addrInUse && options.port === undefined && attempt < 3) continue;
    await new Promise((r) => logStream.end(r));
    removeDir();
    throw new Error(exitCode !== undefined
      ? `code-server exited (${exitCode}) before answering /healthz:\n${tail}`
      : `code-server did not answer /healthz on ${host}:${port}:\n${tail}`);
  }
}

/**
 * The text of a browser console message (its arguments' values, Errors as their stack) when it
 * comes from the extension host, else undefined. Extension-host output arrives as
 * ['%c INFO', style, fmt, ...args] when running extension tests and as
 * ['%c[Extension Host] %c<fmt>', style, style, ...args] for installed extensions. Some of the
 * workbench's own log lines share the first format: known ones are dropped (WORKBENCH_NOISE).
 * @param {unknown[]} args
 * @returns {string | undefined}
 */
export function extensionHostLine(args) {
  if (typeof args[0] !== 'string') return undefined;
  let line;
  const m = /^%c\[Extension Host\] %c([\s\S]*)$/.exec(args[0]);
  if (m) line = format(m[1], ...args.slice(3));
  else if (args.length >= 3 && /^%c\s*(TRACE|DEBUG|INFO|WARN|ERR)/.test(args[0])) line = format(...args.slice(2));
  return line === undefined || WORKBENCH_NOISE.test(line) ? undefined : line;
}

/** Log lines of the workbench itself (in the extension host's format) that are only noise. */
export const WORKBENCH_NOISE = new RegExp('^(' + [
  'Resolving connection token', 'Resolved connection token', 'Creating a socket',
  '\\[reconnection-grace-time\\]', 'Updating additional builtin extensions cache',
  '\\[Service Worker\\]', 'Creation of workbench contribution', '\\[AgentHost', '\\[AccountPolicyGate\\]',
  'Failed: getaddrinfo ENOTFOUND open-vsx.org', "Error: Timed out waiting for authentication provider 'github'",
].join('|') + ')');

/** Chromium's flags for the workbench: no sandbox (root), no GPU, nothing that goes online. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage'];

/**
 * Chromium (Debian's, `executablePath`) driven by Playwright, with a fresh profile folder.
 * close() closes it and removes the profile. (Closing a context that showed the workbench
 * takes Chromium ~6 s; after 1.5 s close() kills the processes using this profile instead.)
 * @param {{ executablePath: string, headless?: boolean, viewport?: { width: number, height: number } }} options
 */
export async function launchChromium({ executablePath, headless = true, viewport = { width: 1400, height: 900 } }) {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'xai-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless,
    viewport,
    args: CHROMIUM_ARGS,
    // Callers stop the browser themselves (Playwright's handlers would exit the process first).
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  const page = context.pages()[0] ?? await context.newPage();
  let closing;
  const close = () => closing ??= (async () => {
    const closed = context.close().catch(() => {});
    if (!await Promise.race([closed.then(() => true), sleep(1500).then(() => false)])) {
      for (const pid of pidsWithArg(`--user-data-dir=${profile}`)) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
      await closed;
    }
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  })();
  return { context, page, profile, close };
}

/** Ids of the processes whose command line has `arg` (Linux /proc). */
function pidsWithArg(arg) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(arg)) pids.push(Number(name));
    } catch { /* exited */ }
  }
  return pids;
}

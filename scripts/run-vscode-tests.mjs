// Runs an extension-host mocha suite inside a real VS Code: code-server (what CI uses, see
// docs/vscode-harness.md) or, with --desktop, the VS Code desktop found as `code` on PATH
// through @vscode/test-electron.
//
//   node scripts/run-vscode-tests.mjs [--extension <dir>] [--tests <compiled index, no .js>]
//        [--workspace <dir>] [--timeout <s>] [--grep <regexp>] [--verbose] [--desktop]
//        [--result-file <file.json>]
//
// Defaults: --extension = the repository root, --tests = out/test/integration/index (compile
// first: npx tsc -p tsconfig.test.json), --workspace = demo/, --timeout = 600.
// With code-server it starts the server, opens the workbench with a test payload in Chromium
// (Playwright), relays the extension host's console to stdout, waits for the workbench to call
// codeAutomationExit, stops everything (also on timeout or failure) and exits with the suite's
// code. It ends with the line "N passed, N failed", from the MOCHA-RESULT line of the test index
// (also written as {"passed":N,"failed":N,"exitCode":N} to --result-file, for scripts/test.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { extensionHostLine, launchChromium, startCodeServer } from './code-server.mjs';
import { ROOT, ensureVsCodeEnv } from './vscode-setup.mjs';

const require = createRequire(import.meta.url);
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const say = (msg) => console.log(`[run-vscode-tests] ${msg}`);

const { values: opts } = parseArgs({
  options: {
    extension: { type: 'string', default: ROOT },
    tests: { type: 'string', default: join(ROOT, 'out', 'test', 'integration', 'index') },
    workspace: { type: 'string', default: join(ROOT, 'demo') },
    timeout: { type: 'string', default: '600' },
    grep: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    desktop: { type: 'boolean', default: false },
    'result-file': { type: 'string' },
  },
});
let result;
let print = (line) => console.log(line);

const existingDir = (p, what) => {
  if (!existsSync(p)) fail(`no ${what} folder ${p}`);
  return realpathSync(resolve(p));
};
const extension = existingDir(opts.extension, 'extension');
const tests = resolve(opts.tests).replace(/\.js$/, '');
const workspace = existingDir(opts.workspace, 'workspace');
const timeoutMs = Number(opts.timeout) * 1000;

if (!existsSync(join(extension, 'package.json'))) fail(`no package.json in the extension folder ${extension}`);
const main = JSON.parse(readFileSync(join(extension, 'package.json'), 'utf8')).main;
if (main && !existsSync(resolve(extension, main)) && !existsSync(resolve(extension, `${main}.js`))) {
  say(`warning: the extension's main ${main} does not exist (build it first: npm run build)`);
}
if (!existsSync(`${tests}.js`)) fail(`no compiled test index ${tests}.js (compile first: npx tsc -p tsconfig.test.json)`);
if (!(timeoutMs > 0)) fail(`bad --timeout ${opts.timeout}`);

/** What the extension host learns from its environment (see test/integration/*.ts). */
const testEnv = (host) => ({
  XAI_TEST_HOST: host,
  XAI_TEST_WORKSPACE: workspace,
  XAI_TEST_EXTENSION: extension,
  ...(opts.grep ? { XAI_TEST_GREP: opts.grep } : {}),
});

function fail(msg) {
  console.error(`[run-vscode-tests] ${msg}`);
  finish(1);
}

/** Watches the relayed lines for the test index's MOCHA-RESULT line. */
function relay(line) {
  print(line);
  const m = /MOCHA-RESULT (\{.*\})/.exec(line);
  if (m) {
    try { result = JSON.parse(m[1]); } catch { /* not ours */ }
  }
}

function finish(code, why) {
  if (why) say(why);
  const passed = result?.passed ?? 0;
  let failed = result?.failed ?? 0;
  if (code !== 0 && failed === 0) failed = 1; // the run itself failed
  if (code === 0 && !result) { say('the suite passed but printed no MOCHA-RESULT line'); }
  const exitCode = code === 0 && failed === 0 ? 0 : code || 1;
  if (opts['result-file']) {
    mkdirSync(dirname(resolve(opts['result-file'])), { recursive: true });
    writeFileSync(opts['result-file'], JSON.stringify({ passed, failed, exitCode }) + '\n');
  }
  say(`done in ${elapsed()}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(exitCode);
}

// ---------------------------------------------------------------------------------------------
// VS Code desktop (optional; developers who have `code`)

async function runDesktop() {
  const code = spawnSync('sh', ['-c', 'command -v code'], { encoding: 'utf8' }).stdout.trim();
  if (!code) fail('--desktop: no `code` on PATH');
  // `code` is a launcher script; test-electron needs the Electron binary beside its folder
  // (Linux: <install>/bin/code → <install>/code).
  const real = realpathSync(code);
  const candidates = [join(dirname(real), '..', 'code'), join(dirname(real), '..', '..', '..', 'MacOS', 'Electron'), real];
  const executable = candidates.find((p) => existsSync(p) && !p.endsWith('/bin/code')) ?? real;
  const { runTests } = require('@vscode/test-electron');
  // test-electron pipes VS Code's output to ours; watch it for the result line.
  const write = process.stdout.write.bind(process.stdout);
  print = (line) => write(`${line}\n`);
  let pending = '';
  process.stdout.write = (chunk, ...rest) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const l of lines) relay(l);
    const callback = rest.find((a) => typeof a === 'function');
    if (callback) callback();
    return true;
  };
  const scratch = mkdtempSync(join(tmpdir(), 'xai-vscode-'));
  const timer = setTimeout(() => finish(1, `timed out after ${opts.timeout} s (VS Code may still be running)`), timeoutMs);
  let exitCode;
  try {
    exitCode = await runTests({
      vscodeExecutablePath: executable,
      extensionDevelopmentPath: extension,
      extensionTestsPath: tests,
      extensionTestsEnv: testEnv('desktop'),
      launchArgs: [workspace, `--user-data-dir=${join(scratch, 'user-data')}`,
        `--extensions-dir=${join(scratch, 'extensions')}`],
    });
  } catch (err) {
    exitCode = 1;
    console.error(`[run-vscode-tests] ${err}`);
  } finally {
    clearTimeout(timer);
    if (pending) relay(pending);
    process.stdout.write = write;
    rmSync(scratch, { recursive: true, force: true });
  }
  finish(exitCode);
}

// ---------------------------------------------------------------------------------------------
// code-server + Chromium

async function runCodeServer() {
  const { chromium: chromiumPath } = await ensureVsCodeEnv();

  let server;
  let browser;
  let cleaning;
  const cleanup = () => cleaning ??= (async () => {
    await browser?.close().catch(() => {});
    await server?.stop().catch(() => {});
  })();
  const abort = (code, why) => cleanup().then(() => finish(code, why));
  process.on('SIGINT', () => abort(130, 'interrupted'));
  process.on('SIGTERM', () => abort(143, 'terminated'));
  const timer = setTimeout(() => abort(1, `timed out after ${opts.timeout} s`), timeoutMs);

  try {
    server = await startCodeServer({ workspace, env: testEnv('code-server'), testDriver: true });
    say(`code-server up on port ${server.port} (${elapsed()})`);
    server.exited.then((code) => { if (!cleaning) abort(1, `code-server exited (${code}) during the run`); });

    browser = await launchChromium({ executablePath: chromiumPath });
    const { context, page } = browser;

    // The workbench calls this with the suite's exit code (0 passed, 1 failed).
    let resolveDone;
    const suiteDone = new Promise((r) => { resolveDone = r; });
    await page.exposeFunction('codeAutomationExit', (code) => { resolveDone(Number(code)); });
    // The extension host's console output reaches the browser console (see extensionHostLine);
    // everything else, the workbench's own messages, is shown with --verbose.
    let queue = Promise.resolve();
    page.on('console', (msg) => {
      queue = queue.then(async () => {
        const args = await Promise.all(msg.args().map((a) => a.evaluate(
          (v) => v instanceof Error ? (v.stack ?? String(v)) : v).catch(() => String(a))));
        const line = extensionHostLine(args);
        if (line !== undefined) relay(line);
        else if (opts.verbose) console.log(`[browser ${msg.type()}] ${msg.text()}`);
      }).catch(() => { /* page gone */ });
    });
    page.on('pageerror', (err) => { if (opts.verbose) console.log(`[browser pageerror] ${err.message}`); });
    page.on('crash', () => abort(1, 'the browser page crashed'));
    context.on('close', () => { if (!cleaning) abort(1, 'the browser closed during the run'); });

    const remote = (p) => `vscode-remote://${server.host}:${server.port}${p}`;
    const payload = [
      ['extensionDevelopmentPath', remote(extension)],
      ['extensionTestsPath', remote(tests)],
      ['skipWelcome', 'true'],
      ['skipReleaseNotes', 'true'],
    ];
    const url = `${server.url}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    say(`opening the workbench (${elapsed()})`);
    await page.goto(url);
    const code = await suiteDone;
    await queue;
    clearTimeout(timer);
    await cleanup();
    finish(code);
  } catch (err) {
    clearTimeout(timer);
    if (server && !opts.verbose) {
      console.error('[run-vscode-tests] last lines of code-server:\n' + server.logs.slice(-20).join('\n'));
    }
    await abort(1, `error: ${err?.stack ?? err}`);
  }
}

if (opts.desktop) runDesktop();
else runCodeServer();

// Playwright helpers for e2e tests against a real VS Code workbench served by code-server
// (see docs/vscode-harness.md, "Driving the UI"). Typical use:
//
//   const env = await ensureVsCodeEnv();
//   const server = await startCodeServer({ workspace: repoPath('demo'), vsix: repoPath('xai-lens.vsix') });
//   const browser = await launchChromium(env.chromium);
//   const page = browser.page;
//   try {
//     await openWorkbench(page, server.url);
//     await explorerContextMenu(page, 'cat.png', 'Explain Image');
//     await webviewFrame(page).locator('img').first().waitFor();
//     await screenshot(page, 'explain');
//   } finally { await browser.close(); await server.stop(); }
//
// Compiled to out/test/e2e/ (CommonJS) by tsconfig.test.json; the set-up and code-server
// scripts are ES modules in scripts/, loaded with a real dynamic import().
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Frame, FrameLocator, Locator, Page } from 'playwright-core';

/** The repository root (the folder whose package.json is named "xai-lens"). */
export const repoRoot: string = (() => {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'xai-lens') return dir;
  }
  throw new Error(`no xai-lens package.json above ${__dirname}`);
})();

export const repoPath = (...parts: string[]): string => path.join(repoRoot, ...parts);

// TypeScript compiles `import()` to require() for CommonJS output; this one stays an import.
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;
const importScript = <T>(name: string): Promise<T> =>
  importModule(pathToFileURL(repoPath('scripts', name)).href) as Promise<T>;

export interface VsCodeEnv { node24: string; codeServer: string; chromium: string }

export interface CodeServerOptions {
  workspace: string;
  extensionsDir?: string;
  userDataDir?: string;
  port?: number;
  host?: string;
  vsix?: string;
  settings?: Record<string, unknown>;
  env?: Record<string, string>;
  testDriver?: boolean;
  keep?: boolean;
  echo?: boolean;
  healthTimeoutMs?: number;
}

export interface CodeServer {
  url: string;
  port: number;
  host: string;
  pid: number;
  dir: string;
  logFile: string;
  logs: string[];
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** scripts/vscode-setup.mjs: installs Node 24, code-server and Chromium when missing. */
export async function ensureVsCodeEnv(): Promise<VsCodeEnv> {
  const mod = await importScript<{ ensureVsCodeEnv(): Promise<VsCodeEnv> }>('vscode-setup.mjs');
  return mod.ensureVsCodeEnv();
}

/**
 * scripts/code-server.mjs: a fresh code-server on 127.0.0.1 (stop() it when done). Keep
 * `testDriver` off for UI tests: with it, the workbench shows no notification toasts.
 */
export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
  const mod = await importScript<{ startCodeServer(o: CodeServerOptions): Promise<CodeServer> }>('code-server.mjs');
  return mod.startCodeServer(options);
}

export interface Chromium { context: BrowserContext; page: Page; profile: string; close(): Promise<void> }

/**
 * Debian's Chromium with the harness's flags and a fresh profile (scripts/code-server.mjs).
 * Call close() (not context.close()): it is quicker and removes the profile.
 */
export async function launchChromium(executablePath: string): Promise<Chromium> {
  const mod = await importScript<{ launchChromium(o: { executablePath: string }): Promise<Chromium> }>('code-server.mjs');
  return mod.launchChromium({ executablePath });
}

/**
 * Prints the extension host's console output (as it reaches the browser console) with `print`,
 * e.g. `relayExtensionHostConsole(page, (l) => console.log(`[ext] ${l}`))`.
 */
export function relayExtensionHostConsole(page: Page, print: (line: string) => void): void {
  const lineOf = importScript<{ extensionHostLine(args: unknown[]): string | undefined }>('code-server.mjs')
    .then((m) => m.extensionHostLine);
  let queue = Promise.resolve();
  page.on('console', (msg) => {
    queue = queue.then(async () => {
      const args = await Promise.all(msg.args().map((a) => a.evaluate(
        (v: unknown) => v instanceof Error ? (v.stack ?? String(v)) : v).catch(() => String(a))));
      const line = (await lineOf)(args);
      if (line !== undefined) print(line);
    }).catch(() => { /* page gone */ });
  });
}

/** Opens the workbench and waits until it shows the explorer with the workspace's files. */
export async function openWorkbench(page: Page, url: string, timeoutMs = 90_000): Promise<void> {
  await page.goto(url);
  await page.locator('.monaco-workbench').waitFor({ timeout: timeoutMs });
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: timeoutMs });
}

/** The explorer row of a file or folder shown in the explorer (by its exact name). */
export function explorerRow(page: Page, fileName: string): Locator {
  return page.locator('.explorer-folders-view .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(fileName)}$`) }) });
}

/** Opens a file in an editor by clicking its explorer row; resolves when its tab is active. */
export async function openFileFromExplorer(page: Page, fileName: string, timeoutMs = 30_000): Promise<Locator> {
  const row = explorerRow(page, fileName);
  await row.waitFor({ timeout: timeoutMs });
  await row.click();
  const tab = page.locator('.tabs-container .tab.active', { hasText: fileName });
  await tab.waitFor({ timeout: timeoutMs });
  return tab;
}

/**
 * Runs a command from the command palette by its title (e.g. "View: Toggle Word Wrap").
 * Extension commands appear only after the extension host registered them and an open palette
 * does not refresh, so: Escape, F1, type, wait ≤ 2 s for the row, else start over.
 */
export async function runCommand(page: Page, title: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const input = page.locator('.quick-input-widget .quick-input-box input');
  const row = page.locator('.quick-input-list .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) });
  for (;;) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ state: 'visible', timeout: 5_000 });
      await input.fill(`>${title}`);
      await row.first().waitFor({ state: 'visible', timeout: 2_000 });
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`command "${title}" not found in the palette: ${err}`);
      continue;
    }
    if (await row.first().evaluate((el) => el.classList.contains('focused'))) {
      await page.keyboard.press('Enter');
    } else {
      await row.first().click();
    }
    await input.waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => {});
    return;
  }
}

/**
 * Right-clicks an explorer row and picks an item of its context menu. A click right after the
 * menu opens is ignored: hover, wait, click; press Enter if the menu stays open with the focus.
 */
export async function explorerContextMenu(page: Page, fileName: string, itemTitle: string, timeoutMs = 30_000): Promise<void> {
  const row = explorerRow(page, fileName);
  await row.waitFor({ timeout: timeoutMs });
  await row.click({ button: 'right' });
  const item = page.locator('.monaco-menu .action-item')
    .filter({ has: page.locator('.action-label', { hasText: new RegExp(`^${escapeRegExp(itemTitle)}$`) }) })
    .first();
  await item.waitFor({ state: 'visible', timeout: timeoutMs });
  await item.hover();
  await page.waitForTimeout(300);
  await item.locator('.action-menu-item').click();
  // The menu closes a moment after the click. Only a menu still open after that missed the click:
  // Enter then runs its focused item. Pressing Enter while it is closing would reach the explorer
  // instead and open the file as an editor beside the panels.
  const menu = page.locator('.monaco-menu').first();
  const closed = await menu.waitFor({ state: 'hidden', timeout: 2_000 }).then(() => true, () => false);
  // Menus may live in a shadow root: follow the focus into it.
  const focusInMenu = () => page.evaluate(() => {
    type Focusable = { closest(sel: string): unknown; shadowRoot: { activeElement: Focusable | null } | null };
    let el = (globalThis as unknown as { document: { activeElement: Focusable | null } }).document.activeElement;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
    return el?.closest('.monaco-menu') != null;
  });
  if (!closed && await focusInMenu()) {
    await page.keyboard.press('Enter');
    await menu.waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => {});
  }
}

/**
 * Waits for a notification toast containing `text`; returns it. The workbench shows no toasts
 * when code-server runs with the smoke-test driver (startCodeServer's `testDriver: true`).
 */
export async function waitForNotification(page: Page, text: string | RegExp, timeoutMs = 30_000): Promise<Locator> {
  const toast = page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
  await toast.waitFor({ state: 'visible', timeout: timeoutMs });
  return toast;
}

/**
 * The content of the newest webview: it is two iframes deep (the webview's host iframe, then
 * its #active-frame). The first webview takes 8–10 s to appear, later ones about 1 s.
 */
export function webviewFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
}

/** What each webview document shows: the body's data attributes and its visible error text. */
export async function describeWebviews(page: Page): Promise<string[]> {
  const out: string[] = [];
  for (const f of page.frames()) {
    const d = await f.evaluate(() => {
      const doc = (globalThis as unknown as { document?: { body?: { dataset: Record<string, string>; innerText: string } | null } }).document;
      const b = doc?.body;
      return b?.dataset.image ? `${b.dataset.image} (maps drawn: ${b.dataset.mapVersion ?? 0}) ${b.innerText.replace(/\s+/g, ' ').slice(0, 300)}` : undefined;
    }).catch(() => undefined);
    if (d) out.push(d);
  }
  return out;
}

/**
 * The panel (webview document) explaining `imageName`, found among all webviews by the
 * `data-image` attribute the panel sets on its body. On timeout the error lists every panel and
 * the open editor tabs, so a failure says what the workbench showed instead.
 */
export async function panelFrame(page: Page, imageName: string, timeoutMs = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const f of page.frames()) {
      const image = await f.evaluate(() => (globalThis as unknown as { document?: { body?: { dataset: Record<string, string> } | null } }).document?.body?.dataset.image).catch(() => undefined);
      if (image === imageName) return f;
    }
    if (Date.now() > deadline) {
      const tabs = await page.locator('.tabs-container .tab').allInnerTexts().catch(() => []);
      const panels = await describeWebviews(page);
      throw new Error(`no panel for ${imageName} after ${timeoutMs} ms; editor tabs: ${JSON.stringify(tabs)}; panels: ${JSON.stringify(panels)}`);
    }
    await page.waitForTimeout(250);
  }
}

/** Saves a screenshot as test-artifacts/<name>.png (in the repository); returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = repoPath('test-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path: file });
  return file;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface E2eSession {
  page: Page;
  server: CodeServer;
  /** Logs a step with the seconds since the session started. */
  step(msg: string): void;
  /** Counts a passed check, or throws when `ok` is false. */
  check(ok: boolean, what: string): void;
}

/**
 * Runs one e2e scenario: code-server on `workspace` (with `vsix` installed), Chromium with the
 * extension host's console relayed, then `body`, which counts its checks with `check`. On
 * failure it saves a screenshot and code-server's last lines; it always stops both, prints
 * "N passed, N failed" last and sets the exit code.
 */
export function runE2e(name: string, options: { workspace: string; vsix?: string }, body: (s: E2eSession) => Promise<void>): void {
  const t0 = Date.now();
  const step = (msg: string) => console.log(`[${name} ${((Date.now() - t0) / 1000).toFixed(1)} s] ${msg}`);
  const main = async (): Promise<number> => {
    const env = await ensureVsCodeEnv();
    step(`starting code-server on ${options.workspace}${options.vsix ? ` with ${options.vsix}` : ''}`);
    const server = await startCodeServer(options);
    const browser = await launchChromium(env.chromium);
    const { page } = browser;
    relayExtensionHostConsole(page, (line) => console.log(`[extension host] ${line}`));
    let passed = 0;
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new Error(`failed: ${what}`);
      passed++;
      step(`ok: ${what}`);
    };
    try {
      await body({ page, server, step, check });
      console.log(`${passed} passed, 0 failed`);
      return 0;
    } catch (err) {
      console.error(err);
      await screenshot(page, `${name}-failure`).then((f) => console.error(`screenshot of the failure: ${f}`), () => {});
      console.error('last lines of code-server:\n' + server.logs.slice(-20).join('\n'));
      console.log(`${passed} passed, 1 failed`);
      return 1;
    } finally {
      await browser.close();
      await server.stop();
      step('stopped');
    }
  };
  main().then((code) => { process.exitCode = code; }, (err) => {
    console.error(err);
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
  });
}

/**
 * Shared by the hardening tests (hardening*.test.ts): running dist/cli.js (as an unprivileged
 * user when the tests run as root, since root ignores file modes), and the one-line check every
 * bad input must pass: exit 2, exactly one line on stderr, no stack trace, nothing on stdout.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';

export const ROOT = path.resolve(__dirname, '../../../..');
export const CLI = path.join(ROOT, 'dist', 'cli.js');
export const SHAPES = path.join(ROOT, 'demo', 'models', 'shapes');

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
/** The unprivileged user the permission cases run as when the tests run as root ('nobody'). */
export const NOBODY = 65534;

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options for an unprivileged child: nobody's uid and gid when root, nothing otherwise. */
export function unprivileged(): Pick<SpawnOptions, 'uid' | 'gid'> {
  return isRoot ? { uid: NOBODY, gid: NOBODY } : {};
}

/**
 * Why the permission cases cannot run here, or undefined when they can: as root, 'nobody' must be
 * able to run dist/cli.js (read the repository and node_modules).
 */
export function whyNoUnprivilegedRun(): string | undefined {
  if (process.platform === 'win32') return 'file modes do not restrict reading on Windows';
  if (!isRoot) return undefined;
  const r = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8', cwd: os.tmpdir(), ...unprivileged(), timeout: 60_000 });
  if (r.error) return `cannot start a process as uid ${NOBODY}: ${r.error.message}`;
  if (r.status !== 0) return `uid ${NOBODY} cannot run ${CLI} (the repository or node_modules is not readable by it): ${r.stderr.split('\n')[0]}`;
  return undefined;
}

/** A temporary folder the unprivileged user owns (so it can write where the test lets it). */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  if (isRoot) fs.chownSync(dir, NOBODY, NOBODY);
  return dir;
}

/** Hands `p` (and everything under it) to the unprivileged user, when root. */
export function giveAway(p: string): void {
  if (!isRoot) return;
  fs.chownSync(p, NOBODY, NOBODY);
  if (fs.statSync(p).isDirectory()) for (const name of fs.readdirSync(p)) giveAway(path.join(p, name));
}

export function cli(args: readonly string[], opts: { cwd: string; asUser?: boolean; timeout?: number; env?: NodeJS.ProcessEnv }): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8', cwd: opts.cwd, timeout: opts.timeout ?? 120_000, env: opts.env ?? process.env, ...(opts.asUser ? unprivileged() : {}),
  });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Starts the CLI and resolves when `until` matches a line of its stderr (then sends `signal`) or
 * when it exits; rejects after `timeoutMs`. Resolves with what it printed and how it ended.
 */
export function cliUntil(args: readonly string[], opts: { cwd: string; until: RegExp; signal?: NodeJS.Signals; timeoutMs: number }): Promise<Run & { matched?: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let matched: string | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no line matching ${opts.until} within ${opts.timeoutMs} ms; stderr so far:\n${stderr}`));
    }, opts.timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (matched !== undefined) return;
      const line = stderr.split('\n').find((l) => opts.until.test(l));
      if (line !== undefined) {
        matched = line;
        child.kill(opts.signal ?? 'SIGINT');
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, matched });
    });
  });
}

/** Exit 2, exactly one line on stderr (`xai-lens: …` matching `message`), no stack trace, nothing on stdout. */
export function assertOneLine(r: Run, message: RegExp, what = ''): string {
  const at = what ? `${what}: ` : '';
  assert.equal(r.code, 2, `${at}exit ${r.code} (${r.signal ?? 'no signal'}); stderr:\n${r.stderr}`);
  assert.ok(r.stderr.endsWith('\n'), `${at}the line ends with a newline: ${JSON.stringify(r.stderr)}`);
  const lines = r.stderr.slice(0, -1).split('\n');
  assert.equal(lines.length, 1, `${at}one line on stderr, got:\n${r.stderr}`);
  assert.ok(lines[0].startsWith('xai-lens: '), `${at}${lines[0]}`);
  assert.ok(!r.stderr.includes('    at '), `${at}no stack trace`);
  assert.ok(!r.stderr.includes('\r'), `${at}no carriage return`);
  assert.match(lines[0], message, at);
  assert.equal(r.stdout, '', `${at}nothing on stdout`);
  return lines[0];
}

/** Every file under `dir`, relative, sorted ([] when it does not exist). */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

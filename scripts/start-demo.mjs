// `npm run start-demo`: installs what it needs and starts the extension in a real VS Code on demo/.
//   - VS Code desktop (`code` on PATH): builds, then
//     `code --extensionDevelopmentPath=<repo> <repo>/demo`.
//   - otherwise: sets up Node 24, code-server and Chromium's packages (scripts/vscode-setup.mjs),
//     builds and packages xai-lens.vsix (scripts/package.mjs), serves VS Code with the extension
//     installed on http://127.0.0.1:<port>/ (code-server), prints the URL and keeps serving until
//     Ctrl-C.
//
//   node scripts/start-demo.mjs [--port 8080] [--server] [--no-build]
//     --server    use code-server even when `code` is on PATH
//     --no-build  reuse xai-lens.vsix (code-server) or dist/ (desktop) as they are
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, startCodeServer } from './code-server.mjs';
import { ROOT, ensureVsCodeEnv } from './vscode-setup.mjs';

const say = (msg) => console.log(`[start-demo] ${msg}`);
const die = (msg) => { console.error(`[start-demo] ${msg}`); process.exit(1); };

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string' },
    server: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
  },
});
const demo = join(ROOT, 'demo');
if (!existsSync(demo)) die(`no demo folder at ${demo}`);
process.chdir(ROOT);

function run(title, cmd, args) {
  say(title);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) die(`${title} failed (${r.status ?? r.signal})`);
}

const code = spawnSync('sh', ['-c', 'command -v code'], { encoding: 'utf8' }).stdout.trim();
if (code && !opts.server) {
  if (!opts['no-build']) run('build (npm run build)', 'npm', ['run', 'build', '--silent']);
  say(`VS Code desktop: ${code} --extensionDevelopmentPath=${ROOT} ${demo}`);
  const r = spawnSync(code, [`--extensionDevelopmentPath=${ROOT}`, demo], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

await ensureVsCodeEnv();
const vsix = join(ROOT, 'xai-lens.vsix');
if (!opts['no-build'] || !existsSync(vsix)) run('build and package (npm run package)', process.execPath, ['scripts/package.mjs']);

/** --port, else 8080 when free, else any free port. */
async function pickPort() {
  if (opts.port) return Number(opts.port);
  const free8080 = await new Promise((resolveProbe) => {
    const srv = createServer();
    srv.once('error', () => resolveProbe(false));
    srv.listen(8080, '127.0.0.1', () => srv.close(() => resolveProbe(true)));
  });
  return free8080 ? 8080 : freePort();
}

say('starting code-server with xai-lens.vsix installed');
const server = await startCodeServer({ workspace: demo, vsix, port: await pickPort() });
const line = '─'.repeat(72);
console.log(`\n${line}\n  XAI Lens demo in VS Code (code-server): open\n\n    ${server.url}\n\n` +
  '  in a browser on this machine (from another one: ssh -L ' +
  `${server.port}:127.0.0.1:${server.port} <this host>).\n` +
  `  Server log: ${server.logFile}\n  Ctrl-C stops it.\n${line}\n`);

let stopping = false;
const stop = async (why, exitCode) => {
  if (stopping) return;
  stopping = true;
  say(`${why}: stopping code-server`);
  await server.stop();
  process.exit(exitCode);
};
process.on('SIGINT', () => stop('Ctrl-C', 0));
process.on('SIGTERM', () => stop('terminated', 0));
process.on('SIGHUP', () => stop('hang-up', 0));
server.exited.then((c) => {
  if (stopping) return;
  console.error(server.logs.slice(-20).join('\n'));
  stop(`code-server exited on its own (${c})`, 1);
});

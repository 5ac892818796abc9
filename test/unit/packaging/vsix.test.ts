/**
 * The per-platform .vsix files that `npm run package` makes (scripts/package.mjs; `npm test`
 * makes them before the unit tests): each one's manifest names its target platform, and it holds
 * its own @img/sharp-<os>-<arch> (and libvips, where that is a package of its own) and
 * onnxruntime-node binaries — none for darwin-x64, which onnxruntime-node does not build for —
 * and no native binary of any other platform, told by the binaries' own headers (ELF, Mach-O,
 * PE), not by their names. This machine's .vsix is unpacked and its natives run: sharp decodes a
 * demo image and onnxruntime classifies it with the demo's PyTorch model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Zip } from './zip';

const ROOT = path.resolve(__dirname, '../../../..');

const TARGETS: Record<string, { os: string; cpu: string }> = {
  'linux-x64': { os: 'linux', cpu: 'x64' },
  'linux-arm64': { os: 'linux', cpu: 'arm64' },
  'darwin-x64': { os: 'darwin', cpu: 'x64' },
  'darwin-arm64': { os: 'darwin', cpu: 'arm64' },
  'win32-x64': { os: 'win32', cpu: 'x64' },
};
/** onnxruntime-node 1.31.1's bin/napi-v6/<os>/<arch> folders: no darwin/x64. */
const ORT_BUILDS = ['linux/x64', 'linux/arm64', 'darwin/arm64', 'win32/x64', 'win32/arm64'];
const ORT_BIN = path.join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
const NATIVE_NAME = /\.(node|dll|dylib)$|\.so(\.\d+)*$/;
const HOST = `${process.platform}-${process.arch}`;

/** The platform a native binary is built for, from its header; undefined for anything else. */
function binaryPlatform(b: Buffer): { os: string; cpus: string[] } | undefined {
  if (b.length < 64) return undefined;
  // ELF: e_machine at 18, in the file's byte order.
  if (b.readUInt32BE(0) === 0x7f454c46) {
    const machine = b[5] === 2 ? b.readUInt16BE(18) : b.readUInt16LE(18);
    const cpu = ({ 0x3e: 'x64', 0xb7: 'arm64', 0x28: 'arm', 0x03: 'ia32' } as Record<number, string>)[machine] ?? `elf-machine-${machine}`;
    return { os: 'linux', cpus: [cpu] };
  }
  const machO = (type: number) => ({ 0x01000007: 'x64', 0x0100000c: 'arm64', 7: 'ia32', 12: 'arm' } as Record<number, string>)[type] ?? `mach-cpu-${type}`;
  const magicLE = b.readUInt32LE(0);
  if (magicLE === 0xfeedfacf || magicLE === 0xfeedface) return { os: 'darwin', cpus: [machO(b.readInt32LE(4) >>> 0)] };
  // A universal binary: a big-endian list of (cputype, ...) records, 20 bytes each (32 for fat64).
  const magicBE = b.readUInt32BE(0);
  if (magicBE === 0xcafebabe || magicBE === 0xcafebabf) {
    const n = b.readUInt32BE(4);
    const size = magicBE === 0xcafebabf ? 32 : 20;
    if (n > 0 && n < 16) return { os: 'darwin', cpus: Array.from({ length: n }, (_, i) => machO(b.readUInt32BE(8 + i * size))) };
  }
  // PE: "MZ", then the PE header where e_lfanew says, its machine field after "PE\0\0".
  if (b.toString('latin1', 0, 2) === 'MZ') {
    const pe = b.readUInt32LE(0x3c);
    if (pe + 6 <= b.length && b.readUInt32BE(pe) === 0x50450000) {
      const machine = b.readUInt16LE(pe + 4);
      return { os: 'win32', cpus: [({ 0x8664: 'x64', 0xaa64: 'arm64', 0x14c: 'ia32' } as Record<number, string>)[machine] ?? `pe-machine-${machine}`] };
    }
  }
  return undefined;
}

/** The first bytes of a file: enough for any of those headers. */
function head(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(4096);
    return b.subarray(0, fs.readSync(fd, b, 0, b.length, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/** Why the .vsix of `target` cannot be checked, or undefined when it can. */
function notChecked(target: string): string | undefined {
  const file = path.join(ROOT, `xai-lens-${target}.vsix`);
  if (!fs.existsSync(file)) return `xai-lens-${target}.vsix is not built (npm run package; npm test builds it before the unit tests)`;
  const bundle = path.join(ROOT, 'dist', 'extension.js');
  if (fs.existsSync(bundle) && fs.statSync(bundle).mtimeMs > fs.statSync(file).mtimeMs) {
    return `xai-lens-${target}.vsix is older than dist/extension.js (npm run package packages the current build)`;
  }
  return undefined;
}

test('the binary header reader tells the platforms of this machine\'s own natives', () => {
  const host = binaryPlatform(head(process.execPath));
  assert.deepEqual(host, { os: process.platform, cpus: [process.arch] });
  const ort = path.join(ORT_BIN, 'darwin', 'arm64', 'onnxruntime_binding.node');
  const win = path.join(ORT_BIN, 'win32', 'x64', 'onnxruntime_binding.node');
  const linuxArm = path.join(ORT_BIN, 'linux', 'arm64', 'onnxruntime_binding.node');
  assert.deepEqual(binaryPlatform(head(ort)), { os: 'darwin', cpus: ['arm64'] });
  assert.deepEqual(binaryPlatform(head(win)), { os: 'win32', cpus: ['x64'] });
  assert.deepEqual(binaryPlatform(head(linuxArm)), { os: 'linux', cpus: ['arm64'] });
  assert.equal(binaryPlatform(Buffer.from('{"name":"not a binary"}'.padEnd(80))), undefined);
  // The folders the check below expects are the ones onnxruntime-node ships.
  const shipped = fs.readdirSync(ORT_BIN).flatMap((o) => fs.readdirSync(path.join(ORT_BIN, o)).map((a) => `${o}/${a}`));
  assert.deepEqual(shipped.sort(), [...ORT_BUILDS].sort());
});

for (const [target, { os: tos, cpu }] of Object.entries(TARGETS)) {
  const withOrt = ORT_BUILDS.includes(`${tos}/${cpu}`);
  test(`xai-lens-${target}.vsix: TargetPlatform ${target}, its own sharp${withOrt ? ' and onnxruntime' : ' (no onnxruntime: none is built for it)'} binaries, no other platform's`, (t) => {
    const why = notChecked(target);
    if (why) return t.skip(why);
    const zip = Zip.open(path.join(ROOT, `xai-lens-${target}.vsix`));
    const names = new Set(zip.names);

    const vsixManifest = zip.read('extension.vsixmanifest').toString('utf8');
    const identity = /<Identity\b[^>]*>/.exec(vsixManifest)?.[0] ?? '';
    assert.match(identity, new RegExp(`\\bTargetPlatform="${target}"`), identity);
    const manifest = JSON.parse(zip.read('extension/package.json').toString('utf8'));
    assert.equal(manifest.name, 'xai-lens');
    assert.equal(manifest.files, undefined, 'the packaged manifest has no "files"');
    for (const f of ['dist/extension.js', 'dist/worker.js', 'dist/webview.js', 'dist/tfjs-backend-wasm.wasm', 'LICENSE.txt', 'changelog.md', 'readme.md']) {
      assert.ok(names.has(`extension/${f}`), `${f} is in it`);
    }
    for (const tool of ['cli', 'fixtures', 'bench', 'export-dataset']) assert.ok(!names.has(`extension/dist/${tool}.js`), `dist/${tool}.js is not`);
    const ours = [...names].filter((n) => !n.startsWith('extension/node_modules/'));
    assert.deepEqual(ours.filter((n) => /^extension\/(src|test|demo|scripts|bench)\//.test(n) || /\.(map|ts)$/.test(n)), [], 'no sources, tests, demo or source maps');

    // sharp: its own @img packages and nothing of other platforms'.
    const img = [...new Set([...names].filter((n) => n.startsWith('extension/node_modules/@img/')).map((n) => n.split('/')[3]))].sort();
    const ownImg = tos === 'win32' ? [`sharp-${target}`] : [`sharp-${target}`, `sharp-libvips-${target}`];
    assert.deepEqual(img, ['colour', ...ownImg].sort());
    assert.ok(names.has(`extension/node_modules/@img/sharp-${target}/lib/sharp-${target}.node`));
    const libvips = [...names].filter((n) => /\/lib\/libvips[^/]*\.(so[.\d]*|dylib|dll)$/.test(n));
    assert.ok(libvips.length > 0, 'libvips is in it');
    assert.ok(names.has('extension/node_modules/sharp/package.json'));

    // onnxruntime-node: this platform's folder, file for file; darwin-x64 has none, so none of it.
    const ort = [...names].filter((n) => n.startsWith('extension/node_modules/onnxruntime-node/'));
    if (withOrt) {
      const prefix = `extension/node_modules/onnxruntime-node/bin/napi-v6/${tos}/${cpu}/`;
      const shipped = fs.readdirSync(path.join(ORT_BIN, tos, cpu)).map((f) => prefix + f).sort();
      assert.deepEqual(ort.filter((n) => n.includes('/bin/')).sort(), shipped);
      assert.ok(names.has(`${prefix}onnxruntime_binding.node`));
      assert.equal(manifest.dependencies['onnxruntime-node'], '1.31.1');
    } else {
      assert.deepEqual(ort, [], 'onnxruntime-node is left out where it has no build');
      assert.ok(!names.has('extension/node_modules/onnxruntime-common/package.json'), 'and so is what only it needs');
      assert.equal(manifest.dependencies['onnxruntime-node'], undefined);
    }

    // Every native binary, found by its header whatever its name, is built for this target.
    const natives: string[] = [];
    for (const n of zip.names) {
      if (n.endsWith('/')) continue;
      const kind = binaryPlatform(zip.read(n));
      if (NATIVE_NAME.test(n)) assert.ok(kind, `${n} is a native binary`);
      if (!kind) continue;
      natives.push(n);
      assert.equal(kind.os, tos, `${n} is built for ${kind.os}, not ${tos}`);
      assert.ok(kind.cpus.includes(cpu), `${n} is built for ${kind.cpus.join('+')}, not ${cpu}`);
    }
    const expectedNatives = 1 + libvips.length + (withOrt ? ort.filter((n) => NATIVE_NAME.test(n)).length : 0);
    assert.equal(natives.length, expectedNatives, natives.join('\n'));
  });
}

test(`this machine's .vsix (xai-lens-${HOST}.vsix) runs its natives: sharp decodes a demo image, onnxruntime classifies it`, (t) => {
  if (!(HOST in TARGETS)) return t.skip(`no .vsix is made for ${HOST}`);
  const why = notChecked(HOST);
  if (why) return t.skip(why);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-vsix-'));
  try {
    Zip.open(path.join(ROOT, `xai-lens-${HOST}.vsix`)).extract('extension/', dir);
    const script = `
      const path = require('node:path');
      const dir = process.argv[1];
      const sharp = require(path.join(dir, 'node_modules', 'sharp'));
      const ort = require(path.join(dir, 'node_modules', 'onnxruntime-node'));
      (async () => {
        const { data, info } = await sharp(process.argv[2]).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        const { width: w, height: h } = info;
        const x = new Float32Array(3 * h * w);
        for (let p = 0; p < h * w; p++) for (let c = 0; c < 3; c++) x[c * h * w + p] = data[p * 3 + c] / 255;
        const session = await ort.InferenceSession.create(process.argv[3]);
        const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, h, w]) });
        console.log(JSON.stringify({ size: [w, h], logits: [...out[session.outputNames[0]].data], sharp: require.resolve('sharp', { paths: [dir] }), ort: ort.env.versions.node }));
      })().catch((err) => { console.error(err); process.exit(1); });`;
    const image = path.join(ROOT, 'demo', 'images', 'circle-1.png');
    const model = path.join(ROOT, 'demo', 'models', 'shapes-pytorch', 'model.onnx');
    const r = spawnSync(process.execPath, ['-e', script, dir, image, model], { encoding: 'utf8', cwd: os.tmpdir() });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout);
    assert.deepEqual(got.size, [64, 64]);
    assert.ok(got.sharp.startsWith(dir), `sharp came from the .vsix (${got.sharp})`);
    assert.equal(got.ort, '1.31.1');
    // The labels are circle, square, triangle: circle-1.png is a circle.
    assert.equal(got.logits.length, 3);
    assert.equal(got.logits.indexOf(Math.max(...got.logits)), 0, `logits ${got.logits}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Bad model files of the ONNX, Keras 3 (.keras) and legacy Keras (.h5) formats: empty, cut short
 * at 10 %, 50 % and 99 %, damaged, a folder, unreadable, missing parts, unsupported operators or
 * layers, token models, external data where it must not be read. Through the CLI (dist/cli.js:
 * explain, sanity, tcav, attention) each is exit 2, exactly one line on stderr naming the file as
 * given, no stack trace and nothing written to --out; through loadModel (the panels' path) each is
 * the UserError with that same line.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { unzipSync, zipSync } from 'fflate';
import { UserError } from '../../../src/shared/errors';
import { loadModel } from '../../../src/extension/model/load';
import { checkpointFiles } from '../../../src/extension/model/formats/registry';
import { useBackend } from '../../helpers/tf-test';
import { makeSmallExperiment } from '../../helpers/tcav-images';

const ROOT = path.resolve(__dirname, '../../../..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const ONNX = path.join(ROOT, 'test', 'fixtures', 'onnx-models');
const KERAS = path.join(ROOT, 'test', 'fixtures', 'keras');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-cli-formats-'));
const p = (...names: string[]) => path.join(dir, ...names);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function cli(...args: string[]) {
  // wasm: the cpu backend prints TensorFlow.js' "use tfjs-node" banner on stderr once tensors exist.
  const r = spawnSync(process.execPath, [CLI, ...args, '--backend', 'wasm'], { encoding: 'utf8', cwd: dir });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface BadModel {
  what: string;
  /** The model path as given to the CLI and to loadModel. */
  file: string;
  /** What the one line says (after "xai-lens: "). */
  says: RegExp;
}

const BAD: BadModel[] = [];
const bad = (what: string, file: string, says: RegExp) => BAD.push({ what, file, says });

/** `bytes` with 16 bytes XOR-ed from `at` on. */
function flipped(bytes: Buffer, at: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = at; i < Math.min(out.length, at + 16); i++) out[i] ^= 0xa5;
  return out;
}

/** A .keras archive without one of its members. */
function withoutMember(keras: Buffer, member: string): Buffer {
  const entries = unzipSync(keras);
  delete entries[member];
  return Buffer.from(zipSync(entries, { level: 0 }));
}

const SOURCES = {
  onnx: path.join(ONNX, 'resnet.ts.onnx'),
  keras: path.join(KERAS, 'sequential_tiny.keras'),
  h5: path.join(KERAS, 'sequential_tiny.h5'),
} as const;

before(async () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run npm run build first`);
  await useBackend('cpu');
  await sharp({ create: { width: 24, height: 16, channels: 3, background: { r: 200, g: 30, b: 60 } } }).png().toFile(p('img.png'));
  await makeSmallExperiment(p('experiment'));

  for (const [ext, source] of Object.entries(SOURCES)) {
    const bytes = fs.readFileSync(source);
    fs.writeFileSync(p(`empty.${ext}`), Buffer.alloc(0));
    bad(`an empty .${ext}`, p(`empty.${ext}`), / is empty$/);
    for (const pct of [10, 50, 99]) {
      fs.writeFileSync(p(`cut${pct}.${ext}`), bytes.subarray(0, Math.floor((bytes.length * pct) / 100)));
      bad(`a .${ext} cut at ${pct} %`, p(`cut${pct}.${ext}`), / is truncated/);
    }
    fs.mkdirSync(p(`folder.${ext}`));
    bad(`a folder named .${ext}`, p(`folder.${ext}`), /^no model found in /);
    fs.copyFileSync(source, p(`locked.${ext}`));
    fs.chmodSync(p(`locked.${ext}`), 0);
  }
  // Damage: .keras archives carry a CRC-32 per member, so any flipped byte is caught; ONNX and HDF5
  // carry no checksum over the weights, so their structure is damaged here (see the test below).
  const keras = fs.readFileSync(SOURCES.keras);
  fs.writeFileSync(p('flipped.keras'), flipped(keras, keras.length >> 1));
  bad('a .keras with bytes flipped in the middle', p('flipped.keras'), / is damaged: its model\.weights\.h5 does not match the CRC-32/);
  const onnx = fs.readFileSync(SOURCES.onnx);
  fs.writeFileSync(p('flipped.onnx'), flipped(onnx, Math.floor(onnx.length * 0.01)));
  bad('an .onnx with its graph damaged', p('flipped.onnx'), / is not a valid ONNX model/);
  const h5 = fs.readFileSync(SOURCES.h5);
  fs.writeFileSync(p('flipped.h5'), flipped(h5, Math.floor(h5.length * 0.01)));
  bad('an .h5 with its structure damaged', p('flipped.h5'), / is damaged: /);

  fs.writeFileSync(p('no-config.keras'), withoutMember(keras, 'config.json'));
  bad('a .keras without config.json', p('no-config.keras'), / is not a Keras 3 model archive \(it has no config\.json\)$/);
  fs.writeFileSync(p('no-weights.keras'), withoutMember(keras, 'model.weights.h5'));
  bad('a .keras without model.weights.h5', p('no-weights.keras'), / holds no weights \(no model\.weights\.h5 in the archive\)$/);
  bad('a weights-only .h5', path.join(KERAS, 'weights_only.weights.h5'), / holds no model config \(a weights-only \.h5/);
  bad('an .onnx with unsupported operators', path.join(ONNX, 'unsupported.onnx'), / uses operators XAI Lens does not support: Unique ×2, com\.microsoft\.FusedConv ×1, NonZero ×1$/);
  bad('a .keras with unknown layers', path.join(KERAS, 'unsupported.keras'), / uses layers XAI Lens does not support: GroupNormalization ×2, UnitNormalization ×1$/);

  fs.mkdirSync(p('outside'));
  fs.copyFileSync(path.join(ONNX, 'ext_outside.onnx'), p('outside', 'model.onnx'));
  fs.writeFileSync(p('outside.data'), Buffer.alloc(48)); // it exists, and still is not read
  bad('an .onnx whose external data is ../outside.data', p('outside', 'model.onnx'), / names external data outside its folder \(\.\.\/outside\.data\)/);
  bad('an .onnx whose external data is /dev/zero', path.join(ONNX, 'ext_devzero.onnx'), / names external data at an absolute path \(\/dev\/zero\)/);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Token models: not image models. The CLI commands that take images say so and point at Show Attention. */
const TOKENS: BadModel[] = [
  { what: 'an ONNX token model', file: path.join(ONNX, 'tokens.onnx'), says: / takes token ids \(int64 \[N, 8\]\), not an image .*Show Attention: xai-lens attention --tokens\)$/ },
  { what: 'a .keras token model', file: path.join(KERAS, 'tokens.keras'), says: / takes token ids \(int32 \[\?, 8\]\), not an image .*Show Attention: xai-lens attention --tokens\)$/ },
  { what: 'an .h5 token model', file: path.join(KERAS, 'tokens.h5'), says: / takes token ids \(int32 \[\?, 8\]\), not an image .*Show Attention: xai-lens attention --tokens\)$/ },
];

function assertOneLine(r: { code: number | null; stdout: string; stderr: string }, m: BadModel, says: RegExp, out?: string): void {
  assert.equal(r.code, 2, `exit ${r.code}; stderr: ${r.stderr}`);
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.ok(lines[0].startsWith('xai-lens: '), lines[0]);
  const message = lines[0].slice('xai-lens: '.length);
  assert.ok(message.includes(m.file), `names ${m.file}: ${message}`);
  assert.match(message, says);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.equal(r.stdout, '');
  if (out !== undefined) assert.ok(!fs.existsSync(out) || fs.readdirSync(out).length === 0, `nothing written to ${out}`);
}

let run = 0;
const COMMANDS: [string, (m: BadModel, out: string) => string[]][] = [
  ['explain', (m, out) => ['explain', p('img.png'), '--model', m.file, '--out', out]],
  ['sanity', (m, out) => ['sanity', p('img.png'), '--model', m.file, '--out', out]],
  ['tcav', (m, out) => ['tcav', p('experiment', 'experiment.json'), '--model', m.file, '--out', out, '--cache', path.join(out, 'cache')]],
  ['attention', (m, out) => ['attention', p('img.png'), '--model', m.file, '--out', out]],
];

// The cases are made in before(); node:test collects tests first, so one test per command walks them.
for (const [command, args] of COMMANDS) {
  test(`${command}: every bad model file of the new formats exits 2 with one line naming it, nothing written`, () => {
    assert.ok(BAD.length >= 25, `${BAD.length} cases`);
    for (const m of BAD) {
      const out = p(`out-${command}-${++run}`);
      const r = cli(...args(m, out));
      try {
        assertOneLine(r, m, m.says, out);
      } catch (err) {
        (err as Error).message = `${m.what}: ${(err as Error).message}`;
        throw err;
      }
    }
  });
}

for (const m of TOKENS) {
  for (const [command, args] of COMMANDS.filter(([c]) => c !== 'attention')) {
    test(`${command}: ${m.what} is not an image model, and the line points at Show Attention`, () => {
      const out = p(`out-${command}-${++run}`);
      assertOneLine(cli(...args(m, out)), m, m.says, out);
    });
  }
}

test('attention: token models named in one line (an ONNX one is refused, a Keras one without attention layers says so)', () => {
  const [tokOnnx, tokKeras, tokH5] = TOKENS;
  assertOneLine(cli('attention', '--tokens', '1 2 3 4 5 6 7 8', '--model', tokOnnx.file), tokOnnx, / takes token ids: attention maps of ONNX models need an image input/);
  for (const m of [tokKeras, tokH5]) assertOneLine(cli('attention', '--tokens', '1 2 3 4 5 6 7 8', '--model', m.file), m, /has no MultiHeadAttention layer, so there is no attention to show$/);
});

test('an unreadable .onnx, .keras or .h5: exit 2, one line naming it, in every command and in loadModel', { skip: isRoot && 'running as root, which reads files whatever their mode' }, async () => {
  for (const ext of Object.keys(SOURCES)) {
    const m: BadModel = { what: `an unreadable .${ext}`, file: p(`locked.${ext}`), says: /^cannot read .*permission denied/i };
    for (const [command, args] of COMMANDS) {
      const out = p(`out-${command}-${++run}`);
      assertOneLine(cli(...args(m, out)), m, m.says, out);
    }
    await assert.rejects(loadModel(m.file), (err: unknown) => err instanceof UserError && err.message.includes(m.file) && m.says.test(err.message));
  }
});

test('ONNX and HDF5 carry no checksum over their weights: bytes flipped in the middle still load and explain (nothing breaks)', () => {
  for (const [ext, source] of [['onnx', SOURCES.onnx], ['h5', SOURCES.h5]] as const) {
    const bytes = fs.readFileSync(source);
    const file = p(`middle.${ext}`);
    fs.writeFileSync(file, flipped(bytes, bytes.length >> 1));
    const r = cli('explain', p('img.png'), '--model', file, '--out', p(`out-middle-${ext}`), '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).maps.length, 1);
  }
});

test('loadModel (the panels\' path) rejects each with the UserError the CLI prints', async () => {
  for (const m of [...BAD, ...TOKENS]) {
    await assert.rejects(loadModel(m.file), (err: unknown) => {
      assert.ok(err instanceof UserError, `${m.what}: a UserError, got ${String(err)}`);
      assert.ok(!err.message.includes('\n'), `${m.what}: one line`);
      assert.ok(err.message.includes(m.file), `${m.what}: names ${m.file}: ${err.message}`);
      assert.match(err.message, m.says, m.what);
      return true;
    });
  }
});

test('the files are named as given: a relative path stays relative, in every format', () => {
  for (const ext of ['onnx', 'keras', 'h5']) {
    const r = spawnSync(process.execPath, [CLI, 'explain', 'img.png', '--model', `cut50.${ext}`, '--backend', 'wasm'], { encoding: 'utf8', cwd: dir });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^xai-lens: ${esc(`cut50.${ext}`)} is truncated`));
  }
});

test('external data that load refuses is no part of the checkpoint either (nothing hashes /dev/zero or ../outside.data)', () => {
  assert.deepEqual(checkpointFiles(p('outside', 'model.onnx')), [p('outside', 'model.onnx')]);
  assert.deepEqual(checkpointFiles(path.join(ONNX, 'ext_devzero.onnx')), [path.join(ONNX, 'ext_devzero.onnx')]);
  assert.deepEqual(checkpointFiles(path.join(ONNX, 'resnet.ext.onnx')), [path.join(ONNX, 'resnet.ext.onnx'), path.join(ONNX, 'resnet.ext.onnx.data')]);
});

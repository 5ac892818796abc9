/**
 * The files beside a model (side-files.ts): weight shards, ONNX external data, metadata.json and
 * labels.txt are read only from inside the model's folder (after links), only when they are
 * regular files, and only as much as the model describes; refusals are one line and tell nothing
 * of the files outside. The model file itself must be a regular file (never a device or a pipe).
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../../src/shared/errors';
import { loadModel } from '../../../src/extension/model/load';
import { checkpointFiles, formatOf, resolveModelFile } from '../../../src/extension/model/formats/registry';
import { loadOnnxModel } from '../../../src/extension/model/formats/onnx/format';
import { encodeModel, readModel } from '../../../src/extension/model/formats/onnx/proto';
import { ModelFolder, readRange } from '../../../src/extension/model/side-files';
import { looksHalfWritten } from '../../../src/extension/model/model-cache';
import { readModelMetadata } from '../../../src/extension/model/metadata';
import { readExperiment } from '../../../src/extension/tcav/experiment';
import { useBackend } from '../../helpers/tf-test';

const SHAPES = path.join('demo', 'models', 'shapes');
const ONNX = path.join('test', 'fixtures', 'onnx-models');
const posix = process.platform !== 'win32';

let tmp: string;
before(async () => {
  await useBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-side-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A fresh folder under the test's temporary folder. */
function folder(name = 'm'): string {
  const d = path.join(tmp, `${n++}`, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** The shapes demo model in a fresh folder, its manifest naming `shard` (weights.bin copied in unless told otherwise). */
function tfjsModel(shard = 'weights.bin', copyWeights = true): { dir: string; file: string; bytes: number } {
  const dir = folder();
  const json = JSON.parse(fs.readFileSync(path.join(SHAPES, 'model.json'), 'utf8'));
  json.weightsManifest[0].paths = [shard];
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(file, JSON.stringify(json));
  if (copyWeights) fs.copyFileSync(path.join(SHAPES, 'weights.bin'), path.join(dir, 'weights.bin'));
  return { dir, file, bytes: fs.statSync(path.join(SHAPES, 'weights.bin')).size };
}

async function refused(p: string, re: RegExp): Promise<string> {
  let caught: unknown;
  try {
    const m = await loadModel(p);
    m.adapter.dispose();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UserError, `a UserError, got ${caught instanceof Error ? caught.stack : String(caught)}`);
  assert.match(caught.message, re);
  assert.ok(!caught.message.includes('\n'), `one line: ${caught.message}`);
  return caught.message;
}

async function loads(p: string): Promise<void> {
  const m = await loadModel(p);
  m.adapter.dispose();
}

function mkfifo(p: string): boolean {
  return posix && spawnSync('mkfifo', [p]).status === 0;
}

describe('TF.js weight shards', () => {
  test('../outside.bin is refused, whether or not it exists, and nothing of it is told', async () => {
    const { dir, file } = tfjsModel('../outside.bin');
    const outside = path.join(dir, '..', 'outside.bin');
    const missing = await refused(file, /model\.json names a weight shard outside its folder \(\.\.\/outside\.bin\); only files in the model's folder are read$/);
    fs.writeFileSync(outside, Buffer.alloc(71820));
    const present = await refused(file, /outside its folder/);
    assert.equal(present, missing, 'the same message whether the outside file exists or not');
    assert.ok(!/71820|bytes/.test(present), 'not its size');
    const deeper = tfjsModel('sub/../../outside.bin');
    await refused(deeper.file, /names a weight shard outside its folder \(sub\/\.\.\/\.\.\/outside\.bin\)/);
  });

  test('an absolute shard path is refused', async () => {
    const { file } = tfjsModel(path.join(tmp, 'anything.bin'));
    await refused(file, /names a weight shard at an absolute path/);
  });

  test('a symlink to a file outside the folder is refused, a dangling one too (same message); a symlink inside is read', { skip: !posix }, async () => {
    const out = folder('elsewhere');
    fs.copyFileSync(path.join(SHAPES, 'weights.bin'), path.join(out, 'w.bin'));
    const a = tfjsModel('weights.bin', false);
    fs.symlinkSync(path.join(out, 'w.bin'), path.join(a.dir, 'weights.bin'));
    const existing = await refused(a.file, /names a weight shard outside its folder \(weights\.bin\)/);
    const b = tfjsModel('weights.bin', false);
    fs.symlinkSync(path.join(out, 'gone.bin'), path.join(b.dir, 'weights.bin'));
    assert.equal(await refused(b.file, /outside its folder/), existing.replace(a.file, b.file), 'a link to nothing reads as a link out');
    const c = tfjsModel('weights.bin', false);
    fs.mkdirSync(path.join(c.dir, 'store'));
    fs.copyFileSync(path.join(SHAPES, 'weights.bin'), path.join(c.dir, 'store', 'real.bin'));
    fs.symlinkSync(path.join('store', 'real.bin'), path.join(c.dir, 'weights.bin'));
    await loads(c.file);
    // A folder inside that links out is followed no further.
    const d = tfjsModel('sub/w.bin', false);
    fs.symlinkSync(out, path.join(d.dir, 'sub'));
    await refused(d.file, /outside its folder \(sub\/w\.bin\)/);
  });

  test('a shard linked to /dev/zero is refused at once, as a file outside the folder', { skip: !posix, timeout: 60_000 }, async () => {
    const { dir, file } = tfjsModel('weights.bin', false);
    fs.symlinkSync('/dev/zero', path.join(dir, 'weights.bin'));
    await refused(file, /names a weight shard outside its folder \(weights\.bin\)/);
    assert.deepEqual(checkpointFiles(file), [file], 'nothing hashes or watches it either');
  });

  test('a FIFO or a folder as a shard is refused as not a regular file (nothing waits for a writer)', { timeout: 60_000 }, async (t) => {
    const { dir, file } = tfjsModel('weights.bin', false);
    if (!mkfifo(path.join(dir, 'weights.bin'))) {
      t.skip('no mkfifo here');
      return;
    }
    await refused(file, /names the weight shard weights\.bin, which is not a regular file/);
    const f = tfjsModel('folder', false);
    fs.mkdirSync(path.join(f.dir, 'folder'));
    await refused(f.file, /names the weight shard folder, which is not a regular file/);
  });

  test('a short shard is refused naming the expected and actual size; a longer one too', async () => {
    const { dir, file, bytes } = tfjsModel();
    const w = path.join(dir, 'weights.bin');
    fs.truncateSync(w, bytes - 4);
    const short = await refused(file, new RegExp(`\\(weights\\.bin\\) hold ${bytes - 4} bytes but its manifest describes ${bytes}: a shard is truncated`));
    assert.ok(looksHalfWritten(short), 'a short shard may be a checkpoint being written: retried');
    fs.writeFileSync(w, Buffer.concat([fs.readFileSync(path.join(SHAPES, 'weights.bin')), Buffer.alloc(100)]));
    await refused(file, new RegExp(`hold ${bytes + 100} bytes but its manifest describes only ${bytes}: a shard is from another model`));
  });

  test('refusals of where a shard is are final: not retried as a checkpoint being written', () => {
    for (const m of ['m/model.json names a weight shard outside its folder (../w.bin); only files in the model\'s folder are read', 'm/model.json names a weight shard at an absolute path (/w.bin); only files in the model\'s folder are read', 'm/model.json names the weight shard w.bin, which is not a regular file (a device, a pipe or a folder)']) {
      assert.ok(!looksHalfWritten(m), m);
    }
    assert.ok(looksHalfWritten('weight shard w.bin listed in model.json is missing from /x'));
  });

  test('a Hugging Face cache snapshot (every file a link into the blobs folder) loads', { skip: !posix }, async () => {
    const repo = folder('models--org--shapes');
    fs.mkdirSync(path.join(repo, 'blobs'));
    fs.mkdirSync(path.join(repo, 'snapshots', 'abc'), { recursive: true });
    fs.copyFileSync(path.join(SHAPES, 'model.json'), path.join(repo, 'blobs', '1111'));
    fs.copyFileSync(path.join(SHAPES, 'weights.bin'), path.join(repo, 'blobs', '2222'));
    fs.symlinkSync(path.join('..', '..', 'blobs', '1111'), path.join(repo, 'snapshots', 'abc', 'model.json'));
    fs.symlinkSync(path.join('..', '..', 'blobs', '2222'), path.join(repo, 'snapshots', 'abc', 'weights.bin'));
    await loads(path.join(repo, 'snapshots', 'abc', 'model.json'));
  });
});

describe('model files', () => {
  test('a model path that is a FIFO or a link to /dev/zero is refused without reading it', { skip: !posix, timeout: 60_000 }, async (t) => {
    const dir = folder();
    fs.symlinkSync('/dev/zero', path.join(dir, 'model.onnx'));
    await refused(path.join(dir, 'model.onnx'), /model\.onnx is not a regular file/);
    const json = folder();
    fs.symlinkSync('/dev/zero', path.join(json, 'model.json'));
    await refused(json, /model\.json is not a regular file/);
    const fifo = path.join(folder(), 'model.keras');
    if (!mkfifo(fifo)) {
      t.skip('no mkfifo here');
      return;
    }
    assert.throws(() => resolveModelFile(fifo), /model\.keras is not a regular file/);
    assert.throws(() => formatOf(fifo), /model\.keras is not a regular file/);
  });

  test('readRange reads what it is asked and no more; a file that ends early is truncated', () => {
    const f = path.join(folder(), 'data');
    fs.writeFileSync(f, Buffer.from([1, 2, 3, 4, 5, 6]));
    assert.deepEqual([...readRange(f, 2, 3, 'data')], [3, 4, 5]);
    assert.throws(() => readRange(f, 4, 3, 'data'), /data is truncated: it ends after 6 bytes, the model needs 7/);
  });
});

describe('ONNX external data', () => {
  /** ext_outside.onnx (a 1×1 conv whose 48-byte weight is external data) with the weight at `location`. */
  function onnxModel(location: string): { dir: string; file: string } {
    const model = readModel(path.join(ONNX, 'ext_outside.onnx'));
    const w = model.graph!.initializer[0];
    w.external_data.find((e) => e.key === 'location')!.value = location;
    const dir = folder();
    const file = path.join(dir, 'model.onnx');
    fs.writeFileSync(file, encodeModel(model));
    return { dir, file };
  }

  const throwsUser = (file: string, re: RegExp): string => {
    let caught: unknown;
    try {
      loadOnnxModel(file).adapter.dispose();
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof UserError, String(caught));
    assert.match(caught.message, re);
    return caught.message;
  };

  test('a location ../x is refused whether or not x exists; inside the folder it is read', () => {
    const { dir, file } = onnxModel('../x');
    const missing = throwsUser(file, /model\.onnx names external data outside its folder \(\.\.\/x\); only files in the model's folder are read/);
    fs.writeFileSync(path.join(dir, '..', 'x'), Buffer.alloc(48));
    assert.equal(throwsUser(file, /outside its folder/), missing);
    const ok = onnxModel('w.data');
    fs.writeFileSync(path.join(ok.dir, 'w.data'), Buffer.alloc(48));
    loadOnnxModel(ok.file).adapter.dispose();
    assert.deepEqual(checkpointFiles(ok.file), [ok.file, path.join(ok.dir, 'w.data')]);
  });

  test('external data linked to /dev/zero, a FIFO, or too short is refused; longer is fine (files hold many tensors)', { skip: !posix, timeout: 60_000 }, () => {
    const zero = onnxModel('w.data');
    fs.symlinkSync('/dev/zero', path.join(zero.dir, 'w.data'));
    throwsUser(zero.file, /names external data outside its folder \(w\.data\)/);
    assert.deepEqual(checkpointFiles(zero.file), [zero.file]);
    const fifo = onnxModel('w.data');
    if (mkfifo(path.join(fifo.dir, 'w.data'))) throwsUser(fifo.file, /names external data w\.data, which is not a regular file/);
    const short = onnxModel('w.data');
    fs.writeFileSync(path.join(short.dir, 'w.data'), Buffer.alloc(40));
    throwsUser(short.file, /the tensor w lies at bytes 0\.\.48 of w\.data, which has 40 bytes/);
    const long = onnxModel('w.data');
    fs.writeFileSync(path.join(long.dir, 'w.data'), Buffer.alloc(1 << 20));
    loadOnnxModel(long.file).adapter.dispose();
  });

  test('the folder rule, directly: names resolve inside the folder only', () => {
    const dir = folder();
    fs.writeFileSync(path.join(dir, 'a.bin'), 'x');
    const f = new ModelFolder(path.join(dir, 'model.onnx'));
    assert.deepEqual(f.lookup('a.bin'), { ok: true, real: fs.realpathSync(path.join(dir, 'a.bin')), size: 1 });
    assert.deepEqual(f.lookup('./sub/../a.bin'), { ok: true, real: fs.realpathSync(path.join(dir, 'a.bin')), size: 1 });
    assert.deepEqual(f.lookup('b.bin'), { ok: false, problem: 'missing' });
    assert.deepEqual(f.lookup('..'), { ok: false, problem: 'outside' });
    assert.deepEqual(f.lookup('.'), { ok: false, problem: 'outside' });
    assert.deepEqual(f.lookup('a\u0000b'), { ok: false, problem: 'outside' });
    assert.deepEqual(f.lookup(path.join(dir, 'a.bin')), { ok: false, problem: 'absolute' });
  });
});

describe('metadata beside a model', () => {
  test('metadata.json and labels.txt that lead outside the folder are ignored with a warning that tells nothing of them', { skip: !posix }, () => {
    const out = folder('elsewhere');
    fs.writeFileSync(path.join(out, 'labels.txt'), 'secret1\nsecret2\nsecret3\n');
    fs.writeFileSync(path.join(out, 'metadata.json'), JSON.stringify({ labels: ['s1', 's2', 's3'] }));
    const dir = folder();
    const file = path.join(dir, 'model.onnx');
    fs.writeFileSync(file, 'x');
    fs.symlinkSync(path.join(out, 'labels.txt'), path.join(dir, 'labels.txt'));
    fs.symlinkSync(path.join(out, 'metadata.json'), path.join(dir, 'metadata.json'));
    const meta = readModelMetadata(file, undefined, 3);
    assert.equal(meta.labels, undefined);
    assert.deepEqual(meta.warnings, [
      "metadata.json beside model.onnx leads outside the model's folder; ignoring it (only files in the model's folder are read)",
      "labels.txt beside model.onnx leads outside the model's folder; ignoring it (only files in the model's folder are read)",
    ]);
    // A link to nothing outside gets the same words.
    fs.rmSync(path.join(out, 'labels.txt'));
    fs.rmSync(path.join(out, 'metadata.json'));
    assert.deepEqual(readModelMetadata(file, undefined, 3).warnings, meta.warnings);
  });

  test('labels.txt as a FIFO is ignored with a warning; an index map with huge indices gives no labels', async (t) => {
    const meta = readModelMetadata(path.join(folder(), 'model.onnx'), { labels: { 4294967294: 'x', 0: 'y' } }, 2);
    assert.equal(meta.labels, undefined);
    const dir = folder();
    if (!mkfifo(path.join(dir, 'labels.txt'))) {
      t.skip('no mkfifo here');
      return;
    }
    assert.deepEqual(readModelMetadata(path.join(dir, 'model.onnx'), undefined, 3).warnings, ['labels.txt beside model.onnx is not a regular file; ignoring it']);
  });
});

describe('TCAV experiment paths', () => {
  test('a concept is one folder of the concepts folder: "../x", "a/b" and ".." are refused', () => {
    const dir = folder('experiment');
    for (const bad of ['../elsewhere', 'a/b', '..', 'a\\b']) {
      const file = path.join(dir, 'experiment.json');
      fs.writeFileSync(file, JSON.stringify({ model: '../../somewhere/model.json', target: 0, layers: ['conv'], concepts: ['striped', bad] }));
      assert.throws(() => readExperiment(file), (err: unknown) => err instanceof UserError && err.message.includes(`the concept ${JSON.stringify(bad)} must be the name of one folder in the concepts folder`));
    }
  });
});

describe('Keras archives', () => {
  test('a .keras member that claims more bytes than its stored bytes can inflate to is damage, refused before anything is allocated', async () => {
    const bytes = fs.readFileSync(path.join('demo', 'models', 'shapes-keras', 'model.keras'));
    // The central-directory entry of config.json: its uncompressed size (offset 24) says 2 GiB − 1.
    const name = Buffer.from('config.json');
    let at = -1;
    for (let p = bytes.length - 22; p >= 0 && at < 0; p--) {
      if (bytes.readUInt32LE(p) === 0x02014b50 && bytes.subarray(p + 46, p + 46 + name.length).equals(name)) at = p;
    }
    assert.ok(at >= 0, 'config.json is in the central directory');
    bytes.writeUInt32LE(2 ** 31 - 1, at + 24);
    const file = path.join(folder(), 'model.keras');
    fs.writeFileSync(file, bytes);
    await refused(file, /model\.keras is damaged: its config\.json claims 2147483647 bytes, which its \d+ stored bytes cannot hold/);
  });
});

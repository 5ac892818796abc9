/**
 * The on-disk CAV cache on planted rows: a CAV read back is bit-identical to the one trained; the
 * key changes with each thing the CAV depends on (one image, the side or order of the images, the
 * layer, checkpoint and input preparation, the seed, each solver setting) and with nothing else;
 * obtain trains once, then reads; a truncated, altered, foreign or garbage file is retrained and
 * rewritten; a cache that cannot be written costs only the training.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ActivationCache } from '../../../src/extension/tcav/activation-cache';
import { CavCache, type CavJob } from '../../../src/extension/tcav/cav-cache';
import { CAV_DEFAULTS, trainCav, type Cav } from '../../../src/extension/tcav/cav';
import { gaussianSource, mulberry32 } from '../../../src/extension/util/seeded-random';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-tcav-cav-cache-'));
const MODEL = 'ab'.repeat(32);
const INPUT = 'unit-64x64x3';

/** Rows of two noisy blobs in `dim` dimensions, 8 per side. */
function rows(dim: number, seed: number): { positive: Float32Array[]; negative: Float32Array[] } {
  const g = gaussianSource(mulberry32(seed));
  const side = (sign: number) => Array.from({ length: 8 }, () => Float32Array.from({ length: dim }, (_, j) => (j % 3 === 0 ? sign : 0) + 0.5 * g()));
  return { positive: side(1), negative: side(-1) };
}

const hashes = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`.padEnd(64, '0'));
const job = (o: Partial<CavJob> = {}): CavJob => ({ layer: 'gap', positive: hashes('p', 8), negative: hashes('n', 8), options: { seed: 7 }, ...o });
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name));
}

/** A CavCache in a folder of its own, and a trainer that counts its calls. */
function fixture(name: string, dim = 40) {
  const cache = new CavCache(new ActivationCache(path.join(tmp, name), MODEL, INPUT));
  const { positive, negative } = rows(dim, 3);
  let trained = 0;
  const train = (j: CavJob) => () => {
    trained++;
    return trainCav(positive, negative, j.options);
  };
  return { cache, train, trainedCount: () => trained, root: path.join(tmp, name) };
}

test('a CAV read back is bit-identical to the one written, −0, subnormals and all', () => {
  const { cache } = fixture('exact');
  const { positive, negative } = rows(40, 3);
  const trained = trainCav(positive, negative, { seed: 7 });
  const key = cache.key(job());
  cache.write('gap', key, trained);
  const back = cache.read('gap', key)!;
  assert.ok(back);
  assert.ok(bytes(back.direction).equals(bytes(trained.direction)));
  assert.deepEqual(back, trained);
  // Values JSON text would not keep: −0, a subnormal float32, doubles of 17 significant digits.
  const odd: Cav = { direction: Float32Array.from([-0, 1e-45, 0.1, -3.4e38]), bias: -0, accuracy: 2 / 3, trainAccuracy: 0.1 + 0.2, trainSize: 10, testSize: 6, epochs: 1000 };
  cache.write('gap', 'odd', odd);
  const oddBack = cache.read('gap', 'odd')!;
  assert.ok(bytes(oddBack.direction).equals(bytes(odd.direction)));
  assert.ok(Object.is(oddBack.bias, -0));
  assert.deepEqual(oddBack, odd);
  // Small: the direction as float32, a header of a few hundred bytes.
  const size = fs.statSync(cache.file('gap', key)).size;
  assert.ok(size > 4 * 40 && size < 4 * 40 + 400, `${size} bytes`);
  assert.deepEqual(filesUnder(tmp).filter((f) => f.endsWith('.tmp')), [], 'no temporary files');
});

test('the key changes with every input of the CAV, and with nothing else', () => {
  const { cache } = fixture('keys');
  const base = job();
  const other = new CavCache(new ActivationCache(path.join(tmp, 'elsewhere'), MODEL, INPUT));
  // Not part of the key: where the cache lives, defaults spelled out.
  assert.equal(other.key(base), cache.key(base));
  assert.equal(cache.key({ ...base, options: { seed: 7, ...CAV_DEFAULTS } }), cache.key(base));
  assert.match(cache.key(base), /^[0-9a-f]{64}$/);

  const swapTwo = (xs: readonly string[]) => [xs[1], xs[0], ...xs.slice(2)];
  const changed = {
    'one concept image': { ...base, positive: [...base.positive.slice(0, 7), 'f'.repeat(64)] },
    'one random image': { ...base, negative: [...base.negative.slice(0, 7), 'f'.repeat(64)] },
    'one image fewer': { ...base, positive: base.positive.slice(1) },
    'the concept images reordered': { ...base, positive: swapTwo(base.positive) },
    'the sides swapped': { ...base, positive: base.negative, negative: base.positive },
    'the layer': { ...base, layer: 'block2_relu' },
    'the seed': { ...base, options: { seed: 8 } },
    'the held-out fraction': { ...base, options: { seed: 7, testFraction: 0.25 } },
    'alpha': { ...base, options: { seed: 7, alpha: 0.02 } },
    'the epoch limit': { ...base, options: { seed: 7, maxEpochs: 999 } },
    'the tolerance': { ...base, options: { seed: 7, tolerance: 1e-5 } },
  };
  const keys = new Map<string, string>([['base', cache.key(base)]]);
  for (const [what, j] of Object.entries(changed)) keys.set(what, cache.key(j));
  keys.set('the checkpoint', new CavCache(new ActivationCache(tmp, 'cd'.repeat(32), INPUT)).key(base));
  keys.set('the input preparation', new CavCache(new ActivationCache(tmp, MODEL, 'symmetric-64x64x3')).key(base));
  assert.equal(new Set(keys.values()).size, keys.size, 'every change gives a key of its own');
});

test('obtain trains once, then reads; a changed setting retrains only the CAV it belongs to', () => {
  const { cache, train, trainedCount, root } = fixture('obtain');
  const jobs = [job(), job({ options: { seed: 8 } }), job({ layer: 'block2_relu' })];
  const first = jobs.map((j) => cache.obtain(j, train(j)));
  assert.equal(trainedCount(), 3);
  const again = jobs.map((j) => cache.obtain(j, train(j)));
  assert.equal(trainedCount(), 3, 'a rerun trains nothing');
  assert.deepEqual(again, first);
  // Another alpha for the second CAV only.
  const changed = [jobs[0], { ...jobs[1], options: { seed: 8, alpha: 0.05 } }, jobs[2]];
  const third = changed.map((j) => cache.obtain(j, train(j)));
  assert.equal(trainedCount(), 4);
  assert.deepEqual([third[0], third[2]], [first[0], first[2]]);
  assert.equal(filesUnder(root).filter((f) => f.endsWith('.cav')).length, 4);
});

test('a truncated, altered, foreign, empty or garbage file is retrained and rewritten, never a crash', () => {
  const { cache, train, trainedCount } = fixture('corrupt');
  const j = job();
  const key = cache.key(j);
  const file = cache.file('gap', key);
  const good = cache.obtain(j, train(j));
  const whole = fs.readFileSync(file);
  const flip = (at: number) => {
    const b = Buffer.from(whole);
    b[at] ^= 0x10;
    return b;
  };
  const foreign = (() => {
    const k = cache.key(job({ options: { seed: 99 } }));
    cache.obtain(job({ options: { seed: 99 } }), train(job({ options: { seed: 99 } })));
    return fs.readFileSync(cache.file('gap', k));
  })();
  const damaged: Record<string, Buffer> = {
    'cut in the direction': whole.subarray(0, whole.length - 50),
    'cut in the header': whole.subarray(0, 20),
    'one bit of the direction': flip(whole.length - 40),
    'one bit of the header': flip(12),
    'one bit of the length': flip(4),
    'another CAV\'s file': foreign,
    'empty': Buffer.alloc(0),
    'text': Buffer.from('not a CAV\n'),
  };
  let expected = trainedCount();
  for (const [what, b] of Object.entries(damaged)) {
    fs.writeFileSync(file, b);
    assert.equal(cache.read('gap', key), undefined, what);
    const cav = cache.obtain(j, train(j));
    assert.equal(trainedCount(), ++expected, `${what}: retrained`);
    assert.deepEqual(cav, good, what);
    assert.ok(fs.readFileSync(file).equals(whole), `${what}: rewritten`);
    cache.obtain(j, train(j));
    assert.equal(trainedCount(), expected, `${what}: read after the rewrite`);
  }
  // A folder where the file should be: unreadable, and unwritable.
  fs.rmSync(file);
  fs.mkdirSync(file);
  assert.deepEqual(cache.obtain(j, train(j)), good);
  assert.equal(trainedCount(), ++expected);
  assert.deepEqual(filesUnder(path.dirname(file)).filter((f) => f.endsWith('.tmp')), [], 'no temporary files');
});

test('a cache that cannot be written costs the training, not the run', () => {
  const blocker = path.join(tmp, 'not-a-folder');
  fs.writeFileSync(blocker, 'a file where the cache folder should be\n');
  const cache = new CavCache(new ActivationCache(blocker, MODEL, INPUT));
  const { positive, negative } = rows(40, 3);
  let trained = 0;
  const train = () => {
    trained++;
    return trainCav(positive, negative, { seed: 7 });
  };
  const a = cache.obtain(job(), train);
  const b = cache.obtain(job(), train);
  assert.equal(trained, 2);
  assert.deepEqual(a, b);
});

/**
 * TCAV in the compute pool, on the demo shapes model and a test experiment of 140 example and 20
 * class images (6 chunks) and 2 layers × 4 runs × (random vs random + 2 concepts) = 24 CAVs in 8
 * groups (one per layer and run): the `tcav` job on one worker and on two (both computing chunks
 * and both training CAVs) gives the result of runTcav with no pool, and the same cache files, byte
 * for byte, from cold caches; a warm rerun trains no CAV, one missing a layer's CAVs trains exactly
 * those; a cancel mid-run rejects with CancelledError and leaves only whole, correct vectors (also
 * when the workers are terminated mid-write) and CAVs, so the next run on that cache gives the same
 * result. Which worker computes which chunk or group, and how far a cancelled run got, vary from
 * run to run: the assertions hold for any of them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ComputePool } from '../../../src/extension/compute/pool';
import type { TcavEvents, TcavJobArgs } from '../../../src/extension/compute/jobs/tcav';
import { loadModel } from '../../../src/extension/model/load';
import { readExperiment, type ResolvedExperiment } from '../../../src/extension/tcav/experiment';
import { runTcav } from '../../../src/extension/tcav/run-tcav';
import { TCAV_CHUNK_SIZE } from '../../../src/extension/tcav/chunk-shard';
import { CancelledError } from '../../../src/shared/errors';
import type { TcavResult } from '../../../src/shared/tcav';
import { makeSmallExperiment } from '../../helpers/tcav-images';
import { useBackend } from '../../helpers/tf-test';

const ROOT = path.resolve(__dirname, '../../../..');
const model = { file: path.join(ROOT, 'demo', 'models', 'shapes', 'model.json') };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-tcav-pool-'));
let experiment: string;
let exp: ResolvedExperiment;
/** runTcav with no pool, on a cache of its own. */
let plain: TcavResult;
const plainCache = path.join(tmp, 'cache-plain');

const pools: ComputePool[] = [];
/** A pool whose workers have started and loaded the model (so every worker can take chunks at once). */
async function pool(size: number, cancelGraceMs?: number): Promise<ComputePool> {
  const p = new ComputePool({ size, backend: 'wasm', cancelGraceMs });
  pools.push(p);
  await Promise.all(Array.from({ length: size }, () => p.run('describe', { model }, { model })));
  return p;
}

before(async () => {
  // 5 random sets of 20, two concepts of 20: 140 example images, 20 class images.
  experiment = await makeSmallExperiment(path.join(tmp, 'exp'), { conceptCount: 20, classCount: 20, randomCount: 100, json: { runs: 4, imagesPerSet: 20 } });
  exp = readExperiment(experiment);
  await useBackend('wasm');
  const loaded = await loadModel(model.file);
  try {
    plain = await runTcav({ experiment: exp, model: loaded, preprocess: 'unit', cacheDir: plainCache });
  } finally {
    loaded.adapter.dispose();
  }
});

after(async () => {
  await Promise.all(pools.map((p) => p.dispose()));
});

/** What a result says, without the clock (timings, createdAt). */
function findings(r: TcavResult) {
  const { timings: _t, createdAt: _c, ...rest } = r;
  return rest;
}

/** Every file under `dir` by its path relative to it. */
function filesUnder(dir: string): Map<string, string> {
  if (!fs.existsSync(dir)) return new Map();
  return new Map(fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => {
    const abs = path.join(d.parentPath, d.name);
    return [path.relative(dir, abs), abs];
  }));
}

/** Vectors the experiment needs: every layer × (distinct example images + class images). */
function vectorsOf(e: ResolvedExperiment): number {
  const examples = new Set([...e.concepts.flatMap((c) => c.images), ...e.randomSets.flat()]);
  return e.layers.length * (examples.size + e.classImages.length);
}

function run(p: ComputePool, cacheDir: string, extra: { signal?: AbortSignal; onEvent?: (name: string, data: unknown) => void } = {}): Promise<TcavResult> {
  const args: TcavJobArgs = { experiment, model, preprocess: 'unit', cacheDir };
  return p.run<TcavResult>('tcav', args, { model, ...extra });
}

test('the experiment makes six chunks: five of example images, one of class images', () => {
  assert.equal(TCAV_CHUNK_SIZE, 32);
  assert.deepEqual(plain.cache, { hits: 0, computed: vectorsOf(exp) });
  assert.equal(vectorsOf(exp), 2 * (140 + 20));
});

/** CAVs the experiment trains: per layer and run, random vs random and one per concept. */
const cavsOf = (e: ResolvedExperiment) => e.layers.length * e.runs * (1 + e.concepts.length + e.relative.length);

/** The job's events of one name. */
function collect<K extends keyof TcavEvents>(name: K): { events: TcavEvents[K][]; onEvent: (n: string, data: unknown) => void } {
  const events: TcavEvents[K][] = [];
  return { events, onEvent: (n, data) => n === name && events.push(data as TcavEvents[K]) };
}

/** Each layer and run's group of CAVs was reported once; the trained and cached CAVs they add up to. */
function groupsOnce(cavs: TcavEvents['cavs'][]): { trained: number; cached: number } {
  const expected = exp.layers.flatMap((l) => Array.from({ length: exp.runs }, (_, r) => `${l} ${r + 1}`));
  assert.deepEqual(cavs.map((c) => `${c.layer} ${c.run}`).sort(), expected.sort());
  return { trained: cavs.reduce((a, c) => a + c.trained, 0), cached: cavs.reduce((a, c) => a + c.cached, 0) };
}

const byThread = (cavs: TcavEvents['cavs'][]) => cavs.map((c) => `${c.layer}/${c.run}@${c.thread}`).join(', ');

test('one worker and two give the plain run\'s result and cache files, bit for bit, from cold caches', async () => {
  const cavs1 = collect('cavs');
  const one = await run(await pool(1), path.join(tmp, 'cache-1'), { onEvent: cavs1.onEvent });
  const p2 = await pool(2);
  const chunks = collect('chunk');
  const cavs2 = collect('cavs');
  const two = await run(p2, path.join(tmp, 'cache-2'), { onEvent: (name, data) => [chunks, cavs2].forEach((c) => c.onEvent(name, data)) });
  assert.deepEqual(findings(one), findings(plain));
  assert.deepEqual(findings(two), findings(plain));
  // Both workers took chunks, each chunk once.
  assert.deepEqual(chunks.events.map((c) => c.index).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5]);
  assert.equal(chunks.events.map((c) => c.images).reduce((a, b) => a + b), 160);
  assert.equal(new Set(chunks.events.map((c) => c.thread)).size, 2, `chunks by thread: ${chunks.events.map((c) => `${c.index}@${c.thread}`).join(', ')}`);
  // Every CAV trained once, each group by one worker: the only one, or either of two.
  assert.equal(cavsOf(exp), 24);
  assert.deepEqual(groupsOnce(cavs1.events), { trained: 24, cached: 0 });
  assert.equal(new Set(cavs1.events.map((c) => c.thread)).size, 1);
  assert.deepEqual(groupsOnce(cavs2.events), { trained: 24, cached: 0 });
  assert.equal(new Set(cavs2.events.map((c) => c.thread)).size, 2, `CAV groups by thread: ${byThread(cavs2.events)}`);
  // The same vectors and CAVs on disk: one file each, no temporaries, the same bytes.
  assert.equal(filesUnder(plainCache).size, vectorsOf(exp) + 2 * 4 * 3);
  for (const dir of ['cache-1', 'cache-2']) {
    assert.deepEqual([...filesUnder(path.join(tmp, dir)).keys()].filter((f) => f.endsWith('.tmp')), [], `${dir}: no temporary files`);
    sameFilesAsPlain(path.join(tmp, dir));
  }
});

test('a warm rerun on two workers trains no CAV; one that lacks a layer\'s CAVs trains exactly those, in both workers; same result and files', async () => {
  const p = await pool(2);
  const cacheDir = path.join(tmp, 'cache-rerun');
  await run(p, cacheDir);
  const warm = collect('cavs');
  const chunks = collect('chunk');
  const again = await run(p, cacheDir, { onEvent: (name, data) => [warm, chunks].forEach((c) => c.onEvent(name, data)) });
  assert.deepEqual(again.cache, { hits: vectorsOf(exp), computed: 0 });
  assert.equal(chunks.events.length, 0, 'no chunk to compute');
  assert.deepEqual(groupsOnce(warm.events), { trained: 0, cached: 24 });
  const { cache: _a, ...rest } = findings(again);
  const { cache: _b, ...expected } = findings(plain);
  assert.deepEqual(rest, expected);
  // The CAVs of the first layer (the larger one: its CAVs take longest) are gone: its 4 groups are trained again.
  const gone = [...filesUnder(cacheDir)].filter(([rel]) => rel.endsWith('.cav') && rel.split(path.sep).includes(encodeURIComponent(exp.layers[0])));
  assert.equal(gone.length, 12);
  for (const [, abs] of gone) fs.rmSync(abs);
  const partial = collect('cavs');
  const third = await run(p, cacheDir, { onEvent: partial.onEvent });
  assert.deepEqual(groupsOnce(partial.events), { trained: 12, cached: 12 });
  for (const c of partial.events) assert.deepEqual([c.trained, c.cached], c.layer === exp.layers[0] ? [3, 0] : [0, 3], `${c.layer} run ${c.run}`);
  assert.equal(new Set(partial.events.filter((c) => c.trained > 0).map((c) => c.thread)).size, 2, `CAV groups by thread: ${byThread(partial.events)}`);
  assert.deepEqual(findings(third), findings(again));
  sameFilesAsPlain(cacheDir);
});

/** The cache holds the files of the plain run's, with the same bytes (temporary files aside: no run reads them). */
function sameFilesAsPlain(cacheDir: string): void {
  const reference = filesUnder(plainCache);
  const files = new Map([...filesUnder(cacheDir)].filter(([rel]) => !rel.endsWith('.tmp')));
  assert.deepEqual([...files.keys()].sort(), [...reference.keys()].sort(), cacheDir);
  for (const [rel, abs] of files) assert.ok(fs.readFileSync(abs).equals(fs.readFileSync(reference.get(rel)!)), `${rel} differs from the plain run's`);
}

/**
 * After a cancelled run: every vector file on disk (temporary files aside: no run reads them)
 * holds the plain run's bytes, so none is short or wrong; returns how many there are.
 */
function onlyWholeVectors(cacheDir: string): number {
  const reference = filesUnder(plainCache);
  let vectors = 0;
  for (const [rel, abs] of filesUnder(cacheDir)) {
    if (rel.endsWith('.tmp')) continue;
    assert.ok(rel.endsWith('.f32'), `${rel}: only vectors are written before the CAVs`);
    assert.ok(fs.readFileSync(abs).equals(fs.readFileSync(reference.get(rel)!)), `${rel} is not the vector the plain run computed`);
    vectors++;
  }
  return vectors;
}

test('a cancel mid-run rejects with CancelledError, leaves only whole vectors, and the next run on that cache gives the same result', async () => {
  const p = await pool(2);
  const cacheDir = path.join(tmp, 'cache-cancel');
  const abort = new AbortController();
  let first: TcavEvents['chunk'] | undefined;
  const onEvent = (name: string, data: unknown) => {
    if (name !== 'chunk' || first) return;
    first = data as TcavEvents['chunk'];
    abort.abort();
  };
  await assert.rejects(run(p, cacheDir, { signal: abort.signal, onEvent }), CancelledError);
  // A helper may still finish the batch it was computing when the job rejects: every vector seen
  // now is whole and right, and more may follow.
  const vectors = onlyWholeVectors(cacheDir);
  assert.ok(first && vectors >= first.computed, `${vectors} vectors cached when cancelled, the first chunk alone computed ${first?.computed}`);
  const again = await run(p, cacheDir);
  assert.equal(p.replaced, 0, 'the workers stopped by themselves');
  assert.ok(again.cache.hits >= vectors && again.cache.hits < vectorsOf(exp), `${again.cache.hits} of ${vectorsOf(exp)} vectors cached before the rerun`);
  assert.equal(again.cache.hits + again.cache.computed, vectorsOf(exp));
  const { cache: _a, ...rest } = findings(again);
  const { cache: _b, ...expected } = findings(plain);
  assert.deepEqual(rest, expected);
  assert.deepEqual([...filesUnder(cacheDir).keys()].filter((f) => f.endsWith('.tmp')), [], 'no temporary files');
  sameFilesAsPlain(cacheDir);
});

test('a cancel while two workers train CAVs rejects with CancelledError, leaves only whole CAVs, and the next run trains the rest to the same result', async () => {
  const p = await pool(2);
  const cacheDir = path.join(tmp, 'cache-cancel-cavs');
  const abort = new AbortController();
  const onEvent = (name: string) => name === 'cavs' && abort.abort();
  await assert.rejects(run(p, cacheDir, { signal: abort.signal, onEvent }), CancelledError);
  // Every file on disk is the plain run's (a helper may still finish the CAV it was training).
  const reference = filesUnder(plainCache);
  const files = [...filesUnder(cacheDir)].filter(([rel]) => !rel.endsWith('.tmp'));
  for (const [rel, abs] of files) assert.ok(fs.readFileSync(abs).equals(fs.readFileSync(reference.get(rel)!)), `${rel} is not the plain run's`);
  const cavs = files.filter(([rel]) => rel.endsWith('.cav')).length;
  assert.equal(files.length - cavs, vectorsOf(exp), 'every vector was cached before the CAVs');
  assert.ok(cavs >= 3 && cavs < 24, `${cavs} of 24 CAVs cached when cancelled`);
  const again = collect('cavs');
  const rerun = await run(p, cacheDir, { onEvent: again.onEvent });
  assert.equal(p.replaced, 0, 'the workers stopped by themselves, between CAVs');
  const counts = groupsOnce(again.events);
  assert.equal(counts.trained + counts.cached, 24);
  assert.ok(counts.cached >= cavs, `${counts.cached} CAVs read from the cache, ${cavs} were there after the cancel`);
  const { cache: _a, ...rest } = findings(rerun);
  const { cache: _b, ...expected } = findings(plain);
  assert.deepEqual(rest, expected);
  sameFilesAsPlain(cacheDir);
});

test('workers terminated mid-run (no grace to stop) leave no file a later run would trust that is not whole and right', async (t) => {
  const p = await pool(2, 0);
  const cacheDir = path.join(tmp, 'cache-terminated');
  const abort = new AbortController();
  await assert.rejects(run(p, cacheDir, { signal: abort.signal, onEvent: (name) => name === 'chunk' && abort.abort() }), CancelledError);
  onlyWholeVectors(cacheDir);
  t.diagnostic(`${p.replaced} workers terminated`);
  // The terminated workers may still be finishing a write: count nothing here, check what the next run trusted.
  const again = await run(p, cacheDir);
  assert.equal(again.cache.hits + again.cache.computed, vectorsOf(exp));
  const { cache: _a, ...rest } = findings(again);
  const { cache: _b, ...expected } = findings(plain);
  assert.deepEqual(rest, expected);
  sameFilesAsPlain(cacheDir);
});

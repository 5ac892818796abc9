/**
 * Reruns of a TCAV experiment through the CAV cache, on the demo shapes model (wasm backend) and
 * the small test experiment (2 layers × 3 runs × (2 concepts + random-vs-random) = 18 CAVs): a
 * warm rerun trains no CAV and gives the identical result; another seed retrains all 18; one
 * changed concept image retrains exactly that concept's 6 CAVs, one changed image of random set 1
 * exactly the 8 CAVs that use the set (random-vs-random runs 1 and 2, run 1 of each concept, per
 * layer); damaged CAV files are retrained and rewritten. Training is counted through runTcav's
 * trainCav hook.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import { readExperiment, type ResolvedExperiment } from '../../../src/extension/tcav/experiment';
import { runTcav, type RunTcavOptions } from '../../../src/extension/tcav/run-tcav';
import { trainCav } from '../../../src/extension/tcav/cav';
import type { TcavResult } from '../../../src/shared/tcav';
import { makeBackgroundImage, makeShapeImage, mulberry32 } from '../../../demo/synthetic';
import { IMAGE_SIZE, makeSmallExperiment, writePng } from '../../helpers/tcav-images';
import { useBackend } from '../../helpers/tf-test';

const ROOT = path.resolve(__dirname, '../../../..');
const MODEL = path.join(ROOT, 'demo', 'models', 'shapes');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-tcav-rerun-'));
const base = path.join(tmp, 'base');
let model: LoadedModel;
let exp: ResolvedExperiment;

before(async () => {
  await useBackend('wasm');
  model = await loadModel(MODEL);
  exp = readExperiment(await makeSmallExperiment(base));
});

/** runTcav, counting the CAVs it trains and checking it leaves no tensor behind. */
async function run(extra: Partial<RunTcavOptions> & { cacheDir: string }): Promise<{ result: TcavResult; trained: number }> {
  let trained = 0;
  const tensors = tf.memory().numTensors;
  const result = await runTcav({
    experiment: exp, model, preprocess: 'unit', ...extra,
    trainCav: (...args) => {
      trained++;
      return trainCav(...args);
    },
  });
  assert.equal(tf.memory().numTensors, tensors, 'runTcav leaks no tensors');
  return { result, trained };
}

/** What a result says, without the clock (timings, createdAt) and the activation cache counts. */
function findings(r: TcavResult) {
  const { timings: _t, createdAt: _c, cache: _k, ...rest } = r;
  return rest;
}

const cavsOf = (e: ResolvedExperiment) => e.layers.length * e.runs * (e.concepts.length + 1 + e.relative.length);

function cavFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile() && d.name.endsWith('.cav')).map((d) => path.join(d.parentPath, d.name)).sort();
}

/** A copy of the base experiment's images in a folder of its own. */
function copyExperiment(name: string): string {
  const dir = path.join(tmp, name);
  fs.cpSync(base, dir, { recursive: true });
  return path.join(dir, 'experiment.json');
}

const cell = (r: TcavResult, concept: string, layer: string) => r.cells.find((c) => c.concept === concept && c.layer === layer)!;

test('a warm rerun trains no CAV and gives the identical result; another seed retrains every CAV', async () => {
  const cacheDir = path.join(tmp, 'cache-warm');
  const cold = await run({ cacheDir });
  assert.equal(cavsOf(exp), 18);
  assert.equal(cold.trained, 18);
  assert.equal(cavFiles(cacheDir).length, 18);
  const warm = await run({ cacheDir });
  assert.equal(warm.trained, 0);
  // deepStrictEqual compares numbers with Object.is: bit for bit.
  assert.deepEqual(findings(warm.result), findings(cold.result));
  // The same images in another folder: the CAVs are keyed by content, not by path.
  const moved = await run({ cacheDir, experiment: readExperiment(copyExperiment('moved')) });
  assert.equal(moved.trained, 0);
  assert.deepEqual(findings(moved.result).cells, findings(cold.result).cells);

  const reseeded = await run({ cacheDir, experiment: { ...exp, seed: exp.seed + 1 } });
  assert.equal(reseeded.trained, 18);
  assert.equal(cavFiles(cacheDir).length, 36);
  assert.equal((await run({ cacheDir })).trained, 0, 'the first seed\'s CAVs are still there');
});

test('one changed concept image retrains exactly that concept\'s CAVs, one changed random image exactly those of its set', async () => {
  const cacheDir = path.join(tmp, 'cache-changed');
  const file = copyExperiment('changed');
  const before = await run({ cacheDir, experiment: readExperiment(file) });
  assert.equal(before.trained, 18);

  // A circle image used by the concept (every one of its 10 is) gets new content, same name.
  const e = readExperiment(file);
  await writePng(e.concepts[0].images[0], makeShapeImage(mulberry32(4242), IMAGE_SIZE, { label: 0 }).pixels);
  const concept = await run({ cacheDir, experiment: readExperiment(file) });
  assert.equal(e.concepts[0].name, 'circles');
  assert.equal(concept.trained, e.layers.length * e.runs, 'circles: 3 runs × 2 layers');
  for (const layer of e.layers) assert.deepEqual(cell(concept.result, 'plain', layer), cell(before.result, 'plain', layer));
  assert.deepEqual(concept.result.random, before.result.random);

  // An image of random set 1: random-vs-random runs 1 (set 0 vs 1) and 2 (set 1 vs 2), and run 1 of each concept (concept vs set 1).
  await writePng(e.randomSets[1][0], makeBackgroundImage(mulberry32(4343), IMAGE_SIZE));
  const random = await run({ cacheDir, experiment: readExperiment(file) });
  assert.equal(random.trained, e.layers.length * (2 + e.concepts.length));
  for (const layer of e.layers) {
    const [was, now] = [before.result, random.result].map((r) => r.random.find((b) => b.layer === layer)!.scores);
    assert.equal(now[2], was[2], `${layer}: random-vs-random run 3 (sets 2 and 3) is the cached CAV`);
    const [plainWas, plainNow] = [before.result, random.result].map((r) => cell(r, 'plain', layer));
    assert.deepEqual(plainNow.cavAccuracies.slice(1), plainWas.cavAccuracies.slice(1));
    assert.deepEqual(plainNow.scores.slice(1), plainWas.scores.slice(1));
  }
  assert.equal((await run({ cacheDir, experiment: readExperiment(file) })).trained, 0);
});

test('damaged CAV files are retrained and rewritten; the result stays the same', async () => {
  const cacheDir = path.join(tmp, 'cache-damaged');
  const cold = await run({ cacheDir });
  const files = cavFiles(cacheDir);
  const whole = files.map((f) => fs.readFileSync(f));
  fs.truncateSync(files[0], 30);
  const flipped = Buffer.from(whole[5]);
  flipped[flipped.length - 100] ^= 1;
  fs.writeFileSync(files[5], flipped);
  fs.writeFileSync(files[11], '');
  const repaired = await run({ cacheDir });
  assert.equal(repaired.trained, 3);
  assert.deepEqual(findings(repaired.result), findings(cold.result));
  assert.deepEqual(cavFiles(cacheDir), files);
  files.forEach((f, i) => assert.ok(fs.readFileSync(f).equals(whole[i]), `${path.basename(f)} rewritten as it was`));
  assert.equal((await run({ cacheDir })).trained, 0);
});

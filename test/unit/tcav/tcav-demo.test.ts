/**
 * TCAV's known answers on the demo's controlled experiment (demo/tcav: a model trained on data
 * where squares come with stripes): the planted concept "striped" scores ≥ 0.8 for "square" and
 * is significant at both layers; the unrelated concept "dotted" is not; relative TCAV of the two
 * points the same way (and flips when the pair is swapped); and random-vs-random
 * scores of fresh random images, tested against another batch of them, are not significant in
 * ≥ 90% of seeds (the test's false-positive rate under the null).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import { readExperiment } from '../../../src/extension/tcav/experiment';
import { runTcav } from '../../../src/extension/tcav/run-tcav';
import { bonferroni, welchTTest } from '../../../src/extension/tcav/stats';
import { makeRandomImage, mulberry32, TCAV_INPUT_SIZE } from '../../../demo/tcav-data';
import { useBackend } from '../../helpers/tf-test';

const DEMO = path.resolve(__dirname, '../../../../demo/tcav');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-tcav-demo-'));
let model: LoadedModel;

before(async () => {
  await useBackend('wasm');
  model = await loadModel(path.join(DEMO, 'model', 'model.json'));
});

test('the planted concept is significant for its class at both layers; the unrelated one is not', async () => {
  const exp = readExperiment(path.join(DEMO, 'experiment.json'));
  const r = await runTcav({ experiment: exp, model, preprocess: 'unit', cacheDir: path.join(tmp, 'cache') });
  assert.equal(r.target.label, 'square');
  for (const layer of exp.layers) {
    const striped = r.cells.find((c) => c.concept === 'striped' && c.layer === layer)!;
    const dotted = r.cells.find((c) => c.concept === 'dotted' && c.layer === layer)!;
    assert.ok(striped.mean >= 0.8, `striped at ${layer}: TCAV ${striped.mean}`);
    assert.ok(striped.significant, `striped at ${layer}: adjusted p ${striped.pAdjusted}`);
    assert.ok(!dotted.significant, `dotted at ${layer}: TCAV ${dotted.mean}, adjusted p ${dotted.pAdjusted}`);
  }
});

test('relative TCAV: striped against dotted scores high for square, dotted against striped low (the CAV flips)', async () => {
  const dir = path.join(tmp, 'relative');
  fs.cpSync(DEMO, dir, { recursive: true, filter: (src) => !/[\\/](\.cache|results)$/.test(src) });
  const file = path.join(dir, 'experiment.json');
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), relative: [['striped', 'dotted'], ['dotted', 'striped']] }));
  const exp = readExperiment(file);
  const r = await runTcav({ experiment: exp, model, preprocess: 'unit', cacheDir: path.join(tmp, 'cache') });
  assert.equal(r.tests, 4 * exp.layers.length);
  for (const layer of exp.layers) {
    const ab = r.cells.find((c) => c.concept === 'striped vs dotted' && c.layer === layer)!;
    const ba = r.cells.find((c) => c.concept === 'dotted vs striped' && c.layer === layer)!;
    assert.equal(ab.kind, 'relative');
    assert.ok(ab.mean >= 0.8 && ab.significant, `striped vs dotted at ${layer}: ${ab.mean}, adjusted p ${ab.pAdjusted}`);
    assert.ok(ba.mean <= 0.2, `dotted vs striped at ${layer}: ${ba.mean}`);
  }
});

async function writeImages(dir: string, count: number, seed: number): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const rng = mulberry32(seed);
  for (let i = 0; i < count; i++) {
    const px = makeRandomImage(rng, TCAV_INPUT_SIZE);
    await sharp(Buffer.from(px), { raw: { width: TCAV_INPUT_SIZE, height: TCAV_INPUT_SIZE, channels: 3 } }).png().toFile(path.join(dir, `${i}.png`));
  }
}

/** Random-vs-random scores per layer from fresh random sets of one seed (run r: set r − 1 against set r). */
async function nullScores(seed: number, runs: number, perSet: number, layers: string[]): Promise<Map<string, number[]>> {
  const dir = path.join(tmp, `random-${seed}`);
  await writeImages(path.join(dir, 'concepts', 'unused'), 2, 1000 + seed);
  await writeImages(path.join(dir, 'random'), (runs + 1) * perSet, 2000 + seed);
  fs.cpSync(path.join(DEMO, 'class'), path.join(dir, 'class'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'experiment.json'), JSON.stringify({ target: 'square', layers, runs, imagesPerSet: perSet, seed }));
  const r = await runTcav({ experiment: readExperiment(path.join(dir, 'experiment.json')), model, preprocess: 'unit', cacheDir: path.join(tmp, 'cache') });
  return new Map(r.random.map((b) => [b.layer, b.scores]));
}

test('random-vs-random is not significant against random-vs-random in at least 90% of seeds', async () => {
  // Each seed: two independent batches of random-vs-random runs (fresh images), tested against
  // each other as a concept is tested against the null (Welch, Bonferroni over the layers).
  const seeds = 20;
  const runs = 10;
  const layers = readExperiment(path.join(DEMO, 'experiment.json')).layers;
  let significant = 0;
  const report: string[] = [];
  for (let seed = 0; seed < seeds; seed++) {
    const a = await nullScores(2 * seed, runs, 20, layers);
    const b = await nullScores(2 * seed + 1, runs, 20, layers);
    const ps = layers.map((l) => bonferroni(welchTTest(a.get(l)!, b.get(l)!).p, layers.length));
    if (ps.some((p) => p < 0.05)) significant++;
    report.push(`${seed}: ${layers.map((l, i) => `${l} p_adj ${ps[i].toFixed(3)}`).join(', ')}`);
  }
  assert.ok(significant <= seeds / 10, `significant in ${significant} of ${seeds} seeds:\n${report.join('\n')}`);
});

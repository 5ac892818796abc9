/**
 * The sanity-check engine on small seeded models (cpu backend): the steps and their order, the
 * weights seen while each map is computed, bit-exact restoration (also after cancellation and
 * errors), seeding, data randomization, refusals and tensor leaks.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import { explainerById } from '../../../src/extension/explain/registry';
import { explainImage } from '../../../src/extension/explain/explain-image';
import { runSanityCheck, type SanityMapEvent, type SanityOptions } from '../../../src/extension/sanity/run-sanity';
import { randomizableBlocks } from '../../../src/extension/model/layers-randomizer';
import { similarities } from '../../../src/extension/sanity/similarity';
import { SIMILARITY_NAMES } from '../../../src/extension/sanity/types';
import { CancelledError, UserError } from '../../../src/shared/errors';
import { branchingModel, linearModel, randomizeWeights } from '../../helpers/models';
import { writeGraphModel } from '../../helpers/graph-model';
import { assertNoLeak, seededArray, useBackend } from '../../helpers/tf-test';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-sanity-'));
const images: string[] = [];
const METHODS = ['gradient', 'gradcam', 'guidedbp'].map(explainerById);

before(async () => {
  await useBackend('cpu');
  // Noise images, one of them at another size (resized to the model's 8×8 on load).
  for (const [i, [w, h]] of [[8, 8], [8, 8], [12, 10]].entries()) {
    const px = Buffer.from(seededArray(w * h * 3, 40 + i).map((v) => Math.round(((v + 1) / 2) * 255)));
    const file = path.join(dir, `noise-${i}.png`);
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
    images.push(file);
  }
});

function loaded(model: tfl.LayersModel, file = 'branching/model.json'): LoadedModel {
  return { adapter: new LayersModelAdapter(model), file, name: path.basename(path.dirname(file)), format: 'tfjs-layers', formatLabel: 'TensorFlow.js layers model', warnings: [] };
}

function options(model: LoadedModel, extra: Partial<SanityOptions> = {}): SanityOptions {
  return { model, images, methods: METHODS, mode: 'cascading', seed: 1, target: 'top', preprocess: 'unit', ...extra };
}

const bits = (t: tf.Tensor) => Buffer.from((t.dataSync() as Float32Array).slice().buffer);
const snapshotBits = (m: tfl.LayersModel) => m.weights.map((w) => bits(w.read()));
function assertRestored(m: tfl.LayersModel, before: Buffer[]): void {
  m.weights.forEach((w, i) => assert.ok(bits(w.read()).equals(before[i]), `${w.name} not restored bit for bit`));
}

test('steps: the original, then one per block from the logits down (branching model)', async () => {
  const model = loaded(branchingModel());
  const r = await runSanityCheck(options(model));
  assert.deepEqual(r.steps.map((s) => s.layer), [null, 'pred', 'last', 'bn2', 'b1', 'a1', 'c1']);
  assert.deepEqual(r.steps.map((s) => s.index), [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(r.steps[5].randomized, ['pred', 'last', 'bn2', 'b1', 'a1', 'a_bn']);
  assert.deepEqual(r.steps[0].randomized, []);
  assert.equal(r.images.length, images.length);
  for (const img of r.images) {
    assert.deepEqual(img.methods.map((m) => m.method), ['gradient', 'gradcam', 'guidedbp']);
    for (const m of img.methods) {
      assert.equal(m.similarities.length, 7);
      for (const k of SIMILARITY_NAMES) assert.ok(Math.abs(m.similarities[0][k] - 1) < 1e-12, `step 0 ${k} = ${m.similarities[0][k]}`);
    }
  }
  // Cascading score: the mean over the images of the metric after the full cascade.
  for (const [mi, s] of r.summary.entries()) {
    const expected = r.images.reduce((a, img) => a + img.methods[mi].similarities[6].spearman, 0) / images.length;
    assert.ok(Math.abs(s.score - expected) < 1e-12);
    assert.equal(s.verdict, s.score < 0.5 ? 'passes' : 'fails');
  }
  assert.equal(r.metric, 'spearman');
  assert.equal(r.threshold, 0.5);
  assert.match(r.rule, /full cascade.*below 0\.5/);
  const independent = await runSanityCheck(options(model, { mode: 'independent' }));
  assert.deepEqual(independent.steps[5].randomized, ['a1', 'a_bn']);
  model.adapter.dispose();
});

/** Which blocks hold other weights than the originals while each map is computed. */
async function changedBlocksPerStep(mode: 'cascading' | 'independent'): Promise<Map<number, number[]>> {
  const m = branchingModel();
  const model = loaded(m);
  const blocks = randomizableBlocks(m);
  const original = new Map(m.weights.map((w) => [w, bits(w.read())]));
  const seen = new Map<number, number[]>();
  await runSanityCheck(options(model, {
    mode,
    onMap: (e: SanityMapEvent) => {
      const changed = blocks.flatMap((b, j) => (b.layers.some(({ layer }) => layer.weights.some((w) => !bits(w.read()).equals(original.get(w)!))) ? [j] : []));
      const before = seen.get(e.step);
      if (before) assert.deepEqual(changed, before, 'weights change within a step');
      seen.set(e.step, changed);
    },
  }));
  model.adapter.dispose();
  return seen;
}

test('independent mode re-initialises one block at a time, the others keep their trained weights', async () => {
  const seen = await changedBlocksPerStep('independent');
  assert.deepEqual([...seen.entries()], [[0, []], [1, [0]], [2, [1]], [3, [2]], [4, [3]], [5, [4]], [6, [5]]]);
});

test('cascading mode adds one block per step, from the top', async () => {
  const seen = await changedBlocksPerStep('cascading');
  assert.deepEqual([...seen.entries()], [[0, []], [1, [0]], [2, [0, 1]], [3, [0, 1, 2]], [4, [0, 1, 2, 3]], [5, [0, 1, 2, 3, 4]], [6, [0, 1, 2, 3, 4, 5]]]);
});

test('while the last cascade step is explained, every weight is what its initializer gives', async () => {
  const m = branchingModel();
  const model = loaded(m);
  let checked = 0;
  await runSanityCheck(options(model, {
    onMap: (e) => {
      if (e.step !== 6 || checked++ > 0) return;
      for (const layer of m.layers) {
        const ws = layer.weights.map((w) => Array.from(w.read().dataSync()));
        if (layer.getClassName() === 'BatchNormalization') {
          // bn2: gamma 1, beta 0, mean 0, variance 1; a_bn (no scale, no centre): mean 0, variance 1.
          const expected = ws.length === 4 ? [1, 0, 0, 1] : [0, 1];
          ws.forEach((w, i) => assert.ok(w.every((v) => v === expected[i]), `${layer.name} weight ${i}`));
        } else if (ws.length > 0) {
          // Conv / dense: glorotUniform kernel within √(6 / (fanIn + fanOut)), zeros bias.
          const s = layer.weights[0].shape as number[];
          const receptive = s.length === 4 ? s[0] * s[1] : 1;
          const limit = Math.sqrt(6 / ((s[s.length - 2] + s[s.length - 1]) * receptive));
          assert.ok(ws[0].every((v) => Math.abs(v) <= limit), `${layer.name} kernel within ±${limit}`);
          assert.ok(ws[1].every((v) => v === 0), `${layer.name} bias zero`);
        }
      }
    },
  }));
  assert.equal(checked, images.length * METHODS.length);
  model.adapter.dispose();
});

test('a run restores every weight bit for bit and leaks no tensors; the same seed gives the same result', async () => {
  const m = branchingModel();
  const model = loaded(m);
  const before = snapshotBits(m);
  const a = await assertNoLeak(() => runSanityCheck(options(model, { seed: 7 })));
  assertRestored(m, before);
  const b = await runSanityCheck(options(model, { seed: 7 }));
  assert.deepEqual(b, a);
  const c = await runSanityCheck(options(model, { seed: 8 }));
  assert.deepEqual(c.steps, a.steps);
  assert.notDeepEqual(c.images.map((i) => i.methods.map((x) => x.similarities.slice(1))), a.images.map((i) => i.methods.map((x) => x.similarities.slice(1))));
  assertRestored(m, before);
  model.adapter.dispose();
});

test('cancelling mid-cascade, or an error in a callback, restores the weights and frees every tensor', async () => {
  const m = branchingModel();
  const model = loaded(m);
  const before = snapshotBits(m);
  const tensors = tf.memory().numTensors;
  const ac = new AbortController();
  await assert.rejects(
    runSanityCheck(options(model, { signal: ac.signal, onMap: (e) => e.step === 3 && ac.abort() })),
    (e: unknown) => e instanceof CancelledError,
  );
  assertRestored(m, before);
  assert.equal(tf.memory().numTensors, tensors, 'numTensors after cancel');
  await assert.rejects(
    runSanityCheck(options(model, { mode: 'independent', onMap: (e) => { if (e.step === 4) throw new Error('boom'); } })),
    /boom/,
  );
  assertRestored(m, before);
  assert.equal(tf.memory().numTensors, tensors, 'numTensors after an error');
  // The model is free again.
  const r = await runSanityCheck(options(model, { methods: [METHODS[0]] }));
  assert.equal(r.steps.length, 7);
  model.adapter.dispose();
});

test('data randomization compares each map with the twin model\'s, for the original model\'s target', async () => {
  const model = loaded(branchingModel());
  // An identical twin: every map the same.
  const same = loaded(branchingModel(), 'same/model.json');
  const r1 = await runSanityCheck(options(model, { randomLabelsModel: same }));
  assert.equal(r1.dataRandomization?.model, 'same/model.json');
  for (const img of r1.dataRandomization!.images) {
    for (const m of img.methods) for (const k of SIMILARITY_NAMES) assert.ok(Math.abs(m.similarities[k] - 1) < 1e-12, `${m.method} ${k}`);
  }
  assert.ok(r1.dataRandomization!.summary.every((s) => s.verdict === 'fails' && Math.abs(s.score - 1) < 1e-12));
  // A twin with other weights: the similarities are those of the two maps, computed apart.
  const otherModel = branchingModel();
  randomizeWeights(otherModel, 999);
  const other = loaded(otherModel, 'other/model.json');
  const originals = new Map<string, Float32Array>();
  const r2 = await runSanityCheck(options(model, { randomLabelsModel: other, onMap: (e) => e.step === 0 && originals.set(`${e.image}|${e.method}`, e.map) }));
  for (const [i, img] of r2.dataRandomization!.images.entries()) {
    const target = r2.images[i].target.index;
    const twin = await explainImage({ model: other, imageFile: img.file, methods: METHODS, target, preprocess: 'unit' });
    for (const [k, m] of img.methods.entries()) {
      const expected = similarities(originals.get(`${img.file}|${m.method}`)!, twin.maps[k].upsampled, 8, 8);
      assert.deepEqual(m.similarities, expected);
    }
  }
  for (const x of [model, same, other]) x.adapter.dispose();
});

test('graph models, methods that do not apply and mismatched twins are refused before anything runs', async () => {
  const graphDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-sanity-graph-'));
  writeGraphModel(graphDir);
  const graph = await loadModel(graphDir);
  const isUserError = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message);
  await assert.rejects(runSanityCheck(options(graph)), isUserError(/^cannot run sanity checks: .*graph model/));
  const model = loaded(branchingModel());
  await assert.rejects(runSanityCheck(options(model, { randomLabelsModel: graph, methods: [explainerById('guidedbp')] })), isUserError(/random-labels model: Guided Backprop/));
  const linear = loaded(linearModel(), 'linear/model.json');
  await assert.rejects(runSanityCheck(options(linear, { methods: [explainerById('gradcam')] })), isUserError(/spatial/));
  await assert.rejects(runSanityCheck(options(model, { randomLabelsModel: linear })), isUserError(/same architecture/));
  await assert.rejects(runSanityCheck(options(model, { target: 3 })), isUserError(/out of range/));
  for (const x of [graph, model, linear]) x.adapter.dispose();
});

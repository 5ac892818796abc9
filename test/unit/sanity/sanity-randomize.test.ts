/**
 * Re-initialising layers in place: which layers form the strip's columns and in what order, the
 * values the initializers give, the seeding, and the snapshot that puts everything back.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { loadModel } from '../../../src/extension/model/load';
import { randomizableBlocks, LayersWeightSnapshot as WeightSnapshot } from '../../../src/extension/model/layers-randomizer';
import { freshWeight } from '../../../src/extension/model/layers-initializers';
import { weightSeed } from '../../../src/extension/model/weight-seed';
import type { Randomizer } from '../../../src/extension/model/types';
import { UserError } from '../../../src/shared/errors';
import { branchingModel, gapModel, nestedModel } from '../../helpers/models';
import { writeGraphModel } from '../../helpers/graph-model';
import { useBackend } from '../../helpers/tf-test';

before(async () => {
  await useBackend('cpu');
});

const names = (m: tfl.LayersModel) => randomizableBlocks(m).map((b) => [b.name, ...b.layers.slice(1).map((l) => l.name)].join('+'));
const values = (m: tfl.LayersModel) => m.weights.map((w) => w.read().dataSync().slice() as Float32Array);
const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

test('blocks run from the logits down; a batch norm joins the conv it follows; nested models are expanded', () => {
  // a_bn normalises conv a1's output: one block. bn2 follows a Concatenate: a block of its own.
  assert.deepEqual(names(branchingModel()), ['pred', 'last', 'bn2', 'b1', 'a1+a_bn', 'c1']);
  assert.deepEqual(names(gapModel()), ['pred', 'feat', 'dw', 'conv_a']);
  assert.deepEqual(names(nestedModel()), ['logits', 'bout', 'bconv']);
});

test('a graph model has no randomizer, and says why; a layers model has one block per layer with weights', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-sanity-graph-'));
  writeGraphModel(dir);
  const graph = await loadModel(dir);
  const why = graph.adapter.randomizer();
  assert.equal(typeof why, 'string');
  assert.match(why as string, /weights are constants frozen into the graph/);
  graph.adapter.dispose();
  const layers = new LayersModelAdapter(gapModel());
  const r = layers.randomizer();
  assert.notEqual(typeof r, 'string');
  assert.deepEqual((r as Randomizer).blocks.map((b) => b.name), randomizableBlocks(layers.model).map((b) => b.name));
  layers.dispose();
});

test('re-initialised weights follow the layer initializers; the snapshot restores them bit for bit', () => {
  const m = gapModel();
  const original = values(m);
  const tensors = tf.memory().numTensors;
  const blocks = randomizableBlocks(m);
  const snap = new WeightSnapshot(m, blocks);
  for (const b of blocks) snap.reinitialize(b, 5);
  for (const { layer } of blocks.flatMap((b) => b.layers)) {
    const [kernel, bias] = layer.weights.map((w) => w.read());
    // glorotUniform (every kernel of gapModel, the depthwise one as its depthwiseInitializer):
    // U(±√(6 / (fanIn + fanOut))), fans = channels in / out × receptive field.
    const s = kernel.shape;
    const receptive = s.length === 4 ? s[0] * s[1] : 1;
    const limit = Math.sqrt(6 / ((s[s.length - 2] + s[s.length - 1]) * receptive));
    const maxAbs = Array.from(kernel.dataSync()).reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    assert.ok(maxAbs <= limit && maxAbs > 0.5 * limit, `${layer.name}: max |kernel| ${maxAbs}, limit ${limit}`);
    // Biases: the default zeros initializer (the helper had made them non-zero).
    assert.ok(bias.dataSync().every((v) => v === 0), `${layer.name}: bias not zero`);
  }
  snap.release();
  values(m).forEach((v, i) => assert.ok(sameBits(v, original[i]), `weight ${m.weights[i].name} not restored`));
  assert.equal(tf.memory().numTensors, tensors, 'numTensors');
  snap.release(); // a second release does nothing
});

test('batch norms get gamma 1, beta 0, moving mean 0 and variance 1 back', () => {
  const m = branchingModel();
  const blocks = randomizableBlocks(m);
  const snap = new WeightSnapshot(m, blocks);
  try {
    for (const b of blocks) snap.reinitialize(b, 1);
    const bn2 = m.getLayer('bn2').getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepEqual(bn2, [[1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]]);
    // scale=false, center=false: only the moving statistics.
    assert.deepEqual(m.getLayer('a_bn').getWeights().map((w) => Array.from(w.dataSync())), [[0, 0, 0, 0], [1, 1, 1, 1]]);
  } finally {
    snap.release();
  }
});

test('the same seed gives the same weights, another seed others; one model, one snapshot at a time', () => {
  const m = gapModel();
  const blocks = randomizableBlocks(m);
  const snap = new WeightSnapshot(m, blocks);
  try {
    assert.throws(() => new WeightSnapshot(m, blocks), (e: unknown) => e instanceof UserError && /already running/.test(e.message));
    const draw = (seed: number) => {
      snap.reinitialize(blocks[1], seed);
      return m.getLayer('feat').weights[0].read().dataSync().slice() as Float32Array;
    };
    const a = draw(3);
    const b = draw(3);
    const c = draw(4);
    assert.ok(sameBits(a, b), 'same seed, same weights');
    assert.ok(!sameBits(a, c), 'another seed, other weights');
  } finally {
    snap.release();
  }
  new WeightSnapshot(m, blocks).release(); // free again
  assert.notEqual(weightSeed(0, 'feat', 0), weightSeed(0, 'feat', 1));
  assert.notEqual(weightSeed(0, 'feat', 0), weightSeed(0, 'pred', 0));
  assert.notEqual(weightSeed(0, 'feat', 0), weightSeed(1, 'feat', 0));
});

test('he-normal kernels stay within two standard deviations; without an initializer, a truncated normal like the original', () => {
  const conv = tfl.layers.conv2d({ filters: 16, kernelSize: 3, kernelInitializer: 'heNormal', name: 'he' });
  conv.build([null, 8, 8, 8]);
  const v = conv.weights[0];
  const std = Math.sqrt(2 / (3 * 3 * 8));
  const fresh = freshWeight(conv, v, 9, v.read());
  assert.ok(fresh.dataSync().every((x) => Math.abs(x) <= 2 * std + 1e-7), 'truncated at 2σ');
  fresh.dispose();
  // A layer whose config names no initializer for the weight: mean and spread of the original.
  const original = tf.add(tf.mul(tf.randomNormal([3, 3, 8, 16], 0, 1, 'float32', 1), 0.2), 0.5);
  const bare = { getConfig: () => ({}) } as unknown as tfl.layers.Layer;
  const t = freshWeight(bare, v, 9, original);
  const moments = (x: tf.Tensor) => tf.tidy(() => {
    const r = tf.moments(x);
    return [r.mean.dataSync()[0], Math.sqrt(r.variance.dataSync()[0])];
  });
  const [m0, s0] = moments(original);
  const [m, s] = moments(t);
  // A normal truncated at 2σ has a standard deviation of 0.88σ.
  assert.ok(Math.abs(m - m0) < 0.02, `mean ${m} vs ${m0}`);
  assert.ok(Math.abs(s - 0.88 * s0) < 0.02, `std ${s} vs 0.88 × ${s0}`);
  assert.ok(t.dataSync().every((x) => Math.abs(x - m0) <= 2 * s0 + 1e-6), 'truncated at 2σ');
  tf.dispose([original, t]);
});

/**
 * The methods that split their loops into shards (RISE, occlusion, Score-CAM, SmoothGrad,
 * Integrated Gradients) give the same map, bit for bit, whoever computes the shards and in
 * whatever order: with no spread (the shards here, in order), with a spread that computes them
 * scrambled over two "workers" with their own state and copies of the payload, and through a
 * real pool of two workers against a pool of one. Also the random streams' jumps the shards rely
 * on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ComputePool } from '../../../src/extension/compute/pool';
import type { ExplainJobArgs } from '../../../src/extension/compute/jobs/explain';
import type { ShardContext, ShardKind, Spread } from '../../../src/extension/compute/spread';
import type { ExplainImageResult } from '../../../src/extension/explain/explain-image';
import type { Explainer, ExplainRequest, ExplanationMap, MethodParams } from '../../../src/extension/explain/explainer';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import { rise, drawMasks, drawsPerMask, maskGeometry } from '../../../src/extension/explain/methods/perturbation/rise';
import { occlusion } from '../../../src/extension/explain/methods/perturbation/occlusion';
import { scoreCam } from '../../../src/extension/explain/methods/cam/score-cam';
import { smoothGrad } from '../../../src/extension/explain/methods/gradient/smoothgrad';
import { integratedGradients } from '../../../src/extension/explain/methods/gradient/integrated-gradients';
import { shardProgress, shardSize } from '../../../src/extension/explain/methods/method-shards';
import { gaussianAt, gaussianSource, mulberry32, mulberry32At } from '../../../src/extension/util/seeded-random';
import { makeShapeImage, toUnit } from '../../../demo/synthetic';
import { useBackend } from '../../helpers/tf-test';

const root = path.resolve(__dirname, '../../../..');
const modelRef = { file: path.join(root, 'demo/models/shapes/model.json') };
const image = path.join(root, 'demo/images/circle-1.png');

/** Each method with parameters that give it many shards at batch size 4 on the 64×64 demo model. */
const CASES: Array<{ name: string; method: Explainer; params: MethodParams }> = [
  { name: 'rise', method: rise, params: { masks: 150, cells: 6 } },
  { name: 'occlusion', method: occlusion, params: { window: 16, stride: 8 } },
  { name: 'scorecam', method: scoreCam, params: {} },
  { name: 'smoothgrad', method: smoothGrad, params: { samples: 32, sigma: 0.2 } },
  { name: 'smoothgrad over IG', method: smoothGrad, params: { samples: 2, sigma: 0.2, base: 'ig' } },
  { name: 'ig', method: integratedGradients, params: { steps: 40, baseline: 'noise' } },
];
const BATCH = 4;

/** A seeded permutation of 0..n−1 that is not the identity (for n > 1). */
function scrambled(n: number, seed: number): number[] {
  const rng = mulberry32(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  if (order.every((v, i) => v === i)) order.reverse();
  return order;
}

/**
 * A Spread that computes the shards in a scrambled order, alternating between two "workers" that
 * each have their own state and their own structured clone of the payload (as a worker of the
 * pool does), and hands results on as they would cross threads.
 */
class ScrambledSpread implements Spread {
  readonly runs: Array<{ kind: string; count: number }> = [];
  constructor(private readonly adapter: LoadedModel['adapter'], private readonly seed: number) {}

  async run<P, R>(kind: ShardKind<P, R>, payload: P, count: number, onResult?: (index: number, result: R) => void): Promise<R[]> {
    this.runs.push({ kind: kind.kind, count });
    const workers = [0, 1].map(() => {
      const ends: Array<() => void | Promise<void>> = [];
      const ctx: ShardContext = { adapter: this.adapter, state: new Map(), onEnd: (f) => void ends.push(f) };
      return { ctx, ends, payload: structuredClone(payload) };
    });
    const out = new Array<R>(count);
    try {
      for (const [j, i] of scrambled(count, this.seed).entries()) {
        const w = workers[j % 2];
        out[i] = structuredClone(await kind.run(w.payload, i, w.ctx));
        onResult?.(i, out[i]);
      }
    } finally {
      for (const w of workers) for (const f of w.ends.reverse()) await f();
    }
    return out;
  }
}

describe('random streams that shards jump into', () => {
  test('mulberry32At(seed, k) continues mulberry32(seed) after k draws', () => {
    for (const seed of [0, 1, 0x5eed, -7, 2 ** 32 - 1]) {
      const rng = mulberry32(seed);
      const seen = Array.from({ length: 300 }, () => rng());
      for (const k of [0, 1, 2, 99, 299]) assert.equal(mulberry32At(seed, k)(), seen[k], `seed ${seed}, skip ${k}`);
    }
    assert.throws(() => mulberry32At(1, -1));
    assert.throws(() => mulberry32At(1, 1.5));
  });

  test('gaussianAt(seed, j) continues gaussianSource(mulberry32(seed)) after j values, odd j too', () => {
    const normal = gaussianSource(mulberry32(11));
    const seen = Array.from({ length: 40 }, () => normal());
    for (const j of [0, 1, 2, 3, 17, 38]) {
      const from = gaussianAt(11, j);
      assert.deepEqual([from(), from()], seen.slice(j, j + 2), `skip ${j}`);
    }
  });

  test('drawMasks consumes drawsPerMask(s) draws per mask: a jump lands on the next mask', () => {
    for (const cells of [1, 3, 8]) {
      const g = maskGeometry(cells, 20, 17);
      const all = drawMasks(mulberry32(5), 9, g, 0.4);
      const tail = drawMasks(mulberry32At(5, 4 * drawsPerMask(cells)), 5, g, 0.4);
      assert.deepEqual(tail.grids, all.grids.subarray(4 * cells * cells));
      assert.deepEqual(tail.shifts, all.shifts.subarray(8));
    }
  });

  test('shard sizes depend on the work and the batch only, and progress reaches 1 in any order', () => {
    assert.equal(shardSize(100000, 32), 64, 'two batches');
    assert.equal(shardSize(1000, 32), 32, 'one batch');
    assert.equal(shardSize(226, 32), 15, 'total / 16');
    assert.equal(shardSize(32, 32), 8, 'not below 8 images');
    assert.equal(shardSize(16, 3), 3, 'nor below a batch of 3');
    assert.equal(shardSize(3, 32), 3);
    const seen: number[] = [];
    const onResult = shardProgress((f) => seen.push(f), 10, 3)!;
    for (const i of [3, 0, 2, 1]) onResult(i);
    assert.deepEqual(seen, [0.1, 0.4, 0.7, 1]);
  });
});

describe('sharded methods on the demo model (wasm)', () => {
  let model: LoadedModel;
  let x: tf.Tensor4D;
  let black: tf.Tensor4D;
  before(async () => {
    await useBackend('wasm');
    model = await loadModel(path.join(root, 'demo', 'models', 'shapes'));
    const img = makeShapeImage(mulberry32(424242), 64);
    x = tf.tensor4d(toUnit(img.pixels), [1, 64, 64, 3]);
    black = tf.zeros([1, 64, 64, 3]) as tf.Tensor4D;
  });
  after(() => {
    tf.dispose([x, black]);
    model.adapter.dispose();
  });

  for (const c of CASES) {
    test(`${c.name}: shards computed scrambled over two workers give the map of no spread, bit for bit`, async () => {
      const req: ExplainRequest = {
        adapter: model.adapter, input: x, black, inputRange: [0, 1], target: { index: 1, space: 'logit' },
        params: c.params, seed: 3, batchSize: BATCH,
      };
      const here = await c.method.explain(req);
      for (const seed of [1, 2]) {
        const spread = new ScrambledSpread(model.adapter, seed);
        const progress: number[] = [];
        const before = tf.memory().numTensors;
        const there: ExplanationMap = await c.method.explain({ ...req, spread, onProgress: (f) => progress.push(f) });
        assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
        assert.equal(spread.runs.length, 1, 'one spread');
        assert.ok(spread.runs[0].count >= 8, `${spread.runs[0].count} shards`);
        assert.equal(progress.length, spread.runs[0].count, 'progress once per shard');
        assert.ok(progress.every((f, i) => i === 0 || f > progress[i - 1]), 'progress increases');
        assert.equal(progress[progress.length - 1], 1);
        assert.deepEqual(there, here);
      }
      assert.ok(here.data.some((v) => v !== 0), 'not all zeros');
    });
  }
});

describe('sharded methods through the compute pool', () => {
  const pools: ComputePool[] = [];
  const pool = (size: number) => {
    const p = new ComputePool({ size, backend: 'wasm' });
    pools.push(p);
    return p;
  };
  after(async () => {
    await Promise.all(pools.map((p) => p.dispose()));
  });

  test('two workers give the maps of one, bit for bit, for every sharded method', async () => {
    const [one, two] = [pool(1), pool(2)];
    // One method per job: its shards are then the job's only work, and the second worker helps.
    for (const c of CASES) {
      const params = Object.fromEntries(Object.entries(c.params).map(([k, v]) => [`${c.method.id}.${k}`, v]));
      const args: ExplainJobArgs = { model: modelRef, imageFile: image, methods: [c.method.id], target: 'top', preprocess: 'unit', seed: 7, batchSize: BATCH, params };
      const a = await one.run<ExplainImageResult>('explain', args, { model: modelRef });
      const b = await two.run<ExplainImageResult>('explain', args, { model: modelRef });
      assert.deepEqual(a.maps.map((m) => m.method), [c.method.id]);
      assert.deepEqual(b.maps[0].map, a.maps[0].map, `${c.name}: the maps differ`);
      assert.ok(a.maps[0].map.data.some((v) => v !== 0), `${c.name}: not all zeros`);
    }
  });
});

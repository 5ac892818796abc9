/**
 * The sanity cascade spread over the compute pool (wasm backend, the demo model, three demo
 * images): one worker, two workers and the plain run without a spread give the same result and
 * the same maps bit for bit, in cascading and independent mode, with data randomization; a cancel
 * mid-cascade rejects with CancelledError and leaves every worker's weights as they were, so the
 * next check gives the same result again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ComputePool } from '../../../src/extension/compute/pool';
import { sanityJob, type SanityEvents, type SanityJobArgs } from '../../../src/extension/compute/jobs/sanity';
import { explainerById } from '../../../src/extension/explain/registry';
import { loadModel, type LoadedModel } from '../../../src/extension/model/load';
import { runSanityCheck, type SanityMapEvent } from '../../../src/extension/sanity/run-sanity';
import type { SanityMode, SanityResult } from '../../../src/extension/sanity/types';
import { CancelledError } from '../../../src/shared/errors';
import { useBackend } from '../../helpers/tf-test';

const root = path.resolve(__dirname, '../../../..');
const model = { file: path.join(root, 'demo/models/shapes/model.json') };
const twin = { file: path.join(root, 'demo/models/shapes-random-labels/model.json') };
const images = ['circle-1.png', 'square-2.png', 'triangle-3.jpg'].map((f) => path.join(root, 'demo/images', f));
// SmoothGrad draws its noise from the seed: the steps' maps must not depend on which worker drew it.
const METHODS = ['gradient', 'gradcam', 'guidedbp', 'smoothgrad'];
const PARAMS = { 'smoothgrad.samples': 4 };
/** Steps of the demo model: the original and its ten randomizable blocks. */
const STEPS = 11;

const pools: ComputePool[] = [];
function pool(size: number): ComputePool {
  const p = new ComputePool({ size, backend: 'wasm' });
  pools.push(p);
  return p;
}
let plainModel: LoadedModel;
let plainTwin: LoadedModel;
before(async () => {
  await useBackend('wasm');
  plainModel = await loadModel(model.file);
  plainTwin = await loadModel(twin.file);
});
after(async () => {
  plainModel.adapter.dispose();
  plainTwin.adapter.dispose();
  await Promise.all(pools.map((p) => p.dispose()));
});

function args(mode: SanityMode, withTwin: boolean): SanityJobArgs {
  return { model, ...(withTwin ? { twin } : {}), images, methods: METHODS, mode, seed: 3, target: 'top', preprocess: 'unit', params: PARAMS };
}

/** The maps by (image, method, step), without their timing. */
type Maps = Map<string, { map: number[]; height: number; width: number; signed: boolean }>;
function collect(into: Maps, e: SanityMapEvent): void {
  const key = `${path.basename(e.image)}|${e.method}|${e.step}`;
  assert.ok(!into.has(key), `${key} reported twice`);
  into.set(key, { map: Array.from(e.map), height: e.height, width: e.width, signed: e.signed });
}

async function plain(a: SanityJobArgs): Promise<{ result: SanityResult; maps: Maps }> {
  const maps: Maps = new Map();
  const tensors = tf.memory().numTensors;
  const result = await runSanityCheck({
    model: plainModel, randomLabelsModel: a.twin ? plainTwin : undefined, images: a.images, methods: a.methods.map(explainerById),
    mode: a.mode, seed: a.seed, target: a.target, preprocess: a.preprocess, params: a.params, onMap: (e) => collect(maps, e),
  });
  assert.equal(tf.memory().numTensors, tensors, 'numTensors after the plain run');
  return { result, maps };
}

async function pooled(p: ComputePool, a: SanityJobArgs, signal?: AbortSignal, onMap?: (e: SanityMapEvent) => void): Promise<{ result: SanityResult; maps: Maps; progress: string[] }> {
  const maps: Maps = new Map();
  const progress: string[] = [];
  const result = await p.run<SanityResult>(sanityJob.kind, a, {
    model, signal,
    onEvent: (name, data) => {
      if (name === 'map') {
        collect(maps, data as SanityEvents['map']);
        onMap?.(data as SanityEvents['map']);
      } else if (name === 'progress') {
        progress.push((data as SanityEvents['progress']).message);
      }
    },
  });
  return { result, maps, progress };
}

function sameMaps(a: Maps, b: Maps, what: string): void {
  assert.equal(a.size, images.length * METHODS.length * STEPS, `${what}: every map once`);
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), `${what}: the same maps`);
  for (const [key, m] of a) assert.deepEqual(b.get(key), m, `${what}: ${key} differs`);
}

/** Steps whose maps another worker computed: the lead reports them as one progress message when they arrive. */
const helped = (progress: string[]) => progress.filter((m) => /^step \d+\/\d+, \S+ re-initialised$/.test(m)).length;

describe('sanity cascade over the compute pool', () => {
  test('cascading with data randomization: one worker, two workers and the plain run agree bit for bit', async () => {
    const a = args('cascading', true);
    const ref = await plain(a);
    assert.equal(ref.result.steps.length, STEPS);
    assert.ok(ref.result.dataRandomization, 'data randomization ran');
    const one = await pooled(pool(1), a);
    const two = await pooled(pool(2), a);
    assert.deepEqual(one.result, ref.result);
    assert.deepEqual(two.result, ref.result);
    sameMaps(ref.maps, one.maps, 'one worker');
    sameMaps(ref.maps, two.maps, 'two workers');
    assert.equal(helped(one.progress), 0, 'one worker computes every step itself');
    assert.ok(helped(two.progress) > 0, 'with two workers, the second computes steps');
  });

  test('independent: one worker, two workers and the plain run agree bit for bit', async () => {
    const a = args('independent', false);
    const ref = await plain(a);
    assert.equal(ref.result.dataRandomization, undefined);
    const one = await pooled(pool(1), a);
    const two = await pooled(pool(2), a);
    assert.deepEqual(one.result, ref.result);
    assert.deepEqual(two.result, ref.result);
    sameMaps(ref.maps, one.maps, 'one worker');
    sameMaps(ref.maps, two.maps, 'two workers');
  });

  test('a cancel mid-cascade rejects, and every worker has its trained weights back for the next check', async () => {
    const p = pool(2);
    for (const mode of ['cascading', 'independent'] as const) {
      const a = args(mode, false);
      const first = await pooled(p, a);
      const abort = new AbortController();
      await assert.rejects(pooled(p, a, abort.signal, (e) => e.step >= 4 && abort.abort()), CancelledError);
      const again = await pooled(p, a);
      assert.deepEqual(again.result, first.result, `${mode}: the same result after the cancel`);
      sameMaps(first.maps, again.maps, `${mode} after the cancel`);
      assert.ok(helped(again.progress) > 0, `${mode}: both workers computed steps after the cancel`);
    }
    assert.equal(p.replaced, 0, 'the workers stopped by themselves');
  });
});

/**
 * The compute pool on the demo model: results equal a single worker's bit for bit, cancel stops a
 * cooperative job, a worker that does not stop is terminated and replaced, and a worker that dies
 * becomes a clear error while a fresh one serves the next request.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ComputePool } from '../../../src/extension/compute/pool';
import type { ExplainJobArgs } from '../../../src/extension/compute/jobs/explain';
import type { ExplainImageResult, MethodResult } from '../../../src/extension/explain/explain-image';
import { CancelledError, UserError } from '../../../src/shared/errors';

const root = path.resolve(__dirname, '../../../..');
const model = { file: path.join(root, 'demo/models/shapes/model.json') };
const image = path.join(root, 'demo/images/circle-1.png');

function explainArgs(methods: string[], extra: Partial<ExplainJobArgs> = {}): ExplainJobArgs {
  return { model, imageFile: image, methods, target: 'top', preprocess: 'unit', seed: 7, ...extra };
}

const pools: ComputePool[] = [];
function pool(size: number, cancelGraceMs?: number): ComputePool {
  const p = new ComputePool({ size, backend: 'wasm', testJobs: true, cancelGraceMs });
  pools.push(p);
  return p;
}
after(async () => {
  await Promise.all(pools.map((p) => p.dispose()));
});

const METHODS = ['gradcam', 'rise', 'smoothgrad', 'ig', 'occlusion', 'scorecam'];
const PARAMS = { 'rise.masks': 300, 'smoothgrad.samples': 12, 'ig.steps': 24 };

function sameMaps(a: MethodResult[], b: MethodResult[]): void {
  assert.deepEqual(a.map((m) => m.method), b.map((m) => m.method));
  for (const [i, m] of a.entries()) {
    assert.deepEqual(Array.from(m.map.data), Array.from(b[i].map.data), `${m.method}: the maps differ`);
  }
}

describe('compute pool', () => {
  test('two workers give the same maps and metrics as one, bit for bit', async () => {
    const args = explainArgs(METHODS, { params: PARAMS, metrics: {} });
    const one = await pool(1).run<ExplainImageResult>('explain', args, { model });
    const two = await pool(2).run<ExplainImageResult>('explain', args, { model });
    sameMaps(one.maps, two.maps);
    assert.deepEqual(one.maps.map((m) => m.metrics), two.maps.map((m) => m.metrics));
    assert.deepEqual(one.predictions, two.predictions);
  });

  test('events arrive before the result: predictions first, then every map', async () => {
    const seen: string[] = [];
    const result = await pool(1).run<ExplainImageResult>('explain', explainArgs(['gradcam', 'gradient']), { model, onEvent: (name) => seen.push(name) });
    assert.equal(seen[0], 'predictions');
    assert.equal(seen.filter((s) => s === 'map').length, 2);
    assert.equal(result.maps.length, 2);
  });

  test('methods that split their work say how far each map is: whole percents, rising, below 100, before the map', async () => {
    const seen: Array<{ name: string; data: unknown }> = [];
    const args = explainArgs(['gradcam', 'smoothgrad', 'ig'], { params: { 'smoothgrad.samples': 48, 'ig.steps': 96 } });
    await pool(2).run<ExplainImageResult>('explain', args, { model, onEvent: (name, data) => seen.push({ name, data }) });
    for (const id of ['smoothgrad', 'ig']) {
      const percents = seen.flatMap((e) => (e.name === 'progress' && (e.data as { id: string }).id === id ? [(e.data as { percent: number }).percent] : []));
      assert.ok(percents.length >= 3, `${id}: ${percents.length} progress events`);
      assert.ok(percents.every((v, i) => Number.isInteger(v) && v > 0 && v < 100 && (i === 0 || v > percents[i - 1])), `${id}: ${percents}`);
      const lastProgress = seen.map((e) => e.name === 'progress' && (e.data as { id: string }).id === id).lastIndexOf(true);
      const map = seen.findIndex((e) => e.name === 'map' && (e.data as MethodResult).method === id);
      assert.ok(lastProgress < map, `${id}: progress before the map`);
    }
    assert.ok(!seen.some((e) => e.name === 'progress' && (e.data as { id: string }).id === 'gradcam'), 'Grad-CAM is one pass: no progress of its own');
  });

  test('a cancel stops a cooperative job, and the worker takes the next one', async () => {
    // A long grace period: on a loaded machine the worker must still stop by itself.
    const p = pool(1, 60_000);
    const abort = new AbortController();
    const running = p.run('explain', explainArgs(['rise'], { params: { 'rise.masks': 100000 } }), { model, signal: abort.signal, onEvent: (name) => name === 'predictions' && abort.abort() });
    await assert.rejects(running, CancelledError);
    assert.equal(p.replaced, 0, 'the worker stopped by itself');
    const next = await p.run<ExplainImageResult>('explain', explainArgs(['gradcam']), { model });
    assert.equal(next.maps.length, 1);
  });

  test('a worker that does not stop within the grace period is terminated and replaced', async () => {
    const p = pool(1, 200);
    const abort = new AbortController();
    const before = p.threadIds[0];
    const running = p.run('test-spin', { ms: 60_000 }, { signal: abort.signal });
    setTimeout(() => abort.abort(), 100);
    await assert.rejects(running, CancelledError);
    assert.equal(p.replaced, 1);
    const echo = await p.run<{ value: number; thread: number }>('test-echo', { value: 3 });
    assert.equal(echo.value, 3);
    assert.notEqual(echo.thread, before, 'a fresh worker answered');
  });

  test('a worker that dies becomes a clear error, and a fresh worker serves the next request', async () => {
    const p = pool(1);
    await assert.rejects(p.run('test-crash', {}), (err: unknown) => err instanceof UserError && /compute worker stopped while running test-crash \(worker crashed on purpose\)/.test(err.message));
    const next = await p.run<ExplainImageResult>('explain', explainArgs(['gradcam']), { model });
    assert.equal(next.maps.length, 1);
  });

  test('test jobs exist only in pools started for tests', async () => {
    const p = new ComputePool({ size: 1, backend: 'wasm' });
    pools.push(p);
    await assert.rejects(p.run('test-echo', { value: 1 }), /unknown job test-echo/);
  });
});

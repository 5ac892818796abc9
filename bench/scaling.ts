/**
 * How the sharded methods scale over the compute pool's workers: wall time of one explanation
 * (the pool's `explain` job, one method) with pools of 1, 2, … up to os.availableParallelism()
 * workers, and throughput(k) / throughput(1) = time(1) / time(k). On the MobileNetV2-size model,
 * for RISE, occlusion, SmoothGrad and Integrated Gradients, with the batch size the job picks.
 *
 * Next to it, what the machine allows at that moment: k independent explanations at once on the
 * k workers (no sharding, k · time(1) / their time). On a machine others use too, that ceiling
 * moves from minute to minute; the one-worker pool is timed in turn with the k-worker one, so
 * each ratio compares runs made under about the same load.
 *
 * The workers load the model from disk (each its own copy), so the random-weight MobileNetV2 is
 * saved to a temporary folder first. The pool's workers run dist/worker.js beside the bundle
 * (`npm run bench` builds it). Every pool gets a warm-up run per method (model load, wasm kernel
 * set-up), then the best of `reps` runs counts: the best run is the steadiest estimate of what
 * the work itself costs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ComputePool } from '../src/extension/compute/pool';
import type { ExplainJobArgs } from '../src/extension/compute/jobs/explain';
import type { BackendChoice } from '../src/extension/backend/backends';
import { fsSaveHandler } from '../src/extension/model/fs-io';
import { buildMobileNetV2 } from './mobilenet-v2';

interface Case {
  label: string;
  method: string;
  /** `method.key` parameters, chosen so one run on one worker takes seconds, not minutes. */
  params: Record<string, number | string>;
}

const CASES: Case[] = [
  { label: 'RISE, 128 masks', method: 'rise', params: { 'rise.masks': 128 } },
  { label: 'occlusion, window 32, stride 16 (170 images)', method: 'occlusion', params: { 'occlusion.window': 32, 'occlusion.stride': 16 } },
  { label: 'SmoothGrad, 16 samples', method: 'smoothgrad', params: { 'smoothgrad.samples': 16 } },
  { label: 'Integrated Gradients, 32 steps', method: 'ig', params: { 'ig.steps': 32 } },
];

/** The folder with package.json: the bench runs from dist/ (bundled) or out/bench/ (tsc). */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

async function seconds(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
}

const ratio = (a: number, b: number) => `×${(a / b).toFixed(2)}`;

export async function benchScaling(backend: BackendChoice, reps = 2): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-scaling-'));
  const maxWorkers = os.availableParallelism();
  const lines = [
    `sharded methods over the compute pool: MobileNetV2 224×224, backend ${backend}, best of ${reps}, 1 … ${maxWorkers} workers`,
    '  (time of one explanation; throughput ÷ one worker\'s; in brackets the ceiling: k explanations at once on k workers)',
  ];
  const one = new ComputePool({ size: 1, backend });
  try {
    const net = buildMobileNetV2();
    await net.save(fsSaveHandler(dir));
    net.dispose();
    const model = { file: path.join(dir, 'model.json') };
    const image = path.join(repoRoot(), 'demo', 'images', 'circle-1.png');
    const cells = new Map<string, string[]>(CASES.map((c) => [c.method, []]));
    for (let k = 1; k <= maxWorkers; k++) {
      const pool = k === 1 ? one : new ComputePool({ size: k, backend });
      try {
        for (const c of CASES) {
          const args: ExplainJobArgs = { model, imageFile: image, methods: [c.method], target: 'top', preprocess: 'symmetric', seed: 1, params: c.params };
          const explain = (p: ComputePool) => p.run('explain', args, { model });
          const atOnce = () => Promise.all(Array.from({ length: k }, () => explain(pool)));
          // Warm-up: every worker of both pools loads the model and runs the method once.
          await explain(one);
          if (k > 1) await atOnce();
          let [t1, tk, tAll] = [Infinity, Infinity, Infinity];
          for (let i = 0; i < reps; i++) {
            t1 = Math.min(t1, await seconds(() => explain(one)));
            if (k === 1) continue;
            tk = Math.min(tk, await seconds(() => explain(pool)));
            tAll = Math.min(tAll, await seconds(atOnce));
          }
          cells.get(c.method)!.push(k === 1
            ? `1 worker ${t1.toFixed(2)} s`
            : `${k} workers ${tk.toFixed(2)} s ${ratio(t1, tk)} (${ratio(k * t1, tAll)})`);
        }
      } finally {
        if (pool !== one) await pool.dispose();
      }
    }
    for (const c of CASES) lines.push(`  ${c.label.padEnd(46)} ${cells.get(c.method)!.join('   ')}`);
  } finally {
    await one.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

/**
 * How the sanity cascade scales over the compute pool's workers: the wall time of one cascade
 * (the pool's `sanity` job: one image; Gradient, Grad-CAM and Guided Backprop, as bench/sanity.ts)
 * with pools of 1, 2, … up to os.availableParallelism() workers, throughput(k) / throughput(1) =
 * time(1) / time(k), and the cascade's time ÷ the sum of its method runs (each map event carries
 * its method run's time, wherever it ran): about 1 + overhead on one worker, and below 1 when
 * the steps of k workers overlap (1/k at best). On the MobileNetV2-size model and on the demo model.
 *
 * The workers load the model from disk (each its own copy), so the random-weight MobileNetV2 is
 * saved to a temporary folder first; its layers keep their configured initializers, which the
 * cascade's re-initialisation uses. Each pool gets a warm-up cascade (model load, kernel set-up);
 * the one-worker pool is timed in turn with the k-worker one, so each ratio compares runs made
 * under about the same load (the machine may be shared), and the best of `reps` runs counts.
 * Each run also shows the cores it got: the process's CPU time (all its threads) ÷ the wall time;
 * on a loaded machine k workers may get far fewer than k cores, which bounds the throughput. The
 * CPU time itself (cores × wall) is the work a cascade costs, which load does not change much:
 * equal CPU time for 1 and k workers means spreading adds no work.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ComputePool } from '../src/extension/compute/pool';
import { sanityJob, type SanityEvents, type SanityJobArgs } from '../src/extension/compute/jobs/sanity';
import type { BackendChoice } from '../src/extension/backend/backends';
import type { PreprocessPreset } from '../src/extension/image/preprocess';
import type { ModelRef } from '../src/extension/compute/protocol';
import { fsSaveHandler } from '../src/extension/model/fs-io';
import type { SanityResult } from '../src/extension/sanity/types';
import { buildMobileNetV2 } from './mobilenet-v2';

const METHODS = ['gradient', 'gradcam', 'guidedbp'];

/** The folder with package.json: the bench runs from dist/ (bundled) or out/bench/ (tsc). */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

interface CascadeTime {
  /** Wall time of the job, s. */
  wall: number;
  /** Sum of the method runs' own times, s. */
  methods: number;
  /** CPU time of the process (every thread) ÷ wall time. */
  cores: number;
  steps: number;
}

async function cascade(pool: ComputePool, args: SanityJobArgs): Promise<CascadeTime> {
  let methods = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await pool.run<SanityResult>(sanityJob.kind, args, {
    model: args.model,
    onEvent: (name, data) => {
      if (name === 'map') methods += (data as SanityEvents['map']).ms;
    },
  });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { wall, methods: methods / 1000, cores: (cpu.user + cpu.system) / 1e6 / wall, steps: r.steps.length };
}

const better = (a: CascadeTime | undefined, b: CascadeTime) => (a && a.wall <= b.wall ? a : b);
const run = (t: CascadeTime) => `${t.wall.toFixed(2)} s on ${t.cores.toFixed(2)} cores (${(t.wall * t.cores).toFixed(1)} CPU s)`;

async function benchModel(label: string, model: ModelRef, image: string, preprocess: PreprocessPreset, backend: BackendChoice, reps: number): Promise<string[]> {
  const maxWorkers = os.availableParallelism();
  const args: SanityJobArgs = { model, images: [image], methods: METHODS, mode: 'cascading', seed: 0, target: 'top', preprocess };
  const one = new ComputePool({ size: 1, backend });
  const lines: string[] = [];
  try {
    await cascade(one, args);
    for (let k = 1; k <= maxWorkers; k++) {
      const pool = k === 1 ? one : new ComputePool({ size: k, backend });
      try {
        if (k > 1) await cascade(pool, args);
        let [t1, tk] = [undefined as CascadeTime | undefined, undefined as CascadeTime | undefined];
        const runs: string[] = [];
        for (let i = 0; i < reps; i++) {
          const a = await cascade(one, args);
          t1 = better(t1, a);
          if (k === 1) {
            runs.push(run(a));
            continue;
          }
          const b = await cascade(pool, args);
          tk = better(tk, b);
          runs.push(`${run(b)} (1 worker ${run(a)})`);
        }
        const t = k === 1 ? t1! : tk!;
        if (k === 1) lines.push(`${label}: ${t.steps} steps × ${METHODS.length} methods (${METHODS.join(', ')}), one image, backend ${backend}, best of ${reps}`);
        lines.push(
          `  ${String(k).padStart(2)} worker${k === 1 ? ' ' : 's'}  ${t.wall.toFixed(2).padStart(7)} s   throughput ×${(t1!.wall / t.wall).toFixed(2)}`
          + `   cascade ÷ its method runs ${(t.wall / t.methods).toFixed(2)} (${t.methods.toFixed(2)} s in the methods)`,
          `      runs: ${runs.join('; ')}`,
        );
      } finally {
        if (pool !== one) await pool.dispose();
      }
    }
  } finally {
    await one.dispose();
  }
  return lines;
}

export async function benchSanityScaling(backend: BackendChoice, reps = 3): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-sanity-scaling-'));
  const root = repoRoot();
  const image = path.join(root, 'demo', 'images', 'circle-1.png');
  const lines = [
    `the sanity cascade over the compute pool: 1 … ${os.availableParallelism()} workers; throughput = time(1 worker) ÷ time(k workers), the one-worker pool timed in turn`,
  ];
  try {
    const net = buildMobileNetV2();
    await net.save(fsSaveHandler(dir));
    net.dispose();
    lines.push(...await benchModel('MobileNetV2 224×224', { file: path.join(dir, 'model.json') }, image, 'symmetric', backend, reps));
    lines.push(...await benchModel('demo model 64×64', { file: path.join(root, 'demo', 'models', 'shapes', 'model.json') }, image, 'unit', backend, reps));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

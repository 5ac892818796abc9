/**
 * TCAV over the compute pool (`--only tcav-scaling`), with 1, 2, … up to os.availableParallelism()
 * workers: cold-cache activation throughput (images per second, each image at every layer of the
 * experiment: activations of the example images, class-logit gradients of the class images), the
 * whole cold run (activations + CAVs + scores) and both as ratios to one worker; then a whole cold
 * run and a warm rerun with the default pool. The experiment is bench/tcav.ts's: 20 runs × 3
 * concepts × 2 layers, 50 images per set, demo model.
 *
 * Every pool's workers have started and loaded the model, and a first cold run (cancelled after
 * its activations) warms what a worker only does once (the decoder, the kernels' first calls).
 * Then each repetition runs a whole cold job on the one-worker pool and on the larger one in turn,
 * so each ratio compares runs made under about the same load from the other users of the
 * machine; the activation phase is timed on this thread from the job's start to its last chunk
 * event. Each run has a cache folder of its own, so all of it is computed (every CAV trained);
 * the median and the range are printed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import type { BackendChoice } from '../src/extension/backend/backends';
import { ComputePool } from '../src/extension/compute/pool';
import type { ModelRef } from '../src/extension/compute/protocol';
import type { TcavEvents, TcavJobArgs } from '../src/extension/compute/jobs/tcav';
import { readExperiment } from '../src/extension/tcav/experiment';
import { TCAV_CHUNK_SIZE } from '../src/extension/tcav/chunk-shard';
import { CancelledError } from '../src/shared/errors';
import type { TcavResult } from '../src/shared/tcav';
import { makeBackgroundImage, makeShapeImage, mulberry32 } from '../demo/synthetic';
import { ratio } from './timing';

function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

async function writeImages(dir: string, count: number, make: () => Uint8Array): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const px = make();
    const s = Math.round(Math.sqrt(px.length / 3));
    await sharp(Buffer.from(px), { raw: { width: s, height: s, channels: 3 } }).png({ compressionLevel: 1 }).toFile(path.join(dir, `${String(i).padStart(4, '0')}.png`));
  }
}

/** bench/tcav.ts's experiment (the same seeds, sizes and layers): class/, concepts/{circles,squares,triangles}/, random/. */
async function makeExperiment(dir: string, model: string): Promise<string> {
  const perSet = 50;
  const runs = 20;
  const rng = mulberry32(11);
  await writeImages(path.join(dir, 'class'), perSet, () => makeShapeImage(rng, 64, { label: 0 }).pixels);
  const names = ['circles', 'squares', 'triangles'];
  for (const [label, name] of names.entries()) await writeImages(path.join(dir, 'concepts', name), perSet, () => makeShapeImage(rng, 64, { label }).pixels);
  await writeImages(path.join(dir, 'random'), (runs + 1) * perSet, () => makeBackgroundImage(rng, 64));
  const file = path.join(dir, 'experiment.json');
  fs.writeFileSync(file, JSON.stringify({ model, target: 0, concepts: names, layers: ['block2_conv2', 'last_conv'], runs, imagesPerSet: perSet }));
  return file;
}

/** A pool whose every worker has its backend and the model (a describe job each). */
async function warmPool(size: number | undefined, backend: BackendChoice, model: ModelRef): Promise<ComputePool> {
  const pool = new ComputePool({ size, backend });
  await Promise.all(Array.from({ length: pool.size }, () => pool.run('describe', { model }, { model })));
  return pool;
}

interface Phase {
  seconds: number;
  /** Chunks computed per worker thread. */
  byThread: Map<number, number>;
}

/** Seconds from the job's start to its last chunk; the job is cancelled then (warms a pool up). */
async function activationPhase(pool: ComputePool, args: TcavJobArgs, chunks: number): Promise<Phase> {
  const abort = new AbortController();
  const byThread = new Map<number, number>();
  let seen = 0;
  let end = 0;
  const t0 = performance.now();
  const onEvent = (name: string, data: unknown) => {
    if (name !== 'chunk') return;
    const c = data as TcavEvents['chunk'];
    byThread.set(c.thread, (byThread.get(c.thread) ?? 0) + 1);
    if (++seen === chunks) {
      end = performance.now();
      abort.abort();
    }
  };
  try {
    await pool.run<TcavResult>('tcav', args, { model: args.model, signal: abort.signal, onEvent });
  } catch (err) {
    if (!(err instanceof CancelledError)) throw err;
  }
  if (seen !== chunks) throw new Error(`the run computed ${seen} chunks, ${chunks} expected`);
  return { seconds: (end - t0) / 1000, byThread };
}

interface ColdRun {
  /** Seconds from the job's start to its last chunk event: the activations and gradients. */
  activations: number;
  /** Seconds of the whole job: activations, CAVs and scores. */
  total: number;
  /**
   * CPU seconds of this process (all its threads) over the job ÷ its seconds: the cores it had.
   * On a machine others use too, a ratio short of the worker count says how much the load took.
   */
  cores: number;
  /** Chunks computed, and CAVs trained, per worker thread. */
  chunks: Map<number, number>;
  cavs: Map<number, number>;
  result: TcavResult;
}

/** A whole job on a cold cache, timed on this thread. */
async function coldRun(pool: ComputePool, args: TcavJobArgs, chunks: number, cavs: number): Promise<ColdRun> {
  const run: Omit<ColdRun, 'total' | 'cores' | 'result'> = { activations: 0, chunks: new Map(), cavs: new Map() };
  let seen = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const onEvent = (name: string, data: unknown) => {
    if (name === 'chunk') {
      const c = data as TcavEvents['chunk'];
      run.chunks.set(c.thread, (run.chunks.get(c.thread) ?? 0) + 1);
      if (++seen === chunks) run.activations = (performance.now() - t0) / 1000;
    } else if (name === 'cavs') {
      const c = data as TcavEvents['cavs'];
      run.cavs.set(c.thread, (run.cavs.get(c.thread) ?? 0) + c.trained);
    }
  };
  const result = await pool.run<TcavResult>('tcav', args, { model: args.model, onEvent });
  const total = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const trained = [...run.cavs.values()].reduce((a, b) => a + b, 0);
  if (seen !== chunks || trained !== cavs) throw new Error(`the cold run computed ${seen} chunks and trained ${trained} CAVs, ${chunks} and ${cavs} expected`);
  return { ...run, total, cores: (cpu.user + cpu.system) / 1e6 / total, result };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs: number[], digits: number) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
/** Per run, the counts per worker, largest first: "23+21, 22+22". */
const shares = (runs: ColdRun[], of: (r: ColdRun) => Map<number, number>) => runs.map((r) => [...of(r).values()].sort((a, b) => b - a).join('+')).join(', ');

export async function benchTcavScaling(backend: BackendChoice, reps = 3): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-tcav-scaling-'));
  try {
    const modelFile = path.join(repoRoot(), 'demo', 'models', 'shapes', 'model.json');
    const file = await makeExperiment(dir, modelFile);
    const exp = readExperiment(file);
    const examples = new Set([...exp.concepts.flatMap((x) => x.images), ...exp.randomSets.flat()]).size;
    const images = examples + exp.classImages.length;
    const chunks = Math.ceil(examples / TCAV_CHUNK_SIZE) + Math.ceil(exp.classImages.length / TCAV_CHUNK_SIZE);
    const groups = exp.layers.length * exp.runs;
    const cavs = groups * (1 + exp.concepts.length + exp.relative.length);
    const model: ModelRef = { file: modelFile };
    const cores = os.availableParallelism();
    let cache = 0;
    const args = (): TcavJobArgs => ({ experiment: file, model, preprocess: 'unit', cacheDir: path.join(dir, 'caches', String(++cache)) });
    const out = [
      `TCAV over the pool, cold cache: ${images} images (${examples} example images' activations, ${exp.classImages.length} class images' gradients) at ${exp.layers.length} layers in ${chunks} chunks of ${TCAV_CHUNK_SIZE}, then ${cavs} CAVs in ${groups} groups (a layer and run each); median of ${reps} (range), ${cores} cores:`,
    ];
    // The one-worker pool runs in turn with each larger one, so every ratio compares runs made
    // under about the same load; all its runs make its own line.
    const one = await warmPool(1, backend, model);
    const rows: Array<{ size: number; runs: ColdRun[]; paired: number[] }> = [{ size: 1, runs: [], paired: [] }];
    try {
      await activationPhase(one, args(), chunks);
      if (cores === 1) for (let r = 0; r < reps; r++) rows[0].runs.push(await coldRun(one, args(), chunks, cavs));
      for (let size = 2; size <= cores; size++) {
        const pool = await warmPool(size, backend, model);
        const row = { size, runs: [] as ColdRun[], paired: [] as number[] };
        rows.push(row);
        try {
          // A first cold run warms what a worker only does once (the decoder, the kernels' first calls).
          await activationPhase(pool, args(), chunks);
          for (let r = 0; r < reps; r++) {
            const base = await coldRun(one, args(), chunks, cavs);
            const run = await coldRun(pool, args(), chunks, cavs);
            rows[0].runs.push(base);
            row.runs.push(run);
            row.paired.push(base.total / run.total);
          }
        } finally {
          await pool.dispose();
        }
      }
    } finally {
      await one.dispose();
    }
    const label = (size: number) => `${size} worker${size > 1 ? 's' : ' '}`;
    const oneRate = median(rows[0].runs.map((r) => images / r.activations));
    const oneTotal = median(rows[0].runs.map((r) => r.total));
    out.push('  activations and gradients (from the job\'s start to its last chunk):');
    for (const { size, runs } of rows) {
      const rates = runs.map((r) => images / r.activations);
      const rate = median(rates);
      out.push(`    ${label(size)} ${rate.toFixed(0).padStart(5)} images/s (${range(rates, 0)}), ÷ 1 worker ${ratio(rate, oneRate)}; chunks per worker ${shares(runs, (r) => r.chunks)}`);
    }
    out.push('  the whole cold run (activations + CAVs + scores):');
    for (const { size, runs, paired } of rows) {
      const totals = runs.map((r) => r.total);
      const total = median(totals);
      const part = (f: (t: TcavResult['timings']) => number) => median(runs.map((r) => f(r.result.timings))).toFixed(1);
      const vsOne = size === 1 ? '' : `; 1 worker ÷ ${size} ${ratio(oneTotal, total)} (runs in turn: ${range(paired, 2)})`;
      out.push(
        `    ${label(size)} ${total.toFixed(1).padStart(5)} s (${range(totals, 1)}): activations ${part((t) => t.activations)} s, CAVs ${part((t) => t.cavs)} s, derivatives ${part((t) => t.derivatives)} s${vsOne}`,
        `               cores busy ${median(runs.map((r) => r.cores)).toFixed(2)}; CAVs trained per worker ${shares(runs, (r) => r.cavs)}`,
      );
    }
    const pool = await warmPool(undefined, backend, model);
    try {
      const whole = args();
      const timed = async () => {
        const t0 = performance.now();
        const r = await pool.run<TcavResult>('tcav', whole, { model });
        return { wall: (performance.now() - t0) / 1000, r };
      };
      const cold = await timed();
      const warm = await timed();
      const split = (x: { wall: number; r: TcavResult }) =>
        `${x.wall.toFixed(1)} s (activations ${x.r.timings.activations.toFixed(1)} s, CAVs ${x.r.timings.cavs.toFixed(1)} s, derivatives ${x.r.timings.derivatives.toFixed(1)} s; ${x.r.cache.computed} computed, ${x.r.cache.hits} cached)`;
      out.push(
        `  the whole job with the default pool (the cores minus one: ${pool.size} worker${pool.size > 1 ? 's' : ''}):`,
        `    cold cache ${split(cold)}`,
        `    warm cache ${split(warm)}; warm ÷ cold ${ratio(warm.wall, cold.wall)}`,
      );
    } finally {
      await pool.dispose();
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

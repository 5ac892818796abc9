/**
 * `xai-lens tcav`: a TCAV experiment (Kim et al. 2018) from the command line — CAVs per concept
 * and layer against many random sets, TCAV scores, Welch's t-test against random-vs-random
 * scores with Bonferroni correction; the result saved as JSON beside the experiment (or in --out).
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { joinNegativeValues } from './negative-values';
import { UserError } from '../shared/errors';
import type { TcavResult } from '../shared/tcav';
import { describeBackend } from '../extension/backend/backends';
import { tcavJob, type TcavEvents, type TcavJobArgs } from '../extension/compute/jobs/tcav';
import { readExperiment, type ResolvedExperiment } from '../extension/tcav/experiment';
import { resultsDir, saveResult } from '../extension/tcav/results-file';
import { parseBackend, parseIntOption, parsePreprocess } from './args';
import { COMPUTE_OPTIONS, modelRef, ONNX_USAGE, startPool, WORKERS_USAGE } from './compute';
import { OutputFolders } from './output-dir';
import { MEASURE_MS, Progress } from './progress';

export const TCAV_USAGE = `usage: xai-lens tcav <experiment.json> [--model <model>] [options]

  --model <m>           model file or its folder (default: the experiment's "model")
  --runs <n>            runs, each against another random set (default: the experiment's, else 20)
  --out <dir>           where to save the result, <time>-<checkpoint>.json (default: results/ beside the experiment)
  --cache <dir>         activation cache (default: .cache/tcav beside the experiment)
  --backend <b>         auto (default), tensorflow-gpu, tensorflow, wasm, cpu
  --preprocess <p>      unit, symmetric, imagenet, caffe, raw (default: the model's metadata, else unit)
${WORKERS_USAGE}
${ONNX_USAGE}
  --json                print the result as one JSON object on stdout`;

const OPTIONS = {
  model: { type: 'string', short: 'm' },
  runs: { type: 'string' },
  out: { type: 'string', short: 'o' },
  cache: { type: 'string' },
  backend: { type: 'string' },
  preprocess: { type: 'string' },
  json: { type: 'boolean' },
  ...COMPUTE_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const;

export async function tcavCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: joinNegativeValues(argv, OPTIONS), allowPositionals: true, options: OPTIONS });
  if (values.help) {
    console.log(TCAV_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UserError('tcav takes one experiment file; see xai-lens tcav --help');
  const runs = values.runs === undefined ? undefined : parseIntOption(values.runs, '--runs', 20, 2);
  const experiment = readExperiment(positionals[0], { runs });
  const modelPath = values.model ?? experiment.model;
  if (!modelPath) throw new UserError(`--model is required: ${experiment.file} names no "model"`);
  const backendChoice = parseBackend(values.backend);
  const presetArg = parsePreprocess(values.preprocess);
  // The cache and the results folder are made and checked before any work (a file, a read-only
  // experiment folder fail now, in one line); a failed run leaves no empty folder behind.
  const folders = new OutputFolders();
  const cacheDir = folders.prepare({ dir: values.cache ?? path.join(experiment.dir, '.cache', 'tcav'), what: 'the activation cache', option: '--cache', given: values.cache !== undefined });
  const outDir = folders.prepare({ dir: values.out ?? resultsDir(experiment.file), what: 'the results folder', option: '--out', given: values.out !== undefined });
  return folders.guard(async () => {
    const { pool, backend } = await startPool({ workers: values.workers, backend: backendChoice });
    try {
      const model = modelRef(path.resolve(modelPath), values);
      // The worker reads the experiment again: here it only names the model and is checked before the pool starts.
      const args: TcavJobArgs = { experiment: experiment.file, runs, model, preprocess: presetArg, cacheDir };
      const progress = new Progress({ json: values.json, work: () => describeWork(experiment), estimate: tcavEstimate(experiment) });
      const result = await pool.run<TcavResult>(tcavJob.kind, args, {
        model,
        onEvent: (event, data) => {
          if (event !== 'progress') return;
          const p = data as TcavEvents['progress'];
          progress.update(p.fraction, p.message);
        },
      }).finally(() => progress.end());
      const file = saveResult(result, outDir);
      if (values.json) process.stdout.write(JSON.stringify({ backend: backend.backend, file, ...result }) + '\n');
      else printHuman(result, describeBackend(backend), file);
      return 0;
    } finally {
      await pool.dispose();
    }
  });
}

/** The vectors (activations and class gradients, one per image and layer) and the CAVs of a run: run-tcav's units of progress. */
function workOf(e: ResolvedExperiment): { vectors: number; cavs: number; perRun: number; images: number } {
  const perRun = e.concepts.length + 1 + e.relative.length;
  const examples = new Set([...e.concepts.flatMap((c) => c.images), ...e.randomSets.flat()]);
  const images = new Set([...examples, ...e.classImages]).size;
  return { vectors: e.layers.length * (examples.size + e.classImages.length), cavs: e.layers.length * e.runs * perRun, perRun, images };
}

/**
 * Seconds still to go, by phase: the vectors cost far more each than the CAVs, so each phase's
 * rate is measured on its own (from its first progress event). While the activations are
 * computed, the estimate is their remaining time alone (the CAVs are not measured yet); once the
 * CAVs train, everything left is CAVs.
 */
function tcavEstimate(e: ResolvedExperiment): (fraction: number, message: string, now: number) => number | undefined {
  const { vectors, cavs } = workOf(e);
  const total = vectors + cavs;
  let phase: { cavs: boolean; fraction: number; t: number } | undefined;
  return (f, message, t) => {
    const training = message.startsWith('CAVs at') || message === 'done';
    if (!phase || phase.cavs !== training) {
      phase = { cavs: training, fraction: f, t };
      return undefined;
    }
    const dt = t - phase.t;
    const df = f - phase.fraction;
    if (dt < MEASURE_MS || df <= 0) return undefined;
    const msPerUnit = dt / (df * total);
    const done = f * total;
    return ((training ? total - done : Math.max(0, vectors - done)) * msPerUnit) / 1000;
  };
}

/** What a TCAV run computes: "60000 CAVs to train (2 layers × 10000 runs × 3) and the activations of 70 images at 2 layers". */
function describeWork(e: ResolvedExperiment): string {
  const { cavs, perRun, images } = workOf(e);
  const layers = `${e.layers.length} layer${e.layers.length === 1 ? '' : 's'}`;
  return `${cavs} CAVs to train (${layers} × ${e.runs} runs × ${perRun}) and the activations of ${images} images at ${layers}`;
}

function printHuman(r: TcavResult, backend: string, file: string): void {
  const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
  const p = (v: number) => (v < 1e-4 ? v.toExponential(1) : v.toFixed(4)).padStart(8);
  const target = r.target.label ? `${r.target.label} (${r.target.index})` : String(r.target.index);
  const lines = [
    `backend      ${backend}`,
    `model        ${r.model.name} @ ${r.model.hash.slice(0, 8)}, target ${target}`,
    `runs         ${r.runs} × ${r.imagesPerSet} images per set, ${r.classImages} class images; Welch t-test, Bonferroni over ${r.tests} tests, α = ${r.alpha}`,
    `${'layer'.padEnd(16)}${'concept'.padEnd(22)}${'TCAV'.padStart(13)}${'magnitude'.padStart(14)}${'p'.padStart(9)}${'p adj.'.padStart(9)}  CAV acc.`,
  ];
  for (const layer of r.layers) {
    const b = r.random.find((x) => x.layer === layer)!;
    lines.push(`${layer.padEnd(16)}${'(random vs random)'.padEnd(22)}${`${b.mean.toFixed(2)} ± ${b.std.toFixed(2)}`.padStart(13)}${''.padStart(32)}  ${pct(b.cavAccuracy)}`);
    for (const c of r.cells.filter((x) => x.layer === layer)) {
      lines.push(
        `${''.padEnd(16)}${c.concept.slice(0, 21).padEnd(22)}${`${c.mean.toFixed(2)} ± ${c.std.toFixed(2)}`.padStart(13)}` +
        `${`${c.magnitudeMean.toFixed(2)} ± ${c.magnitudeStd.toFixed(2)}`.padStart(14)}${p(c.p)} ${p(c.pAdjusted)}  ${pct(c.cavAccuracy)}` +
        `${c.significant ? '  significant' : '  n.s.'}${c.lowAccuracy ? '  (CAV near chance)' : ''}`,
      );
    }
  }
  const t = r.timings;
  lines.push(`time         ${t.total.toFixed(1)} s: activations ${t.activations.toFixed(1)} s, CAVs ${t.cavs.toFixed(1)} s, derivatives ${t.derivatives.toFixed(1)} s; cache ${r.cache.hits} hits, ${r.cache.computed} computed`);
  for (const w of r.warnings) lines.push(`warning      ${w}`);
  lines.push(`saved        ${file}`);
  console.log(lines.join('\n'));
}

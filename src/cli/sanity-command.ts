/**
 * `xai-lens sanity`: Adebayo et al.'s sanity checks from the command line — the randomization
 * cascade (or independent randomization), optional data randomization, every similarity per
 * method per layer, a verdict per method, and exit code 3 when a method named in
 * --require-pass fails: a CI gate.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { joinNegativeValues } from './negative-values';
import { UserError } from '../shared/errors';
import { describeBackend } from '../extension/backend/backends';
import { parseTargetSpec } from '../extension/model/targets';
import { explainerById } from '../extension/explain/registry';
import { encodeNpy } from '../extension/image/npy';
import { describeJob, type ModelInfo } from '../extension/compute/jobs/describe';
import { sanityJob, type SanityEvents, type SanityJobArgs } from '../extension/compute/jobs/sanity';
import { SIMILARITY_NAMES, type SanityMode, type SanityResult, type SimilarityName } from '../extension/sanity/types';
import { writeStripPng } from './strip-png';
import { parseBackend, parseIntOption, parseParams, parsePreprocess } from './args';
import { COMPUTE_OPTIONS, modelRef, ONNX_USAGE, startPool, WORKERS_USAGE } from './compute';

export const SANITY_USAGE = `usage: xai-lens sanity <image...> --model <model file or its folder> [options]

  --methods <ids>       comma-separated methods (default gradient,gradcam,guidedbp)
  --mode <m>            cascading (default: re-initialise one more layer per step, from the
                        logits down) or independent (one layer at a time)
  --random-labels-model <m>
                        also compare with a twin trained on permuted labels (data randomization)
  --metric <s>          similarity the verdict uses: ${SIMILARITY_NAMES.join(', ')} (default spearman)
  --threshold <x>       a method passes when its similarity falls below this (default 0.5)
  --require-pass <ids>  exit with code 3 when one of these methods fails (a CI gate)
  --seed <n>            seed of the re-initialisation (default 0)
  --target <t>          top (default), a class index, or a label
  --layer <name>        layer for CAM methods (default: last spatial layer)
  --param <k=v,...>     method parameters, as for explain
  --backend <b>         auto (default), tensorflow-gpu, tensorflow, wasm, cpu
${WORKERS_USAGE}
${ONNX_USAGE}
  --preprocess <p>      unit, symmetric, imagenet, caffe, raw (default: the model's metadata, else unit)
  --out <dir>           write every map (<image>.<method>.step<k>.npy) and a strip PNG per image
  --json                print one JSON object on stdout`;

/** Exit code when a method named in --require-pass fails its sanity check. */
export const EXIT_SANITY_FAILED = 3;

const OPTIONS = {
  model: { type: 'string', short: 'm' },
  methods: { type: 'string' },
  mode: { type: 'string' },
  'random-labels-model': { type: 'string' },
  metric: { type: 'string' },
  threshold: { type: 'string' },
  'require-pass': { type: 'string' },
  seed: { type: 'string' },
  target: { type: 'string' },
  layer: { type: 'string' },
  param: { type: 'string', multiple: true },
  backend: { type: 'string' },
  ...COMPUTE_OPTIONS,
  preprocess: { type: 'string' },
  out: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function sanityCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: joinNegativeValues(argv, OPTIONS), allowPositionals: true, options: OPTIONS });
  if (values.help) {
    console.log(SANITY_USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new UserError('sanity takes one or more images; see xai-lens sanity --help');
  if (!values.model) throw new UserError('--model is required (a model file — model.json, .onnx, .keras, .h5 — or the folder that holds it)');
  for (const f of positionals) if (!fs.existsSync(f)) throw new UserError(`image not found: ${f}`);
  const methods = (values.methods ?? 'gradient,gradcam,guidedbp').split(',').filter((s) => s.trim() !== '').map(explainerById);
  const mode = (values.mode ?? 'cascading').trim().toLowerCase();
  if (mode !== 'cascading' && mode !== 'independent') throw new UserError(`--mode must be cascading or independent, got "${values.mode}"`);
  const metric = (values.metric ?? 'spearman').trim() as SimilarityName;
  if (!SIMILARITY_NAMES.includes(metric)) throw new UserError(`--metric must be one of ${SIMILARITY_NAMES.join(', ')}, got "${values.metric}"`);
  const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
  if (threshold !== undefined && !(Number.isFinite(threshold) && threshold >= -1 && threshold <= 1)) throw new UserError(`--threshold must be a number from -1 to 1, got "${values.threshold}"`);
  const required = (values['require-pass'] ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  for (const id of required) {
    explainerById(id);
    if (!methods.some((m) => m.id === id)) throw new UserError(`--require-pass ${id}: add it to --methods (checked: ${methods.map((m) => m.id).join(', ')})`);
  }
  const seed = parseIntOption(values.seed, '--seed', 0);
  const params = parseParams(values.param ?? []);
  const backendChoice = parseBackend(values.backend);
  const presetArg = parsePreprocess(values.preprocess);

  const { pool, backend } = await startPool({ workers: values.workers, backend: backendChoice });
  try {
    const ref = modelRef(values.model, values);
    const model = await pool.run<ModelInfo>(describeJob.kind, { model: ref, layer: values.layer }, { model: ref });
    const twinFile = values['random-labels-model'];
    const target = parseTargetSpec(values.target ?? 'top', model.labels, model.outputSize);
    const preprocess = presetArg ?? model.preprocess ?? 'unit';
    const outDir = values.out === undefined ? undefined : path.resolve(values.out);
    if (outDir) fs.mkdirSync(outDir, { recursive: true });
    const maps = new Map<string, { step: number; method: string; map: Float32Array; height: number; width: number; signed: boolean }[]>();
    const progress = values.json || !process.stderr.isTTY ? undefined : (f: number, message: string) => process.stderr.write(`\r${(f * 100).toFixed(0).padStart(3)}% ${message.padEnd(60).slice(0, 60)}`);
    const args: SanityJobArgs = {
      model: ref, ...(twinFile ? { twin: modelRef(twinFile, values) } : {}), images: positionals, methods: methods.map((m) => m.id),
      mode: mode as SanityMode, seed, target, layer: values.layer, preprocess, params, metric, threshold,
    };
    const result = await pool.run<SanityResult>(sanityJob.kind, args, {
      model: ref,
      onEvent: (name, data) => {
        if (name === 'progress') {
          const p = data as SanityEvents['progress'];
          progress?.(p.fraction, p.message);
        } else if (name === 'map' && outDir) {
          const e = data as SanityEvents['map'];
          const stem = path.basename(e.image).replace(/\.[^.]+$/, '');
          fs.writeFileSync(path.join(outDir, `${stem}.${e.method}.step${e.step}.npy`), encodeNpy(e.map, [e.height, e.width]));
          maps.set(e.image, [...(maps.get(e.image) ?? []), e]);
        }
      },
    });
    if (!values.json && process.stderr.isTTY) process.stderr.write('\n');
    const strips: Record<string, string> = {};
    if (outDir) {
      for (const [image, list] of maps) {
        const file = path.join(outDir, `${path.basename(image).replace(/\.[^.]+$/, '')}.sanity.png`);
        await writeStripPng(file, image, list, methods.map((m) => m.id), result.steps.length);
        strips[path.resolve(image)] = file;
      }
    }
    const failedRequired = required.filter((id) => result.summary.find((s) => s.method === id)?.verdict !== 'passes');
    if (values.json) {
      process.stdout.write(JSON.stringify({ backend: backend.backend, model: { file: model.file }, ...result, strips, requirePass: required, failedRequired }) + '\n');
    } else {
      printHuman(result, describeBackend(backend), strips);
      if (failedRequired.length > 0) console.error(`xai-lens: sanity check failed for ${failedRequired.join(', ')} (--require-pass)`);
    }
    return failedRequired.length > 0 ? EXIT_SANITY_FAILED : 0;
  } finally {
    await pool.dispose();
  }
}

function printHuman(r: SanityResult, backend: string, strips: Record<string, string>): void {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '  – ').padStart(6);
  const lines = [`backend      ${backend}`, `mode         ${r.mode}, seed ${r.seed}; verdict: ${r.rule}`];
  const head = r.steps.map((s) => (s.layer ?? 'original').slice(0, 10).padStart(11)).join('');
  lines.push(`${r.metric.padEnd(14)}${head}`);
  for (const s of r.summary) {
    lines.push(`${s.method.padEnd(14)}${s.mean.map((m) => `${f(m[r.metric])}     `).join('')}  → ${s.verdict} (${s.score.toFixed(2)} vs ${r.threshold})`);
  }
  if (r.dataRandomization) {
    lines.push(`data randomization against ${r.dataRandomization.model}:`);
    for (const s of r.dataRandomization.summary) lines.push(`  ${s.method.padEnd(12)} ${r.metric} ${s.mean[r.metric].toFixed(2)} ± ${s.std[r.metric].toFixed(2)} → ${s.verdict}`);
  }
  for (const [image, file] of Object.entries(strips)) lines.push(`strip        ${path.basename(image)} → ${file}`);
  console.log(lines.join('\n'));
}

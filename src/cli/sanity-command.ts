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
import { EXPLAINERS, explainerById } from '../extension/explain/registry';
import { checkParamKeys, paramsFor } from '../extension/explain/explain-image';
import type { Explainer } from '../extension/explain/explainer';
import type { BackendChoice } from '../extension/backend/backends';
import type { PreprocessPreset } from '../extension/image/preprocess';
import { OutputFolders } from './output-dir';
import { imageNames, targetPart } from './output-names';
import { Progress } from './progress';
import { encodeNpy } from '../extension/image/npy';
import { describeJob, type ModelInfo } from '../extension/compute/jobs/describe';
import { sanityJob, type SanityEvents, type SanityJobArgs } from '../extension/compute/jobs/sanity';
import { SIMILARITY_NAMES, type SanityMode, type SanityResult, type SimilarityName } from '../extension/sanity/types';
import { writeStripPng } from './strip-png';
import { parseBackend, parseIntOption, parseMethodList, parseParams, parsePreprocess } from './args';
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
  --out <dir>           write every map (<image>[.class<k>].<method>.step<k>.npy, <image> the image's
                        file name with its extension) and a strip PNG per image (<image>[.class<k>].sanity.png)
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
  const methods = parseMethodList(values.methods ?? 'gradient,gradcam,guidedbp', '--methods');
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
  checkParamKeys(methods, params, EXPLAINERS);
  for (const m of methods) paramsFor(m, params);
  const backendChoice = parseBackend(values.backend);
  const presetArg = parsePreprocess(values.preprocess);
  const modelPath = values.model;
  // --out is made and checked before any work; a failed run leaves no empty folder behind.
  const folders = new OutputFolders();
  const outDir = values.out === undefined ? undefined : folders.prepare({ dir: values.out, what: 'the output folder', option: '--out', given: true });
  return folders.guard(() => runSanity(values, positionals, { methods, mode: mode as SanityMode, metric, threshold, required, seed, params, backendChoice, presetArg, modelPath, outDir }));
}

interface SanitySettings {
  methods: Explainer[];
  mode: SanityMode;
  metric: SimilarityName;
  threshold: number | undefined;
  required: string[];
  seed: number;
  params: Record<string, number | string>;
  backendChoice: BackendChoice;
  presetArg: PreprocessPreset | undefined;
  modelPath: string;
  outDir: string | undefined;
}

async function runSanity(
  values: { layer?: string; target?: string; json?: boolean; workers?: string; 'random-labels-model'?: string; 'no-onnxruntime'?: boolean },
  images: string[],
  o: SanitySettings,
): Promise<number> {
  const { methods, mode, metric, threshold, required, seed, params, presetArg, outDir } = o;
  const { pool, backend } = await startPool({ workers: values.workers, backend: o.backendChoice });
  try {
    const ref = modelRef(o.modelPath, values);
    const model = await pool.run<ModelInfo>(describeJob.kind, { model: ref, layer: values.layer }, { model: ref });
    const twinFile = values['random-labels-model'];
    const target = parseTargetSpec(values.target ?? 'top', model.labels, model.outputSize);
    const preprocess = presetArg ?? model.preprocess ?? 'unit';
    // <image file name>[.class<k>].<method>.step<k>.npy and <image file name>[.class<k>].sanity.png
    const names = imageNames(images);
    const part = targetPart(target === 'top' ? undefined : target);
    const maps = new Map<string, { step: number; method: string; map: Float32Array; height: number; width: number; signed: boolean }[]>();
    const progress = new Progress({ json: values.json, work: () => `${images.length} image${images.length === 1 ? '' : 's'} × ${methods.length} method${methods.length === 1 ? '' : 's'}, a map per randomized layer` });
    const args: SanityJobArgs = {
      model: ref, ...(twinFile ? { twin: modelRef(twinFile, values) } : {}), images, methods: methods.map((m) => m.id),
      mode, seed, target, layer: values.layer, preprocess, params, metric, threshold,
    };
    // A map that cannot be written stops the run, and the error is the command's.
    const stop = new AbortController();
    let writeError: unknown;
    const result = await pool.run<SanityResult>(sanityJob.kind, args, {
      model: ref,
      signal: stop.signal,
      onEvent: (name, data) => {
        if (name === 'progress') {
          const p = data as SanityEvents['progress'];
          progress.update(p.fraction, p.message);
        } else if (name === 'map' && outDir && writeError === undefined) {
          const e = data as SanityEvents['map'];
          try {
            fs.writeFileSync(path.join(outDir, `${names.get(e.image) ?? path.basename(e.image)}${part}.${e.method}.step${e.step}.npy`), encodeNpy(e.map, [e.height, e.width]));
          } catch (err) {
            writeError = err;
            stop.abort();
          }
          maps.set(e.image, [...(maps.get(e.image) ?? []), e]);
        }
      },
    }).catch((err: unknown) => {
      throw writeError ?? err;
    }).finally(() => progress.end());
    if (writeError !== undefined) throw writeError;
    const strips: Record<string, string> = {};
    if (outDir) {
      for (const [image, list] of maps) {
        const file = path.join(outDir, `${names.get(image) ?? path.basename(image)}${part}.sanity.png`);
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

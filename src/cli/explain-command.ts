/** `xai-lens explain`: explain one image with one or more methods, write .npy maps and overlays. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { joinNegativeValues } from './negative-values';
import { UserError } from '../shared/errors';
import { describeBackend } from '../extension/backend/backends';
import { parseTargetSpec } from '../extension/model/targets';
import { checkParamKeys, paramsFor, type ExplainImageResult } from '../extension/explain/explain-image';
import { EXPLAINERS } from '../extension/explain/registry';
import { describeJob, type ModelInfo } from '../extension/compute/jobs/describe';
import { explainJob, type ExplainEvents, type ExplainJobArgs } from '../extension/compute/jobs/explain';
import { COMPUTE_OPTIONS, modelRef, ONNX_USAGE, startPool, WORKERS_USAGE } from './compute';
import { parseBox } from '../extension/image/boxes';
import { encodeNpy } from '../extension/image/npy';
import { loadDisplayImage } from '../extension/image/decode';
import { renderOverlayPng } from '../extension/image/overlay';
import type { FaithfulnessInfo } from '../shared/protocol/explain';
import { parseBackend, parseColormap, parseIntOption, parseMethodList, parseOpacity, parseParams, parsePreprocess, parseSize, parseSpace } from './args';
import { OutputFolders } from './output-dir';
import { imageNames, targetPart } from './output-names';
import { Progress } from './progress';
import { addPasses, describePasses, MEASURE_FROM, METRIC_PASSES, methodPasses, weight, type Passes } from './work-estimate';
import type { ComputePool } from '../extension/compute/pool';

export const EXPLAIN_USAGE = `usage: xai-lens explain <image> --model <model file or its folder> [options]

  --method <ids|all>    comma-separated methods, or all that apply to the model; default gradcam
                        (${EXPLAINERS.map((e) => e.id).join(', ')})
  --param <k=v,...>     method parameters: key=value for every method with that key, or
                        method.key=value (e.g. ig.steps=128,smoothgrad.samples=50,occlusion.window=16)
  --seed <n>            seed for methods and metrics with randomness (default 0)
  --batch <n>           largest batch pushed through the model at once (default: what fits
                        in 768 MB given the model's activation sizes, at most 32)
  --metrics             faithfulness per map: deletion/insertion AUC, ROAD, pointing game with --box
  --box <x,y,w,h>       the object's box in image pixels, for the pointing game
  --target <t>          top (default), top<k> (each of the k top classes), a class index, or a label
  --space <s>           logit (default: the score before softmax) or probability
  --layer <name>        layer or graph node for layer-based methods (default: last spatial layer)
  --backend <b>         auto (default), tensorflow-gpu, tensorflow, wasm, cpu
${WORKERS_USAGE}
${ONNX_USAGE}
  --preprocess <p>      unit, symmetric, imagenet, caffe, raw (default: from the model's metadata, else unit)
  --size <h>x<w>        input size, for models that do not fix it
  --out <dir>           where to write <image>[.class<k>].<method>.npy / .png, <image> the image's
                        file name with its extension (default ./xai-lens-out)
  --colormap <c>        overlay colormap: viridis, inferno, turbo (default), jet, gray
  --opacity <a>         overlay opacity 0..1 (default 0.5)
  --json                print one JSON object on stdout`;

const OVERLAY_MAX_SIDE = 1024;
/** Predictions the explain job returns (explain-image's default topK): top<k> explains at most this many classes. */
const TOP_K = 5;

const OPTIONS = {
  model: { type: 'string', short: 'm' },
  method: { type: 'string' },
  param: { type: 'string', multiple: true },
  seed: { type: 'string' },
  batch: { type: 'string' },
  metrics: { type: 'boolean' },
  box: { type: 'string' },
  target: { type: 'string' },
  space: { type: 'string' },
  layer: { type: 'string' },
  backend: { type: 'string' },
  preprocess: { type: 'string' },
  size: { type: 'string' },
  out: { type: 'string', short: 'o' },
  colormap: { type: 'string' },
  opacity: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...COMPUTE_OPTIONS,
} as const;

export async function explainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: joinNegativeValues(argv, OPTIONS), allowPositionals: true, options: OPTIONS });
  if (values.help) {
    console.log(EXPLAIN_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UserError(`explain takes exactly one image (got ${positionals.length}); see xai-lens explain --help`);
  if (!values.model) throw new UserError('--model is required (a model file — model.json, .onnx, .keras, .h5 — or the folder that holds it)');
  const modelPath = values.model;
  const imageFile = positionals[0];
  if (!fs.existsSync(imageFile)) throw new UserError(`image not found: ${imageFile}`);
  const methodSpec = (values.method ?? 'gradcam').trim().toLowerCase();
  const named = methodSpec === 'all' ? undefined : parseMethodList(values.method ?? 'gradcam', '--method', 'or all');
  const params = parseParams(values.param ?? []);
  // Every key must mean something to the methods run (all of them for --method all), every value be in range.
  checkParamKeys(named ?? EXPLAINERS, params, EXPLAINERS);
  for (const m of named ?? EXPLAINERS) paramsFor(m, params);
  const seed = parseIntOption(values.seed, '--seed', 0);
  const batchSize = values.batch === undefined ? undefined : parseIntOption(values.batch, '--batch', 32, 1);
  const box = values.box === undefined ? undefined : parseBox(values.box);
  if (values.box !== undefined && !box) throw new UserError(`--box must look like x,y,w,h in image pixels with w, h > 0, got "${values.box}"`);
  if (box && !values.metrics) throw new UserError('--box is for the pointing game: add --metrics');
  const backendChoice = parseBackend(values.backend);
  const inputSize = parseSize(values.size);
  const presetArg = parsePreprocess(values.preprocess);
  const space = parseSpace(values.space);
  const colormap = parseColormap(values.colormap);
  const opacity = parseOpacity(values.opacity);
  // The folder is made and checked before any work: a folder that cannot be written fails now, not after the maps.
  const folders = new OutputFolders();
  const outDir = folders.prepare({ dir: values.out ?? 'xai-lens-out', what: 'the output folder', option: '--out', given: values.out !== undefined });
  return folders.guard(async () => {
    const { pool, backend } = await startPool({ workers: values.workers, backend: backendChoice });
    try {
      const ref = modelRef(modelPath, values, { inputSize });
      const model = await pool.run<ModelInfo>(describeJob.kind, { model: ref, layer: values.layer }, { model: ref });
      if (inputSize && (inputSize[0] !== model.inputShape[0] || inputSize[1] !== model.inputShape[1])) {
        throw new UserError(`the model's input is ${model.inputShape[0]}x${model.inputShape[1]}; --size ${inputSize.join('x')} does not match`);
      }
      const targetSpec = values.target ?? 'top';
      const topMatch = /^top-?(\d+)$/i.exec(targetSpec.trim());
      if (topMatch && Number(topMatch[1]) < 1) throw new UserError(`--target ${targetSpec}: k must be at least 1`);
      const target = topMatch ? 'top' : parseTargetSpec(targetSpec, model.labels, model.outputSize);
      const preset = presetArg ?? model.preprocess ?? 'unit';
      // --method all: every method that applies to this model (and layer), the others named on stderr.
      const methods = named ?? EXPLAINERS.filter((e) => {
        const why = model.unavailable[e.id];
        if (why && !values.json) console.error(`skipping ${e.id}: ${why}`);
        return why === undefined;
      });
      for (const m of methods) if (model.unavailable[m.id]) throw new UserError(model.unavailable[m.id]);
      const common: Omit<ExplainJobArgs, 'target'> = {
        model: ref, imageFile, methods: methods.map((m) => m.id), space, layer: values.layer, preprocess: preset, params, seed, batchSize,
        metrics: values.metrics ? { box } : undefined,
      };
      // The work, in passes through the model: measured and announced when it may take over a minute.
      let targets = topMatch ? Math.min(Number(topMatch[1]), model.outputSize, TOP_K) : 1;
      const perMethod = new Map(methods.map((m) => [m.id, methodPasses(m, params, model, values.layer)]));
      const metricPasses = values.metrics ? METRIC_PASSES : { forward: 0, gradient: 0 };
      const perTarget = [...perMethod.values()].reduce((a, b) => addPasses(addPasses(a, b), metricPasses), { forward: 0, gradient: 0 });
      const total = addPasses({ forward: 0, gradient: 0 }, perTarget, targets);
      const progress = new Progress({ json: values.json, redraw: false });
      if (weight(total) >= MEASURE_FROM) progress.warn(await measureSeconds(pool, common, model, total), describePasses(total));
      // Progress lines (not on a terminal), weighted by passes: when there is more than one map to
      // wait for, or one long one (the methods that split their work say how far their map is).
      let done = 0;
      const running = new Map<string, number>();
      const methodWeight = (id: string) => weight(perMethod.get(id) ?? { forward: 1, gradient: 0 });
      const step = (w: number, what: string) => {
        done += w;
        let partial = 0;
        for (const [id, f] of running) partial += f * methodWeight(id);
        progress.update((done + partial) / Math.max(1, targets * weight(perTarget)), what);
      };
      const onEvent = methods.length * targets > 1 || weight(total) >= MEASURE_FROM ? (name: string, data: unknown) => {
        if (name === 'progress') {
          const e = data as ExplainEvents['progress'];
          running.set(e.id, e.percent / 100);
          step(0, e.id);
        } else if (name === 'map') {
          const m = data as ExplainEvents['map'];
          running.delete(m.method);
          step(methodWeight(m.method), `${m.method} map${targets > 1 ? ` for class ${m.target}` : ''}`);
        } else if (name === 'metrics') {
          step(weight(metricPasses), `${(data as ExplainEvents['metrics']).result.method} metrics`);
        }
      } : undefined;
      const explain = (t: ExplainJobArgs['target']) => pool.run<ExplainImageResult>(explainJob.kind, { ...common, target: t }, { model: ref, onEvent });
      const result = await explain(target);
      // top<k>: the same methods for each of the k most probable classes.
      const k = topMatch ? Math.min(Number(topMatch[1]), result.predictions.length) : 1;
      targets = k;
      const extra = [];
      for (const p of result.predictions.slice(1, k)) extra.push(await explain(p.index));

      const display = await loadDisplayImage(imageFile, OVERLAY_MAX_SIDE);
      const name = imageNames([imageFile]).get(imageFile)!;
      const [h, w] = result.inputSize;
      const maps = [];
      for (const r of [result, ...extra]) {
        // The default target (the top class) keeps names short; a named target, or top<k>'s others, is in the name.
        const part = targetPart(r === result && target === 'top' ? undefined : r.target.index);
        for (const m of r.maps) {
          const npy = path.join(outDir, `${name}${part}.${m.method}.npy`);
          const png = path.join(outDir, `${name}${part}.${m.method}.png`);
          fs.writeFileSync(npy, encodeNpy(m.upsampled, [h, w]));
          fs.writeFileSync(png, await renderOverlayPng({ image: display, map: m.map.signed ? m.upsampled.map(Math.abs) : m.upsampled, mapHeight: h, mapWidth: w, colormap, opacity }));
          maps.push({
            method: m.method, shape: [h, w], ms: Math.round(m.ms * 10) / 10, npy, png, layer: m.map.layer, nativeShape: [m.map.height, m.map.width],
            target: r.target, signed: m.map.signed === true,
            ...(m.map.stats ? { stats: m.map.stats } : {}),
            ...(m.map.note ? { note: m.map.note } : {}),
            ...(m.metrics ? { metrics: m.metrics } : {}),
          });
        }
      }
      const layer = result.maps.find((m) => m.map.layer)?.map.layer ?? null;
      const report = {
        backend: backend.backend,
        backendAttempts: backend.attempts,
        model: { file: model.file, format: model.format, preprocess: preset },
        image: { file: path.resolve(imageFile), ...result.original },
        inputSize: result.inputSize,
        predictions: result.predictions,
        target: result.target,
        ...(k > 1 ? { targets: [result, ...extra].map((r) => r.target) } : {}),
        layer,
        maps,
      };
      if (values.json) {
        process.stdout.write(JSON.stringify(report) + '\n');
      } else {
        printHuman(report, describeBackend(backend));
      }
      return 0;
    } finally {
      await pool.dispose();
    }
  });
}

/**
 * Seconds the run will take: the time per pass measured on this image with a few passes of each
 * kind the run makes (Integrated Gradients over 16 path points for gradient passes, RISE with 16
 * masks for forward passes; shards of 8, as the run's own smallest), times the passes, spread over
 * the pool's workers.
 */
async function measureSeconds(pool: ComputePool, common: Omit<ExplainJobArgs, 'target'>, model: ModelInfo, total: Passes): Promise<number> {
  const SAMPLE = 16;
  const methods: string[] = [];
  if (total.gradient > 0 && !model.unavailable.ig) methods.push('ig');
  if (total.forward > 0 && !model.unavailable.rise) methods.push('rise');
  if (methods.length === 0) return 0;
  let r: ExplainImageResult;
  try {
    r = await pool.run<ExplainImageResult>(explainJob.kind, {
      ...common, methods, params: { 'ig.steps': SAMPLE - 1, 'rise.masks': SAMPLE }, metrics: undefined, target: 'top',
    });
  } catch {
    // No estimate, no warning: whatever stopped the sample (a corrupt image) the run itself reports.
    return 0;
  }
  const perPass = (id: string) => r.maps.find((m) => m.method === id)!.ms / SAMPLE;
  // A gradient pass is a forward and a backward pass: about 3 forward passes when only one kind was measured.
  const gradient = methods.includes('ig') ? perPass('ig') : 3 * perPass('rise');
  const forward = methods.includes('rise') ? perPass('rise') : perPass('ig') / 3;
  // The sample ran on at most 2 workers (2 shards); the run spreads over all of them.
  const spread = Math.min(2, pool.size) / pool.size;
  return ((total.gradient * gradient + total.forward * forward) * spread) / 1000;
}

interface HumanReport {
  model: { file: string; format: string; preprocess: string };
  inputSize: number[];
  predictions: { index: number; label?: string; probability: number }[];
  target: { index: number; label?: string; space: string };
  layer: string | null;
  maps: { method: string; shape: number[]; ms: number; npy: string; png: string; nativeShape: number[]; target: { index: number; label?: string }; stats?: Record<string, number>; note?: string; metrics?: FaithfulnessInfo }[];
}

function printHuman(r: HumanReport, backend: string): void {
  const name = (p: { index: number; label?: string }) => (p.label !== undefined ? `${p.label} (${p.index})` : `class ${p.index}`);
  const lines = [
    `backend      ${backend}`,
    `model        ${r.model.file} (${r.model.format}, input ${r.inputSize.join('x')}, preprocess ${r.model.preprocess})`,
    `predictions  ${r.predictions.map((p) => `${name(p)} ${(p.probability * 100).toFixed(1)}%`).join(', ')}`,
    `target       ${name(r.target)}, ${r.target.space}`,
  ];
  if (r.layer) lines.push(`layer        ${r.layer}`);
  for (const m of r.maps) {
    const of = m.target.index === r.target.index ? '' : ` for ${name(m.target)}`;
    lines.push(`${m.method.padEnd(14)} ${m.nativeShape.join('x')} map${of} in ${m.ms} ms → ${m.npy}, ${m.png}`);
    if (m.note) lines.push(`${''.padEnd(14)} note: ${m.note}`);
    if (m.stats?.completenessGap !== undefined) lines.push(`${''.padEnd(14)} completeness gap ${m.stats.completenessGap.toPrecision(3)} (${((m.stats.relativeGap ?? 0) * 100).toFixed(2)}% of f(x) − f(baseline))`);
    const f = m.metrics;
    if (f) {
      const parts = [`deletion AUC ${f.deletion.auc.toFixed(3)}`, `insertion AUC ${f.insertion.auc.toFixed(3)}`];
      if (f.road) parts.push(`ROAD MoRF ${f.road.morf.auc.toFixed(3)} / LeRF ${f.road.lerf.auc.toFixed(3)}`);
      if (f.pointing) parts.push(`pointing game ${f.pointing.hit ? 'hit' : 'miss'}`);
      lines.push(`${''.padEnd(14)} ${parts.join(', ')}`);
    }
  }
  console.log(lines.join('\n'));
}

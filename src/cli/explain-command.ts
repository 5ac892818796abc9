/** `xai-lens explain`: explain one image with one or more methods, write .npy maps and overlays. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { joinNegativeValues } from './negative-values';
import { UserError } from '../shared/errors';
import { describeBackend } from '../extension/backend/backends';
import { parseTargetSpec } from '../extension/model/targets';
import type { ExplainImageResult } from '../extension/explain/explain-image';
import { EXPLAINERS, explainerById } from '../extension/explain/registry';
import { describeJob, type ModelInfo } from '../extension/compute/jobs/describe';
import { explainJob, type ExplainJobArgs } from '../extension/compute/jobs/explain';
import { COMPUTE_OPTIONS, modelRef, ONNX_USAGE, startPool, WORKERS_USAGE } from './compute';
import { parseBox } from '../extension/image/boxes';
import { encodeNpy } from '../extension/image/npy';
import { loadDisplayImage } from '../extension/image/decode';
import { renderOverlayPng } from '../extension/image/overlay';
import type { FaithfulnessInfo } from '../shared/protocol';
import { parseBackend, parseColormap, parseIntOption, parseOpacity, parseParams, parsePreprocess, parseSize, parseSpace } from './args';

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
  --out <dir>           where to write <image>.<method>.npy / .png (default ./xai-lens-out)
  --colormap <c>        overlay colormap: viridis, inferno, turbo (default), jet, gray
  --opacity <a>         overlay opacity 0..1 (default 0.5)
  --json                print one JSON object on stdout`;

const OVERLAY_MAX_SIDE = 1024;

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
  const imageFile = positionals[0];
  if (!fs.existsSync(imageFile)) throw new UserError(`image not found: ${imageFile}`);
  const methodSpec = (values.method ?? 'gradcam').trim().toLowerCase();
  const named = methodSpec === 'all' ? undefined : methodSpec.split(',').filter((s) => s.trim() !== '').map(explainerById);
  const params = parseParams(values.param ?? []);
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
  const outDir = path.resolve(values.out ?? 'xai-lens-out');

  const { pool, backend } = await startPool({ workers: values.workers, backend: backendChoice });
  try {
    const ref = modelRef(values.model, values, { inputSize });
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
    const explain = (t: ExplainJobArgs['target']) => pool.run<ExplainImageResult>(explainJob.kind, { ...common, target: t }, { model: ref });
    const result = await explain(target);
    // top<k>: the same methods for each of the k most probable classes.
    const k = topMatch ? Math.min(Number(topMatch[1]), result.predictions.length) : 1;
    const extra = [];
    for (const p of result.predictions.slice(1, k)) extra.push(await explain(p.index));

    fs.mkdirSync(outDir, { recursive: true });
    const display = await loadDisplayImage(imageFile, OVERLAY_MAX_SIDE);
    const stem = path.basename(imageFile).replace(/\.[^.]+$/, '');
    const [h, w] = result.inputSize;
    const maps = [];
    for (const r of [result, ...extra]) {
      const suffix = r === result ? '' : `.class${r.target.index}`;
      for (const m of r.maps) {
        const npy = path.join(outDir, `${stem}.${m.method}${suffix}.npy`);
        const png = path.join(outDir, `${stem}.${m.method}${suffix}.png`);
        fs.writeFileSync(npy, encodeNpy(m.upsampled, [h, w]));
        fs.writeFileSync(png, await renderOverlayPng({ image: display, map: m.map.signed ? m.upsampled.map(Math.abs) : m.upsampled, mapHeight: h, mapWidth: w, colormap, opacity }));
        maps.push({
          method: m.method, shape: [h, w], ms: Math.round(m.ms * 10) / 10, npy, png, layer: m.map.layer, nativeShape: [m.map.height, m.map.width],
          target: r.target, signed: m.map.signed === true,
          ...(m.map.stats ? { stats: m.map.stats } : {}),
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
}

interface HumanReport {
  model: { file: string; format: string; preprocess: string };
  inputSize: number[];
  predictions: { index: number; label?: string; probability: number }[];
  target: { index: number; label?: string; space: string };
  layer: string | null;
  maps: { method: string; shape: number[]; ms: number; npy: string; png: string; nativeShape: number[]; target: { index: number; label?: string }; stats?: Record<string, number>; metrics?: FaithfulnessInfo }[];
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

/** `xai-lens explain`: explain one image with one or more methods, write .npy maps and overlays. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { UserError } from '../shared/errors';
import { describeBackend, initBackend } from '../extension/backend/backends';
import { loadModel } from '../extension/model/load';
import { parseTargetSpec } from '../extension/model/targets';
import { explainImage } from '../extension/explain/explain-image';
import { EXPLAINERS, explainerById } from '../extension/explain/registry';
import { encodeNpy } from '../extension/image/npy';
import { loadDisplayImage } from '../extension/image/decode';
import { renderOverlayPng } from '../extension/image/overlay';
import { parseBackend, parseColormap, parseOpacity, parsePreprocess, parseSize, parseSpace } from './args';

export const EXPLAIN_USAGE = `usage: xai-lens explain <image> --model <model.json or its folder> [options]

  --method <ids>        comma-separated methods (${EXPLAINERS.map((e) => e.id).join(', ')}); default gradcam
  --target <t>          top (default), a class index, or a label
  --space <s>           logit (default: the score before softmax) or probability
  --layer <name>        layer or graph node for layer-based methods (default: last spatial layer)
  --backend <b>         auto (default), tensorflow-gpu, tensorflow, wasm, cpu
  --preprocess <p>      unit, symmetric, imagenet, caffe (default: from the model's metadata, else unit)
  --size <h>x<w>        input size, for models that do not fix it
  --out <dir>           where to write <image>.<method>.npy / .png (default ./xai-lens-out)
  --colormap <c>        overlay colormap: viridis, inferno, turbo (default), jet, gray
  --opacity <a>         overlay opacity 0..1 (default 0.5)
  --json                print one JSON object on stdout`;

const OVERLAY_MAX_SIDE = 1024;

export async function explainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string', short: 'm' },
      method: { type: 'string' },
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
    },
  });
  if (values.help) {
    console.log(EXPLAIN_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UserError(`explain takes exactly one image (got ${positionals.length}); see xai-lens explain --help`);
  if (!values.model) throw new UserError('--model is required (a model.json or the folder that holds it)');
  const imageFile = positionals[0];
  if (!fs.existsSync(imageFile)) throw new UserError(`image not found: ${imageFile}`);
  const methods = (values.method ?? 'gradcam').split(',').filter((s) => s.trim() !== '').map(explainerById);
  const backendChoice = parseBackend(values.backend);
  const inputSize = parseSize(values.size);
  const presetArg = parsePreprocess(values.preprocess);
  const space = parseSpace(values.space);
  const colormap = parseColormap(values.colormap);
  const opacity = parseOpacity(values.opacity);
  const outDir = path.resolve(values.out ?? 'xai-lens-out');

  const backend = await initBackend(backendChoice);
  const model = await loadModel(values.model, { inputSize });
  try {
    if (inputSize && (inputSize[0] !== model.adapter.inputShape[0] || inputSize[1] !== model.adapter.inputShape[1])) {
      throw new UserError(`the model's input is ${model.adapter.inputShape[0]}x${model.adapter.inputShape[1]}; --size ${inputSize.join('x')} does not match`);
    }
    const target = parseTargetSpec(values.target ?? 'top', model.labels, model.adapter.outputSize);
    const preset = presetArg ?? model.preprocess ?? 'unit';
    const result = await explainImage({ model, imageFile, methods, target, space, layer: values.layer, preprocess: preset });

    fs.mkdirSync(outDir, { recursive: true });
    const display = await loadDisplayImage(imageFile, OVERLAY_MAX_SIDE);
    const stem = path.basename(imageFile).replace(/\.[^.]+$/, '');
    const [h, w] = result.inputSize;
    const maps = [];
    for (const m of result.maps) {
      const npy = path.join(outDir, `${stem}.${m.method}.npy`);
      const png = path.join(outDir, `${stem}.${m.method}.png`);
      fs.writeFileSync(npy, encodeNpy(m.upsampled, [h, w]));
      fs.writeFileSync(png, await renderOverlayPng({ image: display, map: m.upsampled, mapHeight: h, mapWidth: w, colormap, opacity }));
      maps.push({ method: m.method, shape: [h, w], ms: Math.round(m.ms * 10) / 10, npy, png, layer: m.map.layer, nativeShape: [m.map.height, m.map.width] });
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
    model.adapter.dispose();
  }
}

interface HumanReport {
  model: { file: string; format: string; preprocess: string };
  inputSize: number[];
  predictions: { index: number; label?: string; probability: number }[];
  target: { index: number; label?: string; space: string };
  layer: string | null;
  maps: { method: string; shape: number[]; ms: number; npy: string; png: string; nativeShape: number[] }[];
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
    lines.push(`${m.method.padEnd(12)} ${m.nativeShape.join('x')} map in ${m.ms} ms → ${m.npy}, ${m.png}`);
  }
  console.log(lines.join('\n'));
}

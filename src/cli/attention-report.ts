/**
 * The attention command's work, run in a compute worker: load the attention view of the model,
 * compute the map (image) or every layer's attention and the rollouts (tokens), write the files,
 * and return the report the command prints.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../shared/errors';
import type { AttentionLayerInfo, AttentionMode, HeadFusion } from '../shared/attention';
import type { ColormapName } from '../shared/colormaps';
import type { AttentionCapture, AttentionModel, ModelInput } from '../extension/attention/attention-model';
import { loadAttentionModel } from '../extension/attention/load-attention';
import { attentionImageMap } from '../extension/attention/image-maps';
import { gradRollout, rollout } from '../extension/attention/rollout';
import { parseTokens, type ParsedTokens } from '../extension/attention/tokens';
import '../extension/model/layers/vit-layers';
import { parseTargetSpec } from '../extension/model/targets';
import { topK, type Prediction } from '../extension/explain/explain-image';
import { encodeNpy } from '../extension/image/npy';
import { loadDisplayImage, loadModelInput } from '../extension/image/decode';
import { preprocess, type PreprocessPreset } from '../extension/image/preprocess';
import { renderOverlayPng } from '../extension/image/overlay';
import { defineJob } from '../extension/compute/job';

const OVERLAY_MAX_SIDE = 1024;

export interface AttentionOptions {
  mode: AttentionMode;
  layer?: string;
  head?: number | HeadFusion;
  query?: number;
  fusion: HeadFusion;
  discardRatio: number;
  target: string | undefined;
  outDir: string;
  json: boolean;
}

/** A layer or input name as a file name part. */
function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '_');
}

/** Index of the largest value. */
function argMax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

export interface AttentionReportArgs {
  model: string;
  imageFile?: string;
  tokens: string[];
  opts: AttentionOptions;
  /** The --preprocess choice; the model's metadata (else unit) when absent. */
  preset?: PreprocessPreset;
  colormap: ColormapName;
  opacity: number;
}

/** Only the human-readable lines are printed without --json; the rest is the JSON report. */
export type Report = Record<string, unknown> & { human: string[] };

export const attentionReportJob = defineJob('attention-report', async (a: AttentionReportArgs): Promise<Report & { model: { file: string; format: string; name: string } }> => {
  const model = await loadAttentionModel(a.model);
  try {
    const report = a.imageFile !== undefined
      ? await imageAttention(model, a.imageFile, a.opts, a.preset ?? model.preprocess ?? 'unit', a.colormap, a.opacity)
      : tokenAttention(model, a.tokens, a.opts);
    return { ...report, model: { file: model.file, format: model.format, name: model.name } };
  } finally {
    model.dispose();
  }
});

/** The class of grad-rollout: --target, or the top prediction of `output`. */
function gradientTarget(model: AttentionModel, spec: string | undefined, output: Float32Array): number {
  const t = parseTargetSpec(spec ?? 'top', model.labels, model.outputSize);
  return t === 'top' ? argMax(output) : t;
}

function targetInfo(model: AttentionModel, index: number, output: Float32Array): Prediction {
  return { index, probability: output[index], ...(model.labels?.[index] !== undefined ? { label: model.labels[index] } : {}) };
}

const named = (p: { index: number; label?: string }) => (p.label !== undefined ? `${p.label} (${p.index})` : `class ${p.index}`);
const predictionsLine = (ps: Prediction[]) => `predictions  ${ps.map((p) => `${named(p)} ${(p.probability * 100).toFixed(1)}%`).join(', ')}`;
const layerLine = (l: AttentionLayerInfo) => `${l.name} (${l.heads} heads, ${l.queryTokens}×${l.keyTokens}${l.cross ? `, ${l.querySide} → ${l.keySide}` : `, ${l.querySide}`})`;


async function imageAttention(
  model: AttentionModel, imageFile: string, opts: AttentionOptions, preset: PreprocessPreset, colormap: ColormapName, opacity: number,
): Promise<Report> {
  const input = model.inputs[0];
  if (model.inputs.length !== 1 || input.kind !== 'image') {
    throw new UserError(`${model.name} takes token ids (${model.inputs.map((x) => x.name).join(', ')}), not an image: give them with --tokens`);
  }
  if (typeof opts.head === 'number') {
    const l = opts.layer === undefined ? [...model.layers].reverse().find((x) => !x.cross) : model.layers.find((x) => x.name === opts.layer);
    if (l && opts.head >= l.heads) throw new UserError(`--head ${opts.head} is out of range: ${l.name} has ${l.heads} heads (0..${l.heads - 1})`);
  }
  const [h, w, c] = input.shape;
  const decoded = await loadModelInput(imageFile, { height: h, width: w, channels: c as 1 | 3 });
  const x = tf.tidy(() => preprocess(tf.tensor4d(decoded.pixels, [1, h, w, c]), preset));
  try {
    let capture: AttentionCapture;
    let target: number | undefined;
    if (opts.mode === 'grad-rollout') {
      const spec = parseTargetSpec(opts.target ?? 'top', model.labels, model.outputSize);
      target = spec === 'top' ? argMax(model.capture([x]).output) : spec;
      capture = model.capture([x], { gradientTarget: target });
    } else {
      capture = model.capture([x]);
    }
    const map = attentionImageMap(model, capture, { mode: opts.mode, fusion: opts.fusion, discardRatio: opts.discardRatio, layer: opts.layer, head: opts.head, query: opts.query });
    fs.mkdirSync(opts.outDir, { recursive: true });
    const stem = path.basename(imageFile).replace(/\.[^.]+$/, '');
    const npy = path.join(opts.outDir, `${stem}.attention-${opts.mode}.npy`);
    const png = path.join(opts.outDir, `${stem}.attention-${opts.mode}.png`);
    fs.writeFileSync(npy, encodeNpy(map.data, [map.height, map.width]));
    const display = await loadDisplayImage(imageFile, OVERLAY_MAX_SIDE);
    fs.writeFileSync(png, await renderOverlayPng({ image: display, map: map.data, mapHeight: map.height, mapWidth: map.width, colormap, opacity }));
    const predictions = topK(capture.output, 5, model.labels);
    const patches = model.patches!;
    const targetPrediction = target === undefined ? undefined : targetInfo(model, target, capture.output);
    const human = [
      `image        ${path.resolve(imageFile)} (input ${h}x${w}, preprocess ${preset})`,
      predictionsLine(predictions),
      ...(targetPrediction ? [`target       ${named(targetPrediction)}`] : []),
      `layers       ${model.layers.map(layerLine).join(', ')}`,
      `map          ${map.label}`,
      `             ${map.height}x${map.width} patch grid${patches.cls ? ' (after the CLS token)' : ''} → ${npy}, ${png}`,
    ];
    return {
      image: { file: path.resolve(imageFile), ...decoded.original },
      inputSize: [h, w],
      preprocess: preset,
      mode: opts.mode,
      label: map.label,
      grid: patches.grid,
      cls: patches.cls,
      layers: model.layers,
      predictions,
      ...(targetPrediction ? { target: targetPrediction } : {}),
      shape: [map.height, map.width],
      npy,
      png,
      human,
    };
  } finally {
    x.dispose();
  }
}

/** [q, k] of a layer's captured [heads, q, k] values; `lengths`: the token count of each model input. */
function layerDims(l: AttentionLayerInfo, size: number, lengths: Map<string, number>): [number, number] {
  const perHead = size / l.heads;
  let q = l.queryTokens > 0 ? l.queryTokens : lengths.get(l.querySide);
  if (q === undefined) {
    const k = l.keyTokens > 0 ? l.keyTokens : lengths.get(l.keySide);
    q = k !== undefined ? perHead / k : Math.round(Math.sqrt(perHead));
  }
  const k = perHead / q;
  if (!Number.isInteger(q) || !Number.isInteger(k) || q * k !== perHead) throw new Error(`cannot tell the shape of ${l.name}'s ${size} attention values (${l.heads} heads)`);
  return [q, k];
}

/** One head of a row-major [heads, q, k] layer, or the mean / max / min over heads, as [q, k] rows. */
function headMatrix(values: Float32Array, heads: number, q: number, k: number, head: number | HeadFusion): number[][] {
  if (typeof head === 'number' && (head < 0 || head >= heads)) throw new UserError(`--head ${head} is out of range: the layer has ${heads} heads (0..${heads - 1})`);
  const rows: number[][] = [];
  for (let i = 0; i < q; i++) {
    const row: number[] = [];
    for (let j = 0; j < k; j++) {
      const at = (hh: number) => values[(hh * q + i) * k + j];
      if (typeof head === 'number') {
        row.push(at(head));
        continue;
      }
      let v = at(0);
      for (let hh = 1; hh < heads; hh++) v = head === 'mean' ? v + at(hh) : head === 'max' ? Math.max(v, at(hh)) : Math.min(v, at(hh));
      row.push(head === 'mean' ? v / heads : v);
    }
    rows.push(row);
  }
  return rows;
}

function tokenAttention(model: AttentionModel, texts: string[], opts: AttentionOptions): Report {
  const inputs = model.inputs;
  const images = inputs.filter((x) => x.kind === 'image');
  if (images.length > 0) throw new UserError(`${model.name} takes an image (${images[0].name}), not tokens: give an image file instead of --tokens`);
  const tokenInputs = inputs as Extract<ModelInput, { kind: 'tokens' }>[];
  if (texts.length !== tokenInputs.length) {
    const how = tokenInputs.map((x) => `--tokens "${x.example ?? '…'}"`).join(' ');
    throw new UserError(`${model.name} has ${tokenInputs.length} token input${tokenInputs.length === 1 ? '' : 's'} (${tokenInputs.map((x) => x.name).join(', ')}) and got --tokens ${texts.length} time${texts.length === 1 ? '' : 's'}; e.g. ${how}`);
  }
  const parsed: ParsedTokens[] = tokenInputs.map((x, i) => parseTokens(texts[i], x));
  const tensors = parsed.map((p, i) => tf.tensor2d(p.ids, [1, p.ids.length], tokenInputs[i].dtype));
  try {
    let capture = model.capture(tensors);
    let target: number | undefined;
    if (opts.mode === 'grad-rollout') {
      target = gradientTarget(model, opts.target, capture.output);
      capture = model.capture(tensors, { gradientTarget: target });
    }
    const lengths = new Map(tokenInputs.map((x, i) => [x.name, parsed[i].ids.length]));
    const stringsOf = new Map(tokenInputs.map((x, i) => [x.name, parsed[i].strings]));
    fs.mkdirSync(opts.outDir, { recursive: true });
    const human: string[] = [];
    for (const [i, x] of tokenInputs.entries()) human.push(`tokens       ${x.name}: ${parsed[i].strings.join(' ')}`);
    const predictions = topK(capture.output, 5, model.labels);
    human.push(predictionsLine(predictions));
    const targetPrediction = target === undefined ? undefined : targetInfo(model, target, capture.output);
    if (targetPrediction) human.push(`target       ${named(targetPrediction)}`);

    const dims = model.layers.map((l, i) => layerDims(l, capture.probabilities[i].length, lengths));
    const layers = model.layers.map((l, i) => {
      const file = path.join(opts.outDir, `attention.${fileSafe(l.name)}.npy`);
      const shape = [l.heads, ...dims[i]];
      fs.writeFileSync(file, encodeNpy(capture.probabilities[i], shape));
      human.push(`attention    ${layerLine(l)} → ${file}`);
      return { ...l, shape, npy: file };
    });

    // Rollout over each input's self-attention layers (decoder sides of encoder–decoder models too).
    const warnings: string[] = [];
    const rollouts = [];
    const sides = [...new Set(model.layers.filter((l) => !l.cross).map((l) => l.querySide))];
    for (const side of sides) {
      const idx = model.layers.map((l, i) => (!l.cross && l.querySide === side ? i : -1)).filter((i) => i >= 0);
      const heads = model.layers[idx[0]].heads;
      const n = dims[idx[0]][0];
      const odd = idx.find((i) => model.layers[i].heads !== heads || dims[i][0] !== n || dims[i][1] !== n);
      if (odd !== undefined) {
        warnings.push(`no rollout for ${side}: its self-attention layers differ in heads or tokens (${model.layers[idx[0]].name}, ${model.layers[odd].name})`);
        continue;
      }
      const stack = { layers: idx.map((i) => capture.probabilities[i]), heads, tokens: n };
      const r = opts.mode === 'grad-rollout'
        ? gradRollout(stack, idx.map((i) => capture.gradients![i]), { discardRatio: opts.discardRatio, keepToken: 0 })
        : rollout(stack, { fusion: opts.fusion, discardRatio: opts.discardRatio, keepToken: 0 });
      const kind = opts.mode === 'grad-rollout' ? 'grad-rollout' : 'rollout';
      const file = path.join(opts.outDir, `${kind}.${fileSafe(side)}.npy`);
      fs.writeFileSync(file, encodeNpy(Float32Array.from(r), [n, n]));
      human.push(`${kind.padEnd(12)} ${side}: ${n}x${n} over ${idx.length} layer${idx.length === 1 ? '' : 's'} → ${file}`);
      rollouts.push({ side, kind, layers: idx.map((i) => model.layers[i].name), shape: [n, n], npy: file });
    }
    for (const w of warnings) human.push(`warning      ${w}`);

    let raw: Record<string, unknown> | undefined;
    if (opts.mode === 'raw') {
      const li = opts.layer === undefined ? model.layers.length - 1 : model.layers.findIndex((l) => l.name === opts.layer);
      if (li < 0) throw new UserError(`${opts.layer} is not an attention layer of ${model.name} (its attention layers: ${model.layers.map((l) => l.name).join(', ')})`);
      const l = model.layers[li];
      const [q, k] = dims[li];
      const head = opts.head ?? 'mean';
      const matrix = headMatrix(capture.probabilities[li], l.heads, q, k, head);
      if (opts.query !== undefined && opts.query >= q) throw new UserError(`--query ${opts.query} is out of range: ${l.name} has ${q} query tokens (0..${q - 1})`);
      const queries = stringsOf.get(l.querySide) ?? Array.from({ length: q }, (_, i) => String(i));
      const keys = stringsOf.get(l.keySide) ?? Array.from({ length: k }, (_, i) => String(i));
      raw = { layer: l.name, head, queries, keys, matrix, ...(opts.query !== undefined ? { query: opts.query, row: matrix[opts.query] } : {}) };
      const headName = typeof head === 'number' ? `head ${head}` : `${head} of heads`;
      human.push(`raw          ${l.name}, ${headName} (rows: ${l.querySide} queries, columns: ${l.keySide} keys)`);
      const shown = opts.query !== undefined ? [opts.query] : matrix.map((_, i) => i);
      const width = Math.max(...queries.map((s) => s.length), 4);
      human.push(`${''.padEnd(width + 2)}${keys.map((s) => s.slice(0, 6).padStart(7)).join('')}`);
      for (const i of shown) human.push(`${(queries[i] ?? String(i)).padEnd(width + 2)}${matrix[i].map((v) => v.toFixed(3).padStart(7)).join('')}`);
    }
    return {
      mode: opts.mode,
      tokens: tokenInputs.map((x, i) => ({ input: x.name, ids: parsed[i].ids, strings: parsed[i].strings })),
      layers,
      predictions,
      ...(targetPrediction ? { target: targetPrediction } : {}),
      rollouts,
      ...(raw ? { raw } : {}),
      warnings,
      human,
    };
  } finally {
    tf.dispose(tensors);
  }
}

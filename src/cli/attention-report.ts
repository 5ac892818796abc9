/**
 * The attention command's output, from the results of the attention jobs (the panels' jobs):
 * the files (.npy, and an overlay PNG for images) and the report, whose `human` lines are
 * printed without --json and whose other fields are the JSON object.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AttentionLayerInfo, AttentionMode } from '../shared/attention';
import type { ColormapName } from '../shared/colormaps';
import type { AttentionSummary } from '../extension/compute/jobs/attention';
import type { AttentionMapResult } from '../extension/attention/image-request';
import type { TokenAttention } from '../extension/attention/token-request';
import { encodeNpy } from '../extension/image/npy';
import { loadDisplayImage } from '../extension/image/decode';
import { renderOverlayPng } from '../extension/image/overlay';
import type { PreprocessPreset } from '../extension/image/preprocess';
import { fileSafe, imageNames } from './output-names';

const OVERLAY_MAX_SIDE = 1024;

export type Report = Record<string, unknown> & { human: string[] };

type Prediction = { index: number; label?: string; probability: number };

const named = (p: { index: number; label?: string }) => (p.label !== undefined ? `${p.label} (${p.index})` : `class ${p.index}`);
const predictionsLine = (ps: Prediction[]) => `predictions  ${ps.map((p) => `${named(p)} ${(p.probability * 100).toFixed(1)}%`).join(', ')}`;
const layerLine = (l: AttentionLayerInfo) => `${l.name} (${l.heads} heads, ${l.queryTokens}×${l.keyTokens}${l.cross ? `, ${l.querySide} → ${l.keySide}` : `, ${l.querySide}`})`;

/** The predictions and target lines, and their JSON fields. */
function classes(predictions: Prediction[] | undefined, target: Prediction | undefined): { human: string[]; json: Record<string, unknown> } {
  return {
    human: [...(predictions ? [predictionsLine(predictions)] : []), ...(target ? [`target       ${named(target)}`] : [])],
    json: { ...(predictions ? { predictions } : {}), ...(target ? { target } : {}) },
  };
}

export interface ImageOutput {
  outDir: string;
  preset: PreprocessPreset;
  colormap: ColormapName;
  opacity: number;
  /** The target's part of the file names (output-names.ts): `.class<k>`, or nothing for the default. */
  part?: string;
}

/** Writes <image file name>[.class<k>].attention-<mode>.npy and .png. */
export async function imageReport(info: AttentionSummary, imageFile: string, r: AttentionMapResult, out: ImageOutput): Promise<Report> {
  const data = new Float32Array(r.data);
  const stem = `${imageNames([imageFile]).get(imageFile)}${out.part ?? ''}`;
  const npy = path.join(out.outDir, `${stem}.attention-${r.mode}.npy`);
  const png = path.join(out.outDir, `${stem}.attention-${r.mode}.png`);
  fs.writeFileSync(npy, encodeNpy(data, [r.height, r.width]));
  const display = await loadDisplayImage(imageFile, OVERLAY_MAX_SIDE);
  fs.writeFileSync(png, await renderOverlayPng({ image: display, map: data, mapHeight: r.height, mapWidth: r.width, colormap: out.colormap, opacity: out.opacity }));
  const cls = info.image?.cls ?? false;
  const [h, w] = r.inputSize;
  const c = classes(r.predictions, r.targetClass);
  return {
    image: { file: path.resolve(imageFile), ...r.image },
    inputSize: r.inputSize,
    preprocess: out.preset,
    mode: r.mode,
    label: r.label,
    grid: [r.height, r.width],
    cls,
    layers: info.layers,
    ...c.json,
    shape: [r.height, r.width],
    npy,
    png,
    human: [
      `image        ${path.resolve(imageFile)} (input ${h}x${w}, preprocess ${out.preset})`,
      ...c.human,
      `layers       ${info.layers.map(layerLine).join(', ')}`,
      `map          ${r.label}`,
      `             ${r.height}x${r.width} patch grid${cls ? ' (after the CLS token)' : ''} → ${npy}, ${png}`,
    ],
  };
}

/** Writes attention.<layer>.npy per layer and <rollout kind>[.class<k>].<side>.npy per side (the class of grad-rollout's named target). */
export function tokenReport(r: TokenAttention, mode: AttentionMode, outDir: string, part = ''): Report {
  const human = r.inputs.map((input, i) => `tokens       ${input}: ${r.tokens[i].join(' ')}`);
  const c = classes(r.predictions, r.target);
  human.push(...c.human);
  const layers = r.layers.map((l, i) => {
    const file = path.join(outDir, `attention.${fileSafe(l.name)}.npy`);
    fs.writeFileSync(file, encodeNpy(r.probabilities[i], r.shapes[i]));
    human.push(`attention    ${layerLine(l)} → ${file}`);
    return { ...l, shape: r.shapes[i], npy: file };
  });
  const rollouts = r.rollout.map((x) => {
    const file = path.join(outDir, `${x.kind}${x.kind === 'grad-rollout' ? part : ''}.${fileSafe(x.side)}.npy`);
    fs.writeFileSync(file, encodeNpy(x.data, [x.tokens, x.tokens]));
    human.push(`${x.kind.padEnd(12)} ${x.side}: ${x.tokens}x${x.tokens} over ${x.layers.length} layer${x.layers.length === 1 ? '' : 's'} → ${file}`);
    return { side: x.side, kind: x.kind, layers: x.layers, shape: [x.tokens, x.tokens], npy: file };
  });
  for (const w of r.warnings) human.push(`warning      ${w}`);
  if (r.raw) human.push(...rawLines(r.raw, r.layers.find((l) => l.name === r.raw!.layer)!));
  return {
    mode,
    tokens: r.inputs.map((input, i) => ({ input, ids: r.ids[i], strings: r.tokens[i] })),
    layers,
    ...c.json,
    rollouts,
    ...(r.raw ? { raw: r.raw } : {}),
    warnings: r.warnings,
    human,
  };
}

/** One layer's matrix as a table: a row per query token (or the one asked for), a column per key. */
function rawLines(raw: NonNullable<TokenAttention['raw']>, l: AttentionLayerInfo): string[] {
  const headName = typeof raw.head === 'number' ? `head ${raw.head}` : `${raw.head} of heads`;
  const shown = raw.query !== undefined ? [raw.query] : raw.matrix.map((_, i) => i);
  const width = Math.max(...raw.queries.map((s) => s.length), 4);
  return [
    `raw          ${l.name}, ${headName} (rows: ${l.querySide} queries, columns: ${l.keySide} keys)`,
    `${''.padEnd(width + 2)}${raw.keys.map((s) => s.slice(0, 6).padStart(7)).join('')}`,
    ...shown.map((i) => `${(raw.queries[i] ?? String(i)).padEnd(width + 2)}${raw.matrix[i].map((v) => v.toFixed(3).padStart(7)).join('')}`),
  ];
}

/**
 * What sits beside a model file: labels and preprocessing hints. The convention, for every
 * format: `labels.txt` (one label per line) in the model's folder; a JSON file named after the
 * model file plus `.json` (`model.onnx.json`, `ckpt.keras.json`), else `metadata.json`, with `labels` and `preprocess`; and what the file
 * itself carries (a model.json's userDefinedMetadata, ONNX metadata_props), which the files
 * beside it override. The files beside it are read by the side-file rule (side-files.ts); one that
 * breaks it is ignored with a warning.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isPreprocessPreset, type PreprocessPreset } from '../image/preprocess';
import { formatBytes, MAX_SIDE_TEXT_BYTES, ModelFolder, readRange } from './side-files';
import { jsonErrorDetail } from '../util/excerpt';

export interface ModelMetadata {
  labels?: string[];
  preprocess?: PreprocessPreset;
  /** Every key of metadata.json and userDefinedMetadata (metadata.json wins), for readers of other hints (vocab, patchGrid…). */
  extra?: Record<string, unknown>;
  warnings: string[];
}

/**
 * The text of a side file beside the model (metadata.json, labels.txt), by the side-file rule
 * (side-files.ts): inside the model's folder after links, a regular file, at most 64 MiB.
 * Undefined when there is no such file; a warning (and undefined) when it breaks the rule.
 */
function readSideText(modelFile: string, name: string, warnings: string[]): string | undefined {
  const found = new ModelFolder(modelFile).lookup(name);
  if (!found.ok) {
    if (found.problem === 'missing') return undefined;
    warnings.push(found.problem === 'special'
      ? `${name} beside ${path.basename(modelFile)} is not a regular file; ignoring it`
      : `${name} beside ${path.basename(modelFile)} leads outside the model's folder; ignoring it (only files in the model's folder are read)`);
    return undefined;
  }
  if (found.size > MAX_SIDE_TEXT_BYTES) {
    warnings.push(`${name} has ${found.size} bytes, more than the ${formatBytes(MAX_SIDE_TEXT_BYTES)} read beside a model; ignoring it`);
    return undefined;
  }
  try {
    return readRange(found.real, 0, found.size, name).toString('utf8');
  } catch (err) {
    warnings.push(`${name} could not be read (${(err as Error).message.split('\n')[0]}); ignoring it`);
    return undefined;
  }
}

function readLabelsTxt(modelFile: string, warnings: string[]): string[] | undefined {
  const text = readSideText(modelFile, 'labels.txt', warnings);
  if (text === undefined) return undefined;
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.length > 0 ? lines : undefined;
}

function labelsFrom(value: unknown): string[] | undefined {
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  // {"0": "cat", "1": "dog"} as ImageNet class-index files are written.
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    // Indices beyond a million name no model's classes (and would make a list of billions).
    if (entries.length > 0 && entries.every(([k, v]) => /^\d{1,6}$/.test(k) && (typeof v === 'string' || Array.isArray(v)))) {
      const out: string[] = [];
      for (const [k, v] of entries) out[Number(k)] = Array.isArray(v) ? String(v[v.length - 1]) : (v as string);
      return Array.from(out, (l, i) => l ?? String(i));
    }
  }
  return undefined;
}

/** The metadata file of a model: named after it, else metadata.json; undefined when there is none. */
export function metadataFileFor(modelFile: string): string | undefined {
  const base = path.basename(modelFile);
  const candidates = [`${base}.json`, 'metadata.json'].filter((n) => n !== base);
  // lstat: a link counts as there whatever it leads to (readSideText says when it leads out).
  const present = (f: string) => {
    try {
      fs.lstatSync(f);
      return true;
    } catch {
      return false;
    }
  };
  return candidates.map((n) => path.join(path.dirname(modelFile), n)).find(present);
}

/**
 * Reads `labels.txt` and `metadata.json` from the model's folder (and the model.json's own
 * `userDefinedMetadata`). Broken metadata, or labels that do not match the number of outputs,
 * are reported as warnings rather than failing the load.
 */
export function readModelMetadata(modelFile: string, userDefined: Record<string, unknown> | undefined, outputSize: number): ModelMetadata {
  const meta: ModelMetadata = { warnings: [] };
  const fits = (labels: string[] | undefined, source: string) => {
    if (labels && labels.length !== outputSize) {
      meta.warnings.push(`${source} has ${labels.length} labels but the model has ${outputSize} outputs; ignoring them`);
      return undefined;
    }
    return labels;
  };
  const sources: { name: string; data: Record<string, unknown> }[] = [];
  if (userDefined) sources.push({ name: `the metadata inside ${path.basename(modelFile)}`, data: userDefined });
  const metaFile = metadataFileFor(modelFile);
  // Read by the side-file rule: one that leads out of the folder, or is no regular file, is a warning.
  const text = metaFile === undefined ? undefined : readSideText(modelFile, path.basename(metaFile), meta.warnings);
  if (metaFile !== undefined && text !== undefined) {
    try {
      const m = JSON.parse(text);
      if (m && typeof m === 'object' && !Array.isArray(m)) sources.push({ name: path.basename(metaFile), data: m });
    } catch (err) {
      meta.warnings.push(`${path.basename(metaFile)} could not be read (${err instanceof SyntaxError ? jsonErrorDetail(err, text) : (err as Error).message}); ignoring it`);
    }
  }
  for (const { name: source, data: s } of sources) {
    meta.extra = { ...meta.extra, ...s };
    meta.labels = fits(labelsFrom(s.labels) ?? labelsFrom(s.classNames) ?? labelsFrom(s.class_names), source) ?? meta.labels;
    if (typeof s.preprocess === 'string') {
      if (isPreprocessPreset(s.preprocess)) meta.preprocess = s.preprocess;
      else meta.warnings.push(`${source} names an unknown preprocessing "${s.preprocess}"; ignoring it`);
    }
  }
  meta.labels = fits(readLabelsTxt(modelFile, meta.warnings), 'labels.txt') ?? meta.labels;
  return meta;
}

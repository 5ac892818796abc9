/**
 * What sits beside a model file: labels and preprocessing hints. The convention, for every
 * format: `labels.txt` (one label per line) in the model's folder; a JSON file named after the
 * model file plus `.json` (`model.onnx.json`, `ckpt.keras.json`), else `metadata.json`, with `labels` and `preprocess`; and what the file
 * itself carries (a model.json's userDefinedMetadata, ONNX metadata_props), which the files
 * beside it override.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isPreprocessPreset, type PreprocessPreset } from '../image/preprocess';

export interface ModelMetadata {
  labels?: string[];
  preprocess?: PreprocessPreset;
  /** Every key of metadata.json and userDefinedMetadata (metadata.json wins), for readers of other hints (vocab, patchGrid…). */
  extra?: Record<string, unknown>;
  warnings: string[];
}

function readLabelsTxt(file: string): string[] | undefined {
  if (!fs.existsSync(file)) return undefined;
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.length > 0 ? lines : undefined;
}

function labelsFrom(value: unknown): string[] | undefined {
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  // {"0": "cat", "1": "dog"} as ImageNet class-index files are written.
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length > 0 && entries.every(([k, v]) => /^\d+$/.test(k) && (typeof v === 'string' || Array.isArray(v)))) {
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
  return candidates.map((n) => path.join(path.dirname(modelFile), n)).find((f) => fs.existsSync(f));
}

/**
 * Reads `labels.txt` and `metadata.json` from the model's folder (and the model.json's own
 * `userDefinedMetadata`). Broken metadata, or labels that do not match the number of outputs,
 * are reported as warnings rather than failing the load.
 */
export function readModelMetadata(modelFile: string, userDefined: Record<string, unknown> | undefined, outputSize: number): ModelMetadata {
  const dir = path.dirname(modelFile);
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
  if (metaFile !== undefined) {
    try {
      const m = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
      if (m && typeof m === 'object') sources.push({ name: path.basename(metaFile), data: m });
    } catch (err) {
      meta.warnings.push(`${path.basename(metaFile)} could not be read (${(err as Error).message}); ignoring it`);
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
  meta.labels = fits(readLabelsTxt(path.join(dir, 'labels.txt')), 'labels.txt') ?? meta.labels;
  return meta;
}

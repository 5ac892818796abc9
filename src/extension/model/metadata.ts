/** What sits beside a model.json: labels and preprocessing hints. */
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

/**
 * Reads `labels.txt` and `metadata.json` from the model's folder (and the model.json's own
 * `userDefinedMetadata`). Broken metadata, or labels that do not match the number of outputs,
 * are reported as warnings rather than failing the load.
 */
export function readModelMetadata(modelJson: string, userDefined: Record<string, unknown> | undefined, outputSize: number): ModelMetadata {
  const dir = path.dirname(modelJson);
  const meta: ModelMetadata = { warnings: [] };
  const fits = (labels: string[] | undefined, source: string) => {
    if (labels && labels.length !== outputSize) {
      meta.warnings.push(`${source} has ${labels.length} labels but the model has ${outputSize} outputs; ignoring them`);
      return undefined;
    }
    return labels;
  };
  const sources: Record<string, unknown>[] = [];
  if (userDefined) sources.push(userDefined);
  const metaFile = path.join(dir, 'metadata.json');
  if (fs.existsSync(metaFile)) {
    try {
      const m = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
      if (m && typeof m === 'object') sources.push(m);
    } catch (err) {
      meta.warnings.push(`metadata.json could not be read (${(err as Error).message}); ignoring it`);
    }
  }
  for (const s of sources) {
    meta.extra = { ...meta.extra, ...s };
    meta.labels = fits(labelsFrom(s.labels) ?? labelsFrom(s.classNames) ?? labelsFrom(s.class_names), 'metadata.json') ?? meta.labels;
    if (typeof s.preprocess === 'string') {
      if (isPreprocessPreset(s.preprocess)) meta.preprocess = s.preprocess;
      else meta.warnings.push(`metadata.json names an unknown preprocessing "${s.preprocess}"; ignoring it`);
    }
  }
  meta.labels = fits(readLabelsTxt(path.join(dir, 'labels.txt')), 'labels.txt') ?? meta.labels;
  return meta;
}

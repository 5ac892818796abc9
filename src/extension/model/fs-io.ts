/**
 * TF.js model artifacts from and to the file system, without tfjs-node: `model.json` plus its
 * weight shards, read with `fs`. Weight decoding (including quantised weights) stays with tfjs.
 * Shards are side files (side-files.ts): inside the model's folder after links, regular files,
 * and exactly as large as the manifest's weights take; nothing beyond that is read.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../shared/errors';
import { setWeightBudget } from './layers/build-scope';
import { MAX_JSON_BYTES, ModelFolder, readModelFile, readRange } from './side-files';
import { jsonErrorDetail, safeLine } from '../util/excerpt';

interface ModelJson {
  modelTopology?: unknown;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  signature?: unknown;
  userDefinedMetadata?: Record<string, unknown>;
  modelInitializer?: unknown;
  initializerSignature?: unknown;
  trainingConfig?: unknown;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** Accepts a model.json path or the folder that holds one. */
export function resolveModelJson(p: string): string {
  let file = p;
  if (fs.existsSync(p) && fs.statSync(p).isDirectory()) file = path.join(p, 'model.json');
  if (!fs.existsSync(file)) throw new UserError(`no model found at ${p} (expected a model.json or a folder holding one)`);
  return file;
}

export function readModelJson(file: string): ModelJson {
  const text = readModelFile(file, MAX_JSON_BYTES, 'a model.json (its weights belong in the shards)').toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${file} is not valid JSON: ${jsonErrorDetail(err, text)}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json) || !('modelTopology' in json)) {
    throw new UserError(`${file} is not a TensorFlow.js model.json (it has no modelTopology)`);
  }
  const m = json as ModelJson;
  if (m.modelTopology === null || typeof m.modelTopology !== 'object' || Array.isArray(m.modelTopology)) {
    throw new UserError(`${file} is not a TensorFlow.js model.json (its modelTopology is not an object)`);
  }
  if (m.weightsManifest !== undefined && !Array.isArray(m.weightsManifest)) {
    throw new UserError(`${file} has a malformed weightsManifest`);
  }
  if (m.userDefinedMetadata !== undefined && (m.userDefinedMetadata === null || typeof m.userDefinedMetadata !== 'object' || Array.isArray(m.userDefinedMetadata))) {
    throw new UserError(`${file} has a malformed userDefinedMetadata (it must be an object)`);
  }
  return m;
}

/** One group of a weights manifest, checked: its shard names and what its weights take, in bytes. */
interface CheckedGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
  bytes: number;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };
const QUANTIZED_BYTES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };

/** The bytes one manifest entry takes in the shards; a UserError naming the entry when it cannot be read. */
function weightByteLength(file: string, s: unknown): number {
  if (s === null || typeof s !== 'object' || Array.isArray(s)) throw new UserError(`${file} has a malformed weightsManifest entry (not an object)`);
  const w = s as Partial<tf.io.WeightsManifestEntry>;
  if (typeof w.name !== 'string') throw new UserError(`${file} has a weightsManifest entry without a name`);
  const what = `the weight ${safeLine(w.name)} in ${file}`;
  if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new UserError(`${what} has an invalid shape (it must be a list of whole numbers ≥ 0)`);
  }
  const n = w.shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(n)) throw new UserError(`${what} has a shape too large to hold`);
  let size: number | undefined;
  if (w.quantization !== undefined) {
    const q = w.quantization as unknown;
    if (q === null || typeof q !== 'object') throw new UserError(`${what} has a malformed quantization`);
    size = QUANTIZED_BYTES[(q as { dtype?: unknown }).dtype as string];
    if (size === undefined) throw new UserError(`${what} is quantized as ${safeLine(String((q as { dtype?: unknown }).dtype))}, which TensorFlow.js does not read (uint8, uint16 or float16)`);
  } else {
    if (w.dtype === 'string') throw new UserError(`string weights (${safeLine(w.name)}) are not supported`);
    size = typeof w.dtype === 'string' && Object.hasOwn(DTYPE_BYTES, w.dtype) ? DTYPE_BYTES[w.dtype] : undefined;
    if (size === undefined) throw new UserError(`${what} has the dtype ${safeLine(String(w.dtype))}, which is not a TensorFlow.js weight type (float32, int32, bool)`);
  }
  return n * size;
}

function checkedManifest(file: string, json: ModelJson): CheckedGroup[] {
  const names = new Set<string>();
  return (json.weightsManifest ?? []).map((group: unknown) => {
    const g = group as { paths?: unknown; weights?: unknown } | null;
    if (g === null || typeof g !== 'object' || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw new UserError(`${file} has a malformed weightsManifest group (it needs "paths" and "weights" lists)`);
    }
    if (!g.paths.every((p) => typeof p === 'string')) throw new UserError(`${file} has a weightsManifest group whose paths are not all file names`);
    const bytes = g.weights.reduce((sum: number, w: unknown) => sum + weightByteLength(file, w), 0);
    for (const w of g.weights as tf.io.WeightsManifestEntry[]) {
      // tfjs decodes the weights into one map by name: a second entry would hide the first.
      if (names.has(w.name)) throw new UserError(`the weight ${safeLine(w.name)} is listed twice in the manifest of ${file}`);
      names.add(w.name);
    }
    return { paths: g.paths as string[], weights: g.weights as tf.io.WeightsManifestEntry[], bytes };
  });
}

/**
 * The weight shard `shard` named by `file`, checked by the side-file rule (see side-files.ts):
 * its real path and size. A one-line UserError otherwise, which tells nothing of files outside
 * the model's folder.
 */
function locateShard(folder: ModelFolder, file: string, shard: string): { real: string; size: number } {
  const found = folder.lookup(shard);
  if (found.ok) return found;
  const name = safeLine(shard);
  switch (found.problem) {
    case 'absolute':
      throw new UserError(`${file} names a weight shard at an absolute path (${name}); only files in the model's folder are read`);
    case 'outside':
      throw new UserError(`${file} names a weight shard outside its folder (${name}); only files in the model's folder are read`);
    case 'special':
      throw new UserError(`${file} names the weight shard ${name}, which is not a regular file (a device, a pipe or a folder)`);
    default:
      throw new UserError(`weight shard ${name} listed in ${path.basename(file)} is missing from ${folder.dir}`);
  }
}

/** The shards of a model.json that load would read (regular files inside its folder); the others are left out. */
export function readableShards(file: string): string[] {
  const folder = new ModelFolder(file);
  let groups: unknown[] = [];
  try {
    groups = readModelJson(file).weightsManifest ?? [];
  } catch {
    // A model.json being written: the model file alone identifies the checkpoint for now.
  }
  const out: string[] = [];
  for (const g of groups) {
    const paths = (g as { paths?: unknown } | null)?.paths;
    if (!Array.isArray(paths)) continue;
    for (const p of paths) {
      if (typeof p !== 'string') continue;
      const found = folder.lookup(p);
      const shard = path.join(path.dirname(file), p);
      if (found.ok && !out.includes(shard)) out.push(shard);
    }
  }
  return out;
}

/**
 * The weight bytes of a manifest, read from its shards: each shard checked first (the side-file
 * rule, a regular file) and each group's shards together exactly as large as its weights take,
 * then read into one buffer, no byte more than the manifest describes.
 */
function readWeightData(file: string, groups: CheckedGroup[]): ArrayBuffer {
  const folder = new ModelFolder(file);
  const located = groups.map((g) => {
    const shards = g.paths.map((p) => ({ name: p, ...locateShard(folder, file, p) }));
    const actual = shards.reduce((n, s) => n + s.size, 0);
    if (actual !== g.bytes) {
      const names = safeLine(g.paths.join(', '));
      throw new UserError(actual < g.bytes
        ? `the weight shards of ${file} (${names}) hold ${actual} bytes but its manifest describes ${g.bytes}: a shard is truncated or still being written`
        : `the weight shards of ${file} (${names}) hold ${actual} bytes but its manifest describes only ${g.bytes}: a shard is from another model`);
    }
    return shards;
  });
  const total = groups.reduce((n, g) => n + g.bytes, 0);
  let data: Uint8Array;
  try {
    data = new Uint8Array(total);
  } catch (err) {
    throw new UserError(`the weights of ${file} (${total} bytes) cannot be held in memory: ${(err as Error).message.split('\n')[0]}`);
  }
  let at = 0;
  for (const shards of located) {
    for (const s of shards) {
      readRange(s.real, 0, s.size, `the weight shard ${safeLine(s.name)} of ${file}`, data, at);
      at += s.size;
    }
  }
  return data.buffer as ArrayBuffer;
}

/** An IOHandler that loads a model.json and its shards from disk. */
export function fsLoadHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const file = resolveModelJson(modelJsonPath);
      const json = readModelJson(file);
      const groups = checkedManifest(file, json);
      const weightData = readWeightData(file, groups);
      // A layers model built from these artifacts may make no more weight values than they hold.
      setWeightBudget(groups.reduce((n, g) => n + g.weights.reduce((m, w) => m + w.shape.reduce((a, b) => a * b, 1), 0), 0));
      return {
        modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        signature: json.signature as tf.io.ModelArtifacts['signature'],
        userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
        modelInitializer: json.modelInitializer as tf.io.ModelArtifacts['modelInitializer'],
        initializerSignature: json.initializerSignature as tf.io.ModelArtifacts['initializerSignature'],
        trainingConfig: json.trainingConfig as tf.io.ModelArtifacts['trainingConfig'],
        weightSpecs: groups.flatMap((g) => g.weights),
        weightData,
      };
    },
  };
}

export interface SaveOptions {
  /** Largest shard in bytes; weights are split across `group1-shardNofM.bin` files. */
  shardBytes?: number;
}

/** An IOHandler that writes model.json and weight shards into a folder. */
export function fsSaveHandler(dir: string, opts: SaveOptions = {}): tf.io.IOHandler {
  return {
    save: async (a: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      fs.mkdirSync(dir, { recursive: true });
      const data = a.weightData === undefined ? new ArrayBuffer(0) : tf.io.concatenateArrayBuffers(
        Array.isArray(a.weightData) ? a.weightData : [a.weightData],
      );
      const shardBytes = opts.shardBytes ?? 4 * 1024 * 1024;
      const count = Math.max(1, Math.ceil(data.byteLength / shardBytes));
      const paths: string[] = [];
      for (let i = 0; i < count; i++) {
        const name = count === 1 ? 'weights.bin' : `group1-shard${i + 1}of${count}.bin`;
        fs.writeFileSync(path.join(dir, name), Buffer.from(data.slice(i * shardBytes, (i + 1) * shardBytes)));
        paths.push(name);
      }
      const json: ModelJson = {
        modelTopology: a.modelTopology,
        format: a.format ?? 'layers-model',
        generatedBy: a.generatedBy,
        convertedBy: a.convertedBy ?? null,
        weightsManifest: [{ paths, weights: a.weightSpecs ?? [] }],
      };
      if (a.userDefinedMetadata) json.userDefinedMetadata = a.userDefinedMetadata;
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
    },
  };
}

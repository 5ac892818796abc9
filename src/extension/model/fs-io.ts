/**
 * TF.js model artifacts from and to the file system, without tfjs-node: `model.json` plus its
 * weight shards, read with `fs`. Weight decoding (including quantised weights) stays with tfjs.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../shared/errors';

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
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || !('modelTopology' in json)) {
    throw new UserError(`${file} is not a TensorFlow.js model.json (it has no modelTopology)`);
  }
  const m = json as ModelJson;
  if (m.weightsManifest !== undefined && !Array.isArray(m.weightsManifest)) {
    throw new UserError(`${file} has a malformed weightsManifest`);
  }
  return m;
}

/** An IOHandler that loads a model.json and its shards from disk. */
export function fsLoadHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const file = resolveModelJson(modelJsonPath);
      const json = readModelJson(file);
      const dir = path.dirname(file);
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest ?? []) {
        if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) {
          throw new UserError(`${file} has a malformed weightsManifest group`);
        }
        specs.push(...group.weights);
        for (const shard of group.paths) {
          const shardPath = path.join(dir, shard);
          if (!fs.existsSync(shardPath)) {
            throw new UserError(`weight shard ${shard} listed in ${path.basename(file)} is missing from ${dir}`);
          }
          buffers.push(fs.readFileSync(shardPath));
        }
      }
      const all = Buffer.concat(buffers);
      const expected = specs.reduce((n, s) => n + weightByteLength(s), 0);
      if (all.byteLength !== expected) {
        throw new UserError(
          `the weight shards of ${file} hold ${all.byteLength} bytes but its manifest describes ${expected}: a shard is truncated or from another model`,
        );
      }
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
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
        weightSpecs: specs,
        weightData,
      };
    },
  };
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

function weightByteLength(s: tf.io.WeightsManifestEntry): number {
  const n = s.shape.reduce((a, b) => a * b, 1);
  if (s.quantization) return n * DTYPE_BYTES[s.quantization.dtype];
  if (s.dtype === 'string') throw new UserError(`string weights (${s.name}) are not supported`);
  return n * DTYPE_BYTES[s.dtype];
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

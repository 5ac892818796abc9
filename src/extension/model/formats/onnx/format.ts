/**
 * ONNX models (`*.onnx`, e.g. from PyTorch's torch.onnx.export with either exporter), run as
 * tfjs ops behind the OnnxModelAdapter. Weights may live in external data files beside the model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../../../shared/errors';
import type { AttentionModel } from '../../../attention/attention-model';
import type { FormatLoadOptions, LoadedArtifacts, ModelFormat } from '../format';
import { OnnxModelAdapter } from './adapter';
import { onnxAttention } from './attention';
import { buildGraph, disposeGraph, type OnnxGraph } from './graph';
import { ONNX_OPS } from './ops';
import { readModelMetadata } from '../../metadata';
import { ExternalData, externalLocations, looksLikeOnnx, readModel, type ModelProto } from './proto';
import { createOrtForward } from './ort-session';

/** metadata_props as metadata: values that are JSON are parsed (labels lists, patchGrid, …). */
export function embeddedMetadata(model: ModelProto): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of model.metadata_props ?? []) {
    try {
      out[key] = JSON.parse(value);
    } catch {
      out[key] = value;
    }
  }
  return out;
}

/**
 * A load error as one line naming `file` (as given): UserErrors that do not name it yet (a tensor,
 * an attribute, a node of a malformed graph) get it in front; anything else the decoder or graph
 * builder throws on malformed input is reported as the file failing to load.
 */
function namingFile(file: string, err: unknown): Error {
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  if (err instanceof UserError) return msg.includes(file) && !err.message.includes('\n') ? err : new UserError(msg.includes(file) ? msg : `${file}: ${msg}`);
  return new UserError(`cannot load ${file}: ${msg}`);
}

/** Loads an .onnx file into an adapter (and its metadata). */
export function loadOnnxModel(file: string, opts: FormatLoadOptions = {}): { adapter: OnnxModelAdapter; metadata: Record<string, unknown> } {
  let model: ModelProto;
  try {
    model = readModel(file);
  } catch (err) {
    throw namingFile(file, err);
  }
  const metadata = embeddedMetadata(model);
  // The hints of the files beside the model (patchGrid, outputActivation) win over the file's own.
  const hints = readModelMetadata(file, metadata, -1).extra ?? metadata;
  let graph: OnnxGraph;
  try {
    graph = buildGraph(model, file, ONNX_OPS);
  } catch (err) {
    throw namingFile(file, err);
  }
  try {
    return { adapter: new OnnxModelAdapter(graph, { inputSize: opts.inputSize, metadata: hints }), metadata };
  } catch (err) {
    // The adapter did not take the graph: free its weights.
    disposeGraph(graph);
    throw namingFile(file, err);
  }
}

export const ONNX_FORMAT: ModelFormat = {
  id: 'onnx',
  label: 'ONNX model (.onnx)',
  globs: ['**/*.onnx'],

  claims(file: string, head: Buffer): boolean {
    return /\.onnx$/i.test(file) && looksLikeOnnx(head);
  },

  checkpointFiles(file: string): string[] {
    const files = [file];
    try {
      const model = readModel(file);
      const external = new ExternalData(file);
      for (const loc of externalLocations(model)) {
        // Only what load would read: regular files inside the model's folder (never ../x, /dev/zero).
        try {
          external.resolve(loc);
        } catch {
          continue;
        }
        const p = path.resolve(path.dirname(file), loc);
        if (!files.includes(p)) files.push(p);
      }
    } catch {
      // An unreadable model is reported by load; its checkpoint is the file alone.
    }
    return files;
  },

  watchPattern(file: string): string {
    const base = path.basename(file);
    return `{${base},${base}.data,${base.replace(/\.onnx$/i, '')}.data,*.data}`;
  },

  async load(file: string, opts: FormatLoadOptions): Promise<LoadedArtifacts> {
    const { adapter, metadata } = loadOnnxModel(file, opts);
    const forward = await createOrtForward(adapter, opts.onnxRuntime);
    if (typeof forward === 'string') adapter.forwardUnavailable = forward;
    else adapter.forward = forward;
    // A provider that was asked for and did not start is worth a word; the tfjs fallback is not.
    return { adapter, embeddedMetadata: metadata, warnings: typeof forward === 'string' || !forward.note ? undefined : [forward.note] };
  },

  async loadAttention(file: string): Promise<AttentionModel> {
    let loaded: ReturnType<typeof loadOnnxModel>;
    try {
      loaded = loadOnnxModel(file);
    } catch (err) {
      // The adapter's own message sends token models to Show Attention, which is where this is.
      if (err instanceof UserError && err.message.startsWith(`${file} takes token ids`)) {
        throw new UserError(`${file} takes token ids: attention maps of ONNX models need an image input (token models are read from Keras .keras / .h5 and TF.js files)`);
      }
      throw err;
    }
    const { adapter, metadata } = loaded;
    const m = onnxAttention(adapter, metadata, true, file);
    if (typeof m === 'string') {
      adapter.dispose();
      throw new UserError(`${file} ${m.replace(/^needs /, 'has no attention to show: it needs ')}`);
    }
    return m;
  },

  mayHaveAttention(file: string): boolean {
    // Node op types come before the weights in every exporter's output: look at the first 16 MiB.
    let fd: number | undefined;
    try {
      if (!fs.statSync(file).isFile()) return false;
      fd = fs.openSync(file, 'r');
      const buf = Buffer.alloc(Math.min(16 << 20, fs.fstatSync(fd).size));
      fs.readSync(fd, buf, 0, buf.length, 0);
      return buf.includes('Softmax');
    } catch {
      return false;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  },
};

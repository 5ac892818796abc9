/** Loads a model file of any supported format and wraps it in a model adapter. */
import * as path from 'node:path';
import { readModelMetadata } from './metadata';
import { formatOf, resolveModelFile } from './formats/registry';
import type { ModelAdapter, OnnxRuntimeOptions } from './types';
import type { PreprocessPreset } from '../image/preprocess';

export interface LoadedModel {
  adapter: ModelAdapter;
  /** The model file that was loaded (model.json, model.onnx, model.keras, …). */
  file: string;
  /** A short name for people: the model's folder name, or the file's name when the folder holds several models. */
  name: string;
  /** The format's id (`tfjs-layers`, `tfjs-graph`, `onnx`, `keras`, …): for display and reports only. */
  format: string;
  /** The format for people ("ONNX model"). */
  formatLabel: string;
  labels?: string[];
  /** The preprocessing named by the model's metadata, when it names one. */
  preprocess?: PreprocessPreset;
  /** Things people should know that did not stop the load (e.g. labels that do not fit). */
  warnings: string[];
}

export interface LoadOptions {
  /** Input size for models that leave it open. */
  inputSize?: [number, number];
  /** Forward-only passes of ONNX models through onnxruntime-node (on by default). */
  onnxRuntime?: OnnxRuntimeOptions;
}

/** A short name for a model file: its folder's name for model.json, else the file's stem. */
export function modelDisplayName(file: string): string {
  const base = path.basename(file);
  if (base === 'model.json' || /^model\.[^.]+$/.test(base)) return path.basename(path.dirname(file));
  return base.replace(/\.[^.]+$/, '');
}

export async function loadModel(modelPath: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const file = resolveModelFile(modelPath);
  const format = formatOf(file);
  const loaded = await format.load(file, opts);
  const meta = readModelMetadata(file, loaded.embeddedMetadata, loaded.adapter.outputSize);
  return {
    adapter: loaded.adapter,
    file,
    name: modelDisplayName(file),
    format: format.id,
    formatLabel: format.label,
    labels: meta.labels,
    preprocess: meta.preprocess,
    warnings: [...(loaded.warnings ?? []), ...meta.warnings],
  };
}

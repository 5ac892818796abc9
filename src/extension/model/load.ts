/** Loads a TF.js model (layers or graph format) from disk and wraps it in a model adapter. */
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { UserError } from '../../shared/errors';
import { fsLoadHandler, readModelJson, resolveModelJson } from './fs-io';
import { readModelMetadata } from './metadata';
import { LayersModelAdapter } from './layers-adapter';
import { GraphModelAdapter } from './graph-adapter';
import { withNormalizedKerasTopology } from './layers/keras-topology';
import './layers/multi-head-attention';
import './layers/vit-layers';
import type { ModelAdapter } from './types';
import type { PreprocessPreset } from '../image/preprocess';

export interface LoadedModel {
  adapter: ModelAdapter;
  /** The model.json that was loaded. */
  file: string;
  /** A short name for people: the model's folder name. */
  name: string;
  format: 'layers-model' | 'graph-model';
  labels?: string[];
  /** The preprocessing named by the model's metadata, when it names one. */
  preprocess?: PreprocessPreset;
  /** Things people should know that did not stop the load (e.g. labels that do not fit). */
  warnings: string[];
}

export interface LoadOptions {
  /** Input size for models that leave it open. */
  inputSize?: [number, number];
}

function detectFormat(json: ReturnType<typeof readModelJson>, file: string): 'layers-model' | 'graph-model' {
  if (json.format === 'layers-model' || json.format === 'graph-model') return json.format;
  const topo = json.modelTopology as Record<string, unknown> | null;
  if (topo && 'node' in topo) return 'graph-model';
  if (topo && ('class_name' in topo || 'model_config' in topo || 'config' in topo)) return 'layers-model';
  throw new UserError(`${file} is neither a TF.js layers model nor a graph model (unrecognised modelTopology)`);
}

function loadError(file: string, err: unknown): Error {
  if (err instanceof UserError) return err;
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  const unknownLayer = /Unknown layer: (\w+)/.exec(msg);
  if (unknownLayer) {
    return new UserError(`cannot load ${file}: it uses the layer ${unknownLayer[1]}, which TensorFlow.js does not provide`);
  }
  return new UserError(`cannot load ${file}: ${msg}`);
}

export async function loadModel(modelPath: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const file = resolveModelJson(modelPath);
  const json = readModelJson(file);
  const format = detectFormat(json, file);
  let adapter: ModelAdapter;
  try {
    if (format === 'layers-model') {
      const model = await tfl.loadLayersModel(withNormalizedKerasTopology(fsLoadHandler(file)), { strict: true });
      adapter = new LayersModelAdapter(model, opts.inputSize);
    } else {
      const model = await loadGraphModel(fsLoadHandler(file));
      adapter = new GraphModelAdapter(model, opts.inputSize);
    }
  } catch (err) {
    throw loadError(file, err);
  }
  const meta = readModelMetadata(file, json.userDefinedMetadata, adapter.outputSize);
  return {
    adapter, file, name: path.basename(path.dirname(file)), format, labels: meta.labels, preprocess: meta.preprocess, warnings: meta.warnings,
  };
}

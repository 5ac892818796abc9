/**
 * Keras models read directly, no converter and no Python: Keras 3 `.keras` archives
 * (KERAS_V3_FORMAT) and legacy HDF5 model files written by tf.keras 2 or Keras 3
 * `model.save('x.h5')` (KERAS_H5_FORMAT). The config is rebuilt as a tfjs-layers model
 * (topology.ts), the weights are put in layer by layer (weights.ts), and the result is a
 * LayersModelAdapter like any TF.js layers model, so every method and sanity check works on it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '../../../../shared/errors';
import { jsonErrorDetail, safeLine } from '../../../util/excerpt';
import { LayersModelAdapter } from '../../layers-adapter';
import type { FormatLoadOptions, LoadedArtifacts, ModelFormat } from '../format';
import { ArchiveError, readZipMembers, ZIP_MAGIC } from './archive';
import { HDF5_MAGIC, Hdf5Error, openHdf5, type Hdf5Group } from './hdf5';
import { checkModelReferences, kerasConfigToTopology, unknownLayersMessage, type Json } from './topology';
import { loadH5Weights, loadKeras3Weights } from './weights';
import type { AttentionModel } from '../../../attention/attention-model';
import { attentionOfLoadedLayersModel } from '../../layers-attention';
import { modelDisplayName } from '../../load';
import { buildLayersModel } from '../../layers/build-scope';
import { checkLayersWiring } from '../../layers/keras-topology';
import { MAX_MODEL_FILE_BYTES, readModelFile } from '../../side-files';

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0];

/** A .keras or .h5 file's bytes: a regular file (never a device or a pipe) of at most 2 GiB. */
function readBytes(file: string): Buffer {
  return readModelFile(file, MAX_MODEL_FILE_BYTES, 'one .keras or .h5 file');
}

function parseJson(text: string, file: string, what: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new UserError(`${file} is damaged: its ${what} is not valid JSON (${jsonErrorDetail(err, text)})`);
  }
}

/**
 * The values (elements) of every dataset under a weights group: the most weight values the
 * model's layers can take, since each of their weights is put in from one of these datasets.
 */
function weightValues(file: string, g: Hdf5Group): number {
  let total = 0;
  let seen = 0;
  const walk = (group: Hdf5Group, depth: number) => {
    if (depth > 64) throw new UserError(`${file} is damaged: its weights are nested more than 64 groups deep`);
    for (const key of group.keys) {
      if (++seen > 1_000_000) throw new UserError(`${file} is damaged: its weights file holds more than a million entries`);
      const m = group.get(key);
      if (m?.kind === 'group') walk(m, depth + 1);
      else if (m?.kind === 'dataset') total += m.shape.reduce((a, b) => a * b, 1);
    }
  };
  try {
    walk(g, 0);
  } catch (err) {
    throw hdf5Problem(file, err);
  }
  return total;
}

/** Builds the tfjs model of a Keras model config, failing once with every unsupported layer class. */
async function buildModel(file: string, modelConfig: Json, kerasVersion: string | undefined, budget: number): Promise<{ model: tfl.LayersModel; warnings: string[] }> {
  let converted: ReturnType<typeof kerasConfigToTopology>;
  try {
    converted = kerasConfigToTopology(modelConfig, kerasVersion);
  } catch (err) {
    throw new UserError(`${file} is damaged: ${firstLine(err)}`);
  }
  if (converted.unknown.size > 0) throw new UserError(unknownLayersMessage(file, converted.unknown));
  // Wiring tfjs-layers would loop on forever (a node naming a layer that is not there) is damage.
  checkLayersWiring(converted.topology, `the model config of ${file}`);
  // What tfjs-layers looks up by index unchecked: the model's inputs and outputs, the outputs taken.
  checkModelReferences(converted.topology, `the model config of ${file}`);
  let model: tfl.LayersModel;
  try {
    model = await buildLayersModel(file, budget, () => tfl.models.modelFromJSON({ modelTopology: converted.topology } as unknown as Parameters<typeof tfl.models.modelFromJSON>[0]));
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot load ${file}: ${safeLine(firstLine(err), 300) || 'tfjs-layers cannot build its model config'}`);
  }
  try {
    checkOutputShapes(file, model);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, warnings: converted.warnings };
}

/** The most values one output of a layer may have (per image: a tensor holds at most 2^31 − 1). */
const MAX_OUTPUT_VALUES = 2 ** 31 - 1;

/**
 * The shapes tfjs-layers worked out for every layer's outputs, from the input shape and the
 * layers' settings, before anything runs: a size of 0, a negative or an infinite one (a kernel
 * larger than its input, an input shape no image has) cannot be computed.
 */
function checkOutputShapes(file: string, model: tfl.LayersModel, depth = 0): void {
  const dims = (shape: unknown) => (Array.isArray(shape) ? shape.map((d) => (d == null ? '?' : String(d))).join(', ') : '');
  for (const layer of model.layers) {
    if (layer instanceof tfl.LayersModel && depth < 20) checkOutputShapes(file, layer, depth + 1);
    for (const node of layer.inboundNodes) {
      const out = node.outputShapes as unknown;
      const shapes = Array.isArray(out) && out.length > 0 && Array.isArray(out[0]) ? (out as unknown[]) : [out];
      for (const shape of shapes) {
        if (!Array.isArray(shape)) continue;
        let values = 1;
        const fits = shape.every((d) => d == null || (Number.isSafeInteger(d) && (values *= d as number) >= 1));
        if (!fits || values > MAX_OUTPUT_VALUES) {
          const input = Array.isArray(node.inputShapes) && node.inputShapes.length > 0 && Array.isArray(node.inputShapes[0]) ? (node.inputShapes as unknown[]).map((s) => `[${dims(s)}]`).join(' and ') : `[${dims(node.inputShapes)}]`;
          const why = fits ? 'more values than a tensor can hold' : 'which no tensor can have';
          throw new UserError(`${file}: the layer "${safeLine(layer.name, 80)}" (${layer.getClassName()}) gives outputs of shape [${dims(shape)}], ${why} (from its input ${input} and its settings)`);
        }
      }
    }
  }
}

function withWeights(file: string, model: tfl.LayersModel, load: () => void): void {
  try {
    load();
  } catch (err) {
    model.dispose();
    // The superblock was checked on opening: a dataset that cannot be read is damage, not a short file.
    if (err instanceof Hdf5Error) throw new UserError(`${file} is damaged: ${firstLine(err)}`);
    throw new UserError(`cannot load the weights of ${file}: ${firstLine(err)}`);
  }
}

/** An HDF5 error as one line naming `file`: cut short, not HDF5 at all, or damaged. */
function hdf5Problem(file: string, err: unknown): UserError {
  if (err instanceof UserError) return err;
  if (err instanceof Hdf5Error && err.truncated) return new UserError(`${file} is truncated: ${firstLine(err)}`);
  if (err instanceof Hdf5Error && /^it is not an HDF5 file/.test(err.message)) return new UserError(`${file} is not an HDF5 file (no HDF5 signature)`);
  return new UserError(`${file} is damaged: ${firstLine(err)}`);
}

function adapterFor(file: string, model: tfl.LayersModel, opts: FormatLoadOptions): LayersModelAdapter {
  try {
    return new LayersModelAdapter(model, opts.inputSize, file);
  } catch (err) {
    model.dispose();
    throw err;
  }
}

const existing = (file: string) => (fs.existsSync(file) ? [file] : []);

// ---------------------------------------------------------------------------------------------
// .keras

interface KerasArchive {
  config: Json;
  metadata: Record<string, unknown>;
  weights: Hdf5Group;
}

function openArchive(file: string): KerasArchive {
  const bytes = readBytes(file);
  let members: Map<string, Uint8Array>;
  try {
    members = readZipMembers(bytes, ['config.json', 'metadata.json', 'model.weights.h5']);
  } catch (err) {
    if (!(err instanceof ArchiveError)) throw err;
    if (err.kind === 'not-zip') throw new UserError(`${file} is not a .keras archive: ${err.message}`);
    throw new UserError(`${file} is ${err.kind}: ${err.message}`);
  }
  const text = (name: string) => new TextDecoder().decode(members.get(name));
  if (!members.has('config.json')) throw new UserError(`${file} is not a Keras 3 model archive (it has no config.json)`);
  if (!members.has('model.weights.h5')) throw new UserError(`${file} holds no weights (no model.weights.h5 in the archive)`);
  const config = parseJson(text('config.json'), file, 'config.json');
  const meta = members.has('metadata.json') ? parseJson(text('metadata.json'), file, 'metadata.json') : {};
  let weights: Hdf5Group;
  try {
    weights = openHdf5(members.get('model.weights.h5')!);
  } catch (err) {
    // Its CRC matched: the archive holds an HDF5 file that was broken when it was written.
    throw new UserError(`${file} is damaged: its model.weights.h5 cannot be read (${firstLine(err)})`);
  }
  const metadata = meta !== null && typeof meta === 'object' && !Array.isArray(meta) ? (meta as Record<string, unknown>) : {};
  return { config, metadata, weights };
}

/** The tfjs model of a .keras archive, with its weights, metadata and load warnings. */
async function loadKeras3(file: string): Promise<{ model: tfl.LayersModel; metadata: Record<string, unknown>; warnings: string[] }> {
  const archive = openArchive(file);
  const version = typeof archive.metadata.keras_version === 'string' ? archive.metadata.keras_version : undefined;
  const { model, warnings } = await buildModel(file, archive.config, version, weightValues(file, archive.weights));
  withWeights(file, model, () => loadKeras3Weights(model, archive.weights, archive.config));
  return { model, metadata: { ...archive.metadata }, warnings };
}

/** For attention maps (token models too): the model without the one-image-input adapter. */
async function attentionOf(file: string, load: (file: string) => Promise<{ model: tfl.LayersModel; metadata: Record<string, unknown> }>): Promise<AttentionModel> {
  const { model, metadata } = await load(file);
  try {
    return attentionOfLoadedLayersModel(model, file, modelDisplayName(file), metadata);
  } catch (err) {
    model.dispose();
    // One line naming the file, as the load errors do.
    if (err instanceof UserError && !err.message.includes(file)) throw new UserError(`${file}: ${firstLine(err)}`);
    throw err;
  }
}

export const KERAS_V3_FORMAT: ModelFormat = {
  id: 'keras',
  label: 'Keras 3 model (.keras)',
  globs: ['**/*.keras'],
  claims: (file, head) => /\.keras$/i.test(file) && head.length >= 4 && ZIP_MAGIC.equals(head.subarray(0, 4)),
  checkpointFiles: (file) => existing(file),
  watchPattern: (file) => path.basename(file),
  async load(file: string, opts: FormatLoadOptions): Promise<LoadedArtifacts> {
    const { model, metadata, warnings } = await loadKeras3(file);
    return { adapter: adapterFor(file, model, opts), embeddedMetadata: metadata, warnings };
  },
  loadAttention: (file) => attentionOf(file, loadKeras3),
  mayHaveAttention(file: string): boolean {
    try {
      const config = readZipMembers(readBytes(file), ['config.json']).get('config.json');
      return config !== undefined && new TextDecoder().decode(config).includes('"MultiHeadAttention"');
    } catch {
      return false;
    }
  },
};

// ---------------------------------------------------------------------------------------------
// .h5

function h5Text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export const KERAS_H5_FORMAT: ModelFormat = {
  id: 'keras-h5',
  label: 'Keras model (.h5)',
  globs: ['**/*.h5', '**/*.hdf5'],
  claims: (file, head) => /\.(h5|hdf5)$/i.test(file) && head.length >= 8 && HDF5_MAGIC.equals(head.subarray(0, 8)),
  checkpointFiles: (file) => existing(file),
  watchPattern: (file) => path.basename(file),
  async load(file: string, opts: FormatLoadOptions): Promise<LoadedArtifacts> {
    const { model, metadata, warnings } = await loadH5(file);
    return { adapter: adapterFor(file, model, opts), embeddedMetadata: metadata, warnings };
  },
  loadAttention: (file) => attentionOf(file, loadH5),
  mayHaveAttention(file: string): boolean {
    try {
      const text = h5Text(openHdf5(readBytes(file)).attr('model_config'));
      return text !== undefined && text.includes('"MultiHeadAttention"');
    } catch {
      return false;
    }
  },
};

/** The tfjs model of a legacy .h5 model file, with its weights, metadata and load warnings. */
async function loadH5(file: string): Promise<{ model: tfl.LayersModel; metadata: Record<string, unknown>; warnings: string[] }> {
  let root: Hdf5Group;
  let modelConfigText: string | undefined;
  let version: string | undefined;
  let backend: string | undefined;
  let modelWeights: Hdf5Group | undefined;
  try {
    root = openHdf5(readBytes(file));
    modelConfigText = h5Text(root.attr('model_config'));
    version = h5Text(root.attr('keras_version'));
    backend = h5Text(root.attr('backend'));
    modelWeights = root.group('model_weights');
  } catch (err) {
    throw hdf5Problem(file, err);
  }
  if (modelConfigText === undefined) {
    throw new UserError(`${file} holds no model config (a weights-only .h5, from save_weights?); save the whole model with model.save()`);
  }
  if (!modelWeights) throw new UserError(`${file} holds no weights (no model_weights group)`);
  const config = parseJson(modelConfigText, file, 'model_config attribute');
  const { model, warnings } = await buildModel(file, config, version, weightValues(file, modelWeights));
  withWeights(file, model, () => loadH5Weights(model, modelWeights));
  const metadata: Record<string, unknown> = {};
  if (version) metadata.keras_version = version;
  if (backend) metadata.backend = backend;
  return { model, metadata, warnings };
}

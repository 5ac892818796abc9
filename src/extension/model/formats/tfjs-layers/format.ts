/** TF.js layers models: a model.json whose topology is a Keras model config, plus weight shards. */
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '../../../../shared/errors';
import { fsLoadHandler, readModelJson } from '../../fs-io';
import { LayersModelAdapter } from '../../layers-adapter';
import { withNormalizedKerasTopology } from '../../layers/keras-topology';
import '../../layers/multi-head-attention';
import '../../layers/vit-layers';
import { attentionOfLoadedLayersModel } from '../../layers-attention';
import { modelDisplayName } from '../../load';
import type { ModelFormat } from '../format';
import { isModelJson, looksLikeGraphModel, tfjsCheckpointFiles, tfjsWatchPattern } from '../tfjs-common';
import { mayHaveAttentionText } from '../attention-text';
import { layersLoadError } from '../load-errors';
import { buildLayersModel } from '../../layers/build-scope';

/** The tfjs-layers model of a model.json, built within its manifest's weights (build-scope.ts). */
function loadLayers(file: string): Promise<tfl.LayersModel> {
  // The budget is set by the handler, from the manifest it reads.
  return buildLayersModel(file, undefined, () => tfl.loadLayersModel(withNormalizedKerasTopology(fsLoadHandler(file), file), { strict: true }));
}

/** `make()`, which wraps `model`; the model is disposed when it throws (nothing else holds it then). */
function disposedOnFailure<T>(model: tfl.LayersModel, make: () => T): T {
  try {
    return make();
  } catch (err) {
    model.dispose();
    throw err;
  }
}

export const TFJS_LAYERS_FORMAT: ModelFormat = {
  id: 'tfjs-layers',
  label: 'TensorFlow.js layers model',
  globs: ['**/model.json'],
  claims: (file, head) => isModelJson(file, head) && !looksLikeGraphModel(head.toString('utf8')),
  checkpointFiles: tfjsCheckpointFiles,
  watchPattern: tfjsWatchPattern,
  async load(file, opts) {
    const json = readModelJson(file);
    try {
      const model = await loadLayers(file);
      return { adapter: disposedOnFailure(model, () => new LayersModelAdapter(model, opts.inputSize)), embeddedMetadata: json.userDefinedMetadata };
    } catch (err) {
      throw layersLoadError(file, err);
    }
  },
  async loadAttention(file) {
    const json = readModelJson(file);
    try {
      const model = await loadLayers(file);
      return disposedOnFailure(model, () => attentionOfLoadedLayersModel(model, file, modelDisplayName(file), json.userDefinedMetadata));
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`cannot load ${file} for attention maps: ${(err as Error).message.split('\n')[0]}`);
    }
  },
  mayHaveAttention: mayHaveAttentionText,
};

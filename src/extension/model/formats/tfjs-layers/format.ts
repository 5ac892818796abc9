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
      const model = await tfl.loadLayersModel(withNormalizedKerasTopology(fsLoadHandler(file)), { strict: true });
      return { adapter: new LayersModelAdapter(model, opts.inputSize), embeddedMetadata: json.userDefinedMetadata };
    } catch (err) {
      throw layersLoadError(file, err);
    }
  },
  async loadAttention(file) {
    const json = readModelJson(file);
    try {
      const model = await tfl.loadLayersModel(withNormalizedKerasTopology(fsLoadHandler(file)), { strict: true });
      return attentionOfLoadedLayersModel(model, file, modelDisplayName(file), json.userDefinedMetadata);
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`cannot load ${file} for attention maps: ${(err as Error).message.split('\n')[0]}`);
    }
  },
  mayHaveAttention: mayHaveAttentionText,
};

/** TF.js graph models: a model.json whose topology is a TensorFlow GraphDef, plus weight shards. */
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { fsLoadHandler, readModelJson } from '../../fs-io';
import { GraphModelAdapter } from '../../graph-adapter';
import { loadGraphAttentionModel } from './attention';
import type { ModelFormat } from '../format';
import { isModelJson, looksLikeGraphModel, tfjsCheckpointFiles, tfjsWatchPattern } from '../tfjs-common';
import { mayHaveAttentionText } from '../attention-text';
import { layersLoadError } from '../load-errors';

export const TFJS_GRAPH_FORMAT: ModelFormat = {
  id: 'tfjs-graph',
  label: 'TensorFlow.js graph model',
  globs: ['**/model.json'],
  claims: (file, head) => isModelJson(file, head) && looksLikeGraphModel(head.toString('utf8')),
  checkpointFiles: tfjsCheckpointFiles,
  watchPattern: tfjsWatchPattern,
  async load(file, opts) {
    const json = readModelJson(file);
    try {
      const model = await loadGraphModel(fsLoadHandler(file));
      return { adapter: new GraphModelAdapter(model, opts.inputSize), embeddedMetadata: json.userDefinedMetadata };
    } catch (err) {
      throw layersLoadError(file, err);
    }
  },
  loadAttention: loadGraphAttentionModel,
  mayHaveAttention: mayHaveAttentionText,
};

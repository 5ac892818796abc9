/** TF.js graph models: a model.json whose topology is a TensorFlow GraphDef, plus weight shards. */
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModelSync } from '@tensorflow/tfjs-converter';
import { checkGraphTopology } from './topology-check';
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
      const artifacts = await fsLoadHandler(file).load!();
      checkGraphTopology(file, artifacts.modelTopology);
      // Built in one tidy: when tfjs or the adapter gives up half-way, the weights it decoded
      // are disposed with the scope instead of being left behind; a model that builds keeps them.
      let adapter: GraphModelAdapter | undefined;
      tf.tidy(() => {
        const model = loadGraphModelSync(artifacts);
        try {
          adapter = new GraphModelAdapter(model, opts.inputSize);
        } catch (err) {
          model.dispose();
          throw err;
        }
        return Object.values(model.weights).flat();
      });
      return { adapter: adapter!, embeddedMetadata: json.userDefinedMetadata };
    } catch (err) {
      throw layersLoadError(file, err);
    }
  },
  loadAttention: loadGraphAttentionModel,
  mayHaveAttention: mayHaveAttentionText,
};

/** The attention of a TF.js graph model: its Softmax nodes whose outputs are [batch, heads, q, k]. */
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { UserError } from '../../../../shared/errors';
import type { AttentionLayerInfo } from '../../../../shared/attention';
import { fsLoadHandler, readModelJson } from '../../fs-io';
import { readModelMetadata } from '../../metadata';
import { modelDisplayName } from '../../load';
import type { PreprocessPreset } from '../../../image/preprocess';
import { blankInputs, describeInputs, firstOf, patchesFor, type AttentionCapture, type AttentionModel, type CaptureOptions, type ModelInput } from '../../../attention/attention-model';

interface GraphNode { name: string; op: string }

class GraphAttentionModel implements AttentionModel {
  readonly format = 'graph-model';
  readonly layers: AttentionLayerInfo[] = [];
  readonly inputs: ModelInput[];
  readonly outputSize: number;
  readonly classOutput: boolean;
  readonly noGradients = 'gradient-weighted rollout needs a layers model (graph models expose no attention layer to differentiate)';
  patches?: { grid: [number, number]; cls: boolean };
  private softmaxNodes: string[] = [];

  constructor(private readonly model: GraphModel, readonly file: string, readonly name: string, topology: unknown, private readonly extra: Record<string, unknown>, readonly labels?: string[], readonly preprocess?: PreprocessPreset) {
    const nodes = ((topology as { node?: GraphNode[] })?.node ?? []).filter((n) => n.op === 'Softmax');
    this.softmaxNodes = nodes.map((n) => n.name);
    if (this.softmaxNodes.length === 0) throw new UserError(`${name} has no Softmax node, so there is no attention to show`);
    this.inputs = describeInputs(model.inputs.map((t) => ({ name: t.name.replace(/:0$/, ''), shape: (t.shape ?? []).map((d) => (d == null || d < 0 ? null : d)), dtype: t.dtype ?? 'float32' })), extra);
    const out = model.outputs[0].shape ?? [];
    this.outputSize = out[out.length - 1] ?? 0;
    this.classOutput = out.length === 2;
  }

  private feeds(inputs: tf.Tensor[]): tf.NamedTensorMap {
    return Object.fromEntries(this.model.inputs.map((t, i) => [t.name, inputs[i]]));
  }

  /** Finds, on a real input, which Softmax nodes give [1, heads, q, k]: those are attention. */
  probe(inputs: tf.Tensor[]): void {
    const outs = this.model.execute(this.feeds(inputs), this.softmaxNodes) as tf.Tensor[];
    const keep = this.softmaxNodes.filter((_, i) => outs[i].rank === 4);
    this.layers.length = 0;
    keep.forEach((name) => {
      const t = outs[this.softmaxNodes.indexOf(name)];
      const [, heads, q, k] = t.shape as number[];
      this.layers.push({ name, heads, queryTokens: q, keyTokens: k, cross: q !== k, querySide: this.inputs[0].name, keySide: this.inputs[0].name });
    });
    tf.dispose(outs);
    if (keep.length === 0) throw new UserError(`${this.name} has no Softmax node with a [batch, heads, queries, keys] output, so there is no attention to show`);
    this.softmaxNodes = keep;
    this.patches = patchesFor(this.inputs, this.layers, this.extra);
  }

  capture(inputs: tf.Tensor[], opts: CaptureOptions = {}): AttentionCapture {
    if (opts.gradientTarget !== undefined) throw new UserError(this.noGradients);
    const outName = this.model.outputs[0].name;
    const outs = this.model.execute(this.feeds(inputs), [...this.softmaxNodes, outName]) as tf.Tensor[];
    const result = {
      probabilities: outs.slice(0, -1).map((p) => firstOf(p)),
      output: firstOf(outs[outs.length - 1]),
    };
    tf.dispose(outs);
    return result;
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** A graph model.json for attention maps: loaded, then probed for its attention Softmax nodes. */
export async function loadGraphAttentionModel(file: string): Promise<AttentionModel> {
  const json = readModelJson(file);
  const name = modelDisplayName(file);
  try {
    const model = await loadGraphModel(fsLoadHandler(file));
    const out = model.outputs[0].shape ?? [];
    const meta = readModelMetadata(file, json.userDefinedMetadata, out[out.length - 1] ?? 0);
    const m = new GraphAttentionModel(model, file, name, json.modelTopology, meta.extra ?? {}, meta.labels, meta.preprocess);
    const probe = blankInputs(m.inputs);
    try {
      m.probe(probe);
    } finally {
      tf.dispose(probe);
    }
    return m;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot load ${file} for attention maps: ${(err as Error).message.split('\n')[0]}`);
  }
}

/**
 * The attention facet of an ONNX model: its Softmax nodes whose outputs are [batch, heads, q, k]
 * are the attention layers (as for graph models; windowed attention, [batch·windows, heads, q, k],
 * is not), captured in one run of the runtime, with the gradient of a class logit with respect to
 * each layer's probabilities (a zero added to every Softmax output is what is differentiated), for
 * gradient-weighted rollout.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../../../shared/errors';
import type { AttentionLayerInfo } from '../../../../shared/attention';
import type { AttentionCapture, AttentionModel, CaptureOptions, ModelInput } from '../../../attention/attention-model';
import { inferPatchGrid } from '../../../attention/token-maps';
import { applyHead } from '../../targets';
import type { OnnxModelAdapter } from './adapter';
import { nodeScopes } from './scopes';
import type { Val } from './runtime';

/** The values of a tensor's first batch element. */
function firstOf(t: tf.Tensor): Float32Array {
  const all = t.dataSync() as Float32Array;
  const n = t.size / t.shape[0];
  return all.length === n ? Float32Array.from(all) : all.slice(0, n);
}

export class OnnxAttentionModel implements AttentionModel {
  readonly format = 'onnx';
  readonly inputs: ModelInput[];
  readonly layers: AttentionLayerInfo[];
  readonly outputSize: number;
  readonly classOutput = true;
  readonly patches?: { grid: [number, number]; cls: boolean };
  readonly noGradients?: string;

  constructor(
    private readonly adapter: OnnxModelAdapter,
    private readonly softmaxValues: string[],
    readonly file: string,
    readonly name: string,
    extra: Record<string, unknown>,
    private readonly owns: boolean,
  ) {
    const [h, w, c] = adapter.inputShape;
    this.inputs = [{ kind: 'image', name: adapter.inputName, shape: [h, w, c] }];
    this.outputSize = adapter.outputSize;
    const scopes = nodeScopes(adapter.graph.nodes);
    const used = new Map<string, number>();
    this.layers = softmaxValues.map((v) => {
      const [, heads, q, k] = adapter.values.get(v)!.shape;
      const node = adapter.graph.producer.get(v)!;
      // Named as PyTorch names the module that computes it (`encoder.layers.encoder_layer_0.self_attention`).
      const module = scopes.get(node)?.modules.at(-1);
      const n = module === undefined ? 0 : (used.get(module) ?? 0) + 1;
      if (module !== undefined) used.set(module, n);
      const name = module === undefined ? node.name : n > 1 ? `${module} (${n})` : module;
      return { name, heads, queryTokens: q, keyTokens: k, cross: q !== k, querySide: adapter.inputName, keySide: adapter.inputName };
    });
    const self = this.layers.find((l) => !l.cross);
    const g = extra.patchGrid;
    if (Array.isArray(g) && g.length === 2 && g.every((x) => Number.isInteger(x) && x > 0)) {
      const grid: [number, number] = [g[0] as number, g[1] as number];
      const cls = typeof extra.clsToken === 'boolean' ? extra.clsToken : self?.queryTokens === grid[0] * grid[1] + 1;
      this.patches = { grid, cls };
    } else if (self) {
      this.patches = inferPatchGrid(self.queryTokens, [h, w]);
    }
  }

  private image(inputs: tf.Tensor[]): tf.Tensor4D {
    const x = inputs[0];
    if (inputs.length !== 1 || !x || x.rank !== 4) throw new UserError(`${this.name} takes one image [1, ${this.adapter.inputShape.join(', ')}]`);
    return tf.slice(x, [0, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
  }

  private forward(x: tf.Tensor4D, hooks?: Map<string, (t: tf.Tensor) => tf.Tensor>): { logits: tf.Tensor2D; probs: Val[] } {
    const a = this.adapter;
    const out = a.runtime.run(new Map([[a.inputName, { t: x, nhwc: true }]]), [a.logitsName, ...this.softmaxValues], { hooks });
    const l = out.get(a.logitsName)!;
    const lt = l.nhwc ? tf.transpose(l.t, [0, 3, 1, 2]) : l.t;
    return { logits: tf.reshape(lt, [1, -1]) as tf.Tensor2D, probs: this.softmaxValues.map((v) => out.get(v)!) };
  }

  capture(inputs: tf.Tensor[], opts: CaptureOptions = {}): AttentionCapture {
    const shapes = this.softmaxValues.map((v) => [1, ...this.adapter.values.get(v)!.shape.slice(1)]);
    const result = tf.tidy(() => {
      const x = this.image(inputs);
      const { logits, probs } = this.forward(x);
      const logical = probs.map((p) => (p.nhwc ? tf.transpose(p.t, [0, 3, 1, 2]) : p.t));
      return {
        probabilities: logical.map((p) => firstOf(p)),
        output: firstOf(applyHead(logits, this.adapter.headActivation)),
      };
    });
    if (opts.gradientTarget !== undefined) {
      const target = opts.gradientTarget;
      if (!Number.isInteger(target) || target < 0 || target >= this.outputSize) throw new UserError(`class ${target} is out of range (the model has ${this.outputSize} outputs)`);
      const space = opts.space ?? 'logit';
      const grads = tf.tidy(() => {
        const x = this.image(inputs);
        const zeros = shapes.map((s) => tf.zeros(s));
        const g = tf.grads((...zs: tf.Tensor[]) => {
          const hooks = new Map(this.softmaxValues.map((v, i) => [v, (p: tf.Tensor) => tf.add(p, zs[i])] as [string, (t: tf.Tensor) => tf.Tensor]));
          const { logits } = this.forward(x, hooks);
          const scores = space === 'logit' ? logits : applyHead(logits, this.adapter.headActivation);
          return tf.sum(tf.slice(scores, [0, target], [1, 1]));
        })(zeros);
        return g.map((t) => firstOf(t));
      });
      (result as AttentionCapture).gradients = grads;
    }
    return result;
  }

  dispose(): void {
    if (this.owns) this.adapter.dispose();
  }
}

/** The attention model over an adapter's graph, or the reason there is none ("needs …"). */
export function onnxAttention(adapter: OnnxModelAdapter, extra: Record<string, unknown>, owns = false, file = ''): OnnxAttentionModel | string {
  // The shapes were found with a batch of one image: a leading size above 1 is windowed attention
  // (Swin's [batch·windows, heads, q, k]), whose tokens are one window's, not the image's.
  const candidates = adapter.graph.nodes
    .filter((n) => n.opType === 'Softmax')
    .map((n) => n.outputs[0])
    .filter((v) => {
      const info = adapter.values.get(v);
      return info !== undefined && info.dynamic && info.shape.length === 4;
    });
  const softmax = candidates.filter((v) => adapter.values.get(v)!.shape[0] === 1);
  if (softmax.length === 0) {
    const windowed = candidates.length > 0 ? ` (its ${candidates.length} such outputs are windowed attention: several windows per image, as in Swin)` : '';
    return `needs Softmax nodes with a [batch, heads, queries, keys] output over the whole image (attention layers); ${adapter.graph.file} has none${windowed}`;
  }
  return new OnnxAttentionModel(adapter, softmax, file, path.basename(adapter.graph.file).replace(/\.onnx$/i, ''), extra, owns);
}

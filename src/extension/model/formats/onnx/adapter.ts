/**
 * The model adapter for ONNX image models (what torch.onnx.export writes): the graph runs as tfjs
 * ops through the runtime; layers are PyTorch module paths, each the output of the last node in
 * that module's scope; images arrive NHWC and are the NCHW input held channels-last.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../../../shared/errors';
import type { AttentionModel } from '../../../attention/attention-model';
import { layerNotFound } from '../../layer-info';
import { applyHead, targetScores } from '../../targets';
import type { GradientOptions, HeadActivation, LayerGradient, LayerInfo, ModelAdapter, Randomizer, ScoredGradient, Target } from '../../types';
import { onnxAttention } from './attention';
import { disposeGraph, type OnnxGraph, type OnnxNode } from './graph';
import { gapDenseHead } from './head';
import { ONNX_OPS } from './ops';
import type { OpTable } from './ops/op-types';
import { DataType } from './proto';
import { OnnxRandomizer, weightsRandomized } from './randomizer';
import type { OrtForward } from './ort-session';
import { logicalShape, OnnxRuntime, presentedNhwc, type Layout, type RunOptions, type Val } from './runtime';
import { nodeScopes } from './scopes';
import { safeLine } from '../../../util/excerpt';

/** Nodes that pass their input through at inference. */
const PASS_THROUGH = new Set(['Identity', 'Dropout', 'Flatten']);

export interface OnnxAdapterOptions {
  inputSize?: [number, number];
  /**
   * Metadata the file carries, under the files beside it (patchGrid, clsToken for attention;
   * outputActivation: the activation applied to an output that has none in the graph).
   */
  metadata?: Record<string, unknown>;
  ops?: OpTable;
  layout?: Layout;
}

interface ValueInfo {
  shape: number[];
  dtype: tf.DataType;
  /** The value depends on the image (not a constant subgraph). */
  dynamic: boolean;
}

function declaredActivation(metadata: Record<string, unknown> | undefined): HeadActivation | undefined {
  const a = metadata?.outputActivation;
  return a === 'softmax' || a === 'sigmoid' || a === 'linear' ? a : undefined;
}

export class OnnxModelAdapter implements ModelAdapter {
  readonly inputShape: [number, number, number];
  readonly outputSize: number;
  readonly headActivation: HeadActivation;
  readonly layers: readonly LayerInfo[];
  readonly reluOverride: string | undefined = undefined;
  readonly runtime: OnnxRuntime;
  /** The graph fixes its batch to 1: batches run one image at a time. */
  readonly fixedBatch: boolean;
  readonly inputName: string;
  /** The value the logits are (the head activation's input, else the output). */
  readonly logitsName: string;
  /** Logical shapes and dtypes of every value of a probe run (batch 1). */
  readonly values = new Map<string, ValueInfo>();
  /** Layer (module path) → value name. */
  private readonly layerValues = new Map<string, string>();
  private readonly layerClasses = new Map<string, string>();
  private randomizerCache?: OnnxRandomizer | string;
  private ortForward?: OrtForward;
  forwardUnavailable?: string;

  constructor(readonly graph: OnnxGraph, private readonly opts: OnnxAdapterOptions = {}) {
    const file = graph.file;
    if (graph.inputs.length !== 1) throw new UserError(`${file} has ${graph.inputs.length} inputs (${graph.inputs.map((i) => i.name).join(', ')}); one image input is expected`);
    if (!graph.outputs[0]) throw new UserError(`${file} declares no output: its graph's output list is ${graph.outputs.length === 0 ? 'empty' : 'an unnamed value'}`);
    const input = graph.inputs[0];
    this.inputName = input.name;
    const dims = input.dims;
    const isInt = input.elemType === DataType.INT64 || input.elemType === DataType.INT32;
    if (dims.length !== 4 || isInt) {
      const what = isInt ? `token ids (${input.elemType === DataType.INT64 ? 'int64' : 'int32'} [${dims.map((d) => d ?? '?').join(', ')}])` : `a rank-${dims.length} tensor [${dims.map((d) => d ?? '?').join(', ')}]`;
      throw new UserError(`${file} takes ${what}, not an image [batch, channels, height, width]; explanations need an image model (for a token model use Show Attention: xai-lens attention --tokens)`);
    }
    const [n, c, h, w] = dims;
    const num = (d: number | string | undefined) => (typeof d === 'number' ? d : undefined);
    const height = num(h) ?? opts.inputSize?.[0];
    const width = num(w) ?? opts.inputSize?.[1];
    if (height === undefined || width === undefined) throw new UserError(`${file} does not fix its input size (${h ?? '?'}×${w ?? '?'}); pass one with --size <h>x<w>`);
    const channels = num(c) ?? 3;
    if (channels !== 1 && channels !== 3) throw new UserError(`${file} expects ${channels} channels per pixel; images give 1 (gray) or 3 (RGB)`);
    if (typeof n === 'number' && n !== 1) throw new UserError(`${file} fixes its batch size to ${n}; export it with a dynamic batch axis (or batch 1)`);
    this.fixedBatch = n === 1;
    this.inputShape = [height, width, channels];
    this.runtime = new OnnxRuntime(graph, opts.ops ?? ONNX_OPS, opts.layout ?? 'nhwc');

    // The head: a final Softmax / Sigmoid (looking through pass-through nodes) is the head activation.
    let out = graph.producer.get(graph.outputs[0]);
    while (out && PASS_THROUGH.has(out.opType)) out = graph.producer.get(out.inputs[0]);
    if (out && (out.opType === 'Softmax' || out.opType === 'Sigmoid')) {
      this.headActivation = out.opType === 'Softmax' ? 'softmax' : 'sigmoid';
      this.logitsName = out.inputs[0];
    } else {
      this.headActivation = 'linear';
      this.logitsName = graph.outputs[0];
    }
    const graphHead = this.logitsName !== graph.outputs[0];

    this.probe();
    // The large weights are read now, into the memory the probe's temporaries used.
    graph.weights.materialize();
    const logits = this.values.get(this.logitsName);
    if (!logits) throw new UserError(`${file}: the output ${safeLine(this.logitsName)} is not computed from the image`);
    if (!logits.dynamic) throw new UserError(`${file}: the output ${safeLine(this.logitsName)} does not depend on the image (nothing connects the input ${safeLine(this.inputName)} to it)`);
    this.outputSize = logits.shape.slice(1).reduce((a, b) => a * b, 1);
    // PyTorch classifiers return logits and apply the softmax outside the model (in the loss, or
    // F.softmax at inference): with no head in the graph and several outputs, the probabilities
    // are the softmax of the outputs, unless the metadata says otherwise ("outputActivation").
    if (!graphHead) this.headActivation = declaredActivation(opts.metadata) ?? (this.outputSize > 1 ? 'softmax' : 'linear');
    this.layers = this.describeLayers();
  }

  /**
   * One run on a zero image, recording every value's logical shape and dtype. It runs before the
   * large weights are read (they are zeros of their shape here: values never decide a shape), each
   * node's temporaries freed as it finishes, so loading holds little beyond the weights.
   */
  private probe(): void {
    const dynamic = new Set<string>([this.inputName]);
    for (const node of this.graph.nodes) if (node.inputs.some((i) => dynamic.has(i))) node.outputs.forEach((o) => o && dynamic.add(o));
    tf.tidy(() => {
      const x = tf.zeros([1, ...this.inputShape]);
      // Every node runs (each is upstream of a value nobody reads), and observe sees each value
      // as it is made, so only the unread values are targets: the rest are freed after their
      // last reader instead of the whole network's activations being held at once.
      const all = this.graph.nodes.flatMap((n) => n.outputs.filter((o) => o !== '' && !this.graph.consumers.has(o)));
      const observe: RunOptions['observe'] = (name, v) => this.values.set(name, { shape: logicalShape(v), dtype: v.t.dtype, dynamic: dynamic.has(name) });
      try {
        this.runtime.run(new Map([[this.inputName, { t: x, nhwc: true }]]), all, { observe, probe: true });
      } catch (err) {
        if (err instanceof UserError) throw new UserError(`${this.graph.file}: ${err.message}`);
        throw new UserError(`${this.graph.file} does not run on a ${this.inputShape[0]}×${this.inputShape[1]} image: ${(err as Error).message.split('\n')[0]}`);
      }
    });
    this.values.set(this.inputName, { shape: [1, this.inputShape[2], this.inputShape[0], this.inputShape[1]], dtype: 'float32', dynamic: true });
  }

  private isFeature(name: string): boolean {
    const v = this.values.get(name);
    return v !== undefined && v.dynamic && v.dtype === 'float32' && this.leadsToLogits(name);
  }

  private upstream?: Set<string>;
  /** Whether the logits are computed from `value` (a layer must be, for a gradient to reach it). */
  private leadsToLogits(value: string): boolean {
    this.upstream ??= new Set([this.inputName, ...this.runtime.plan([this.logitsName], new Set([this.inputName])).flatMap((n) => n.outputs)]);
    return this.upstream.has(value);
  }

  /** Module paths resolved to the last node of their scope; node names when the export has no scopes. */
  private describeLayers(): LayerInfo[] {
    const scopes = nodeScopes(this.graph.nodes);
    const last = new Map<string, OnnxNode>();
    const depth = new Map<string, number>();
    for (const node of this.graph.nodes) {
      if (!this.isFeature(node.outputs[0])) continue;
      const s = scopes.get(node);
      s?.modules.forEach((m, i) => {
        last.set(m, node);
        depth.set(m, i);
        const cls = s.classes[i];
        if (cls) this.layerClasses.set(m, cls);
      });
    }
    let entries: [string, OnnxNode][] = [...last];
    if (entries.length === 0) entries = this.graph.nodes.filter((n) => this.isFeature(n.outputs[0])).map((n) => [n.name, n]);
    // Execution order; modules ending at the same node: the innermost first, the enclosing ones after.
    entries.sort((a, b) => a[1].index - b[1].index || (depth.get(b[0]) ?? 0) - (depth.get(a[0]) ?? 0));
    return entries.map(([name, node]) => {
      this.layerValues.set(name, node.outputs[0]);
      return this.info(name, node.outputs[0], this.layerClasses.get(name) ?? node.opType);
    });
  }

  private info(name: string, value: string, className: string): LayerInfo {
    const s = this.values.get(value)!.shape;
    const shape = s.length === 4 ? [s[0], s[2], s[3], s[1]] : s;
    return { name, className, outputShape: [null, ...shape.slice(1)], spatial: shape.length === 4 && shape[1] > 1 && shape[2] > 1 };
  }

  /** The value a layer name stands for: a module path, a node name or a tensor name. */
  valueOf(layer: string): string {
    const v = this.layerValues.get(layer);
    if (v !== undefined) return v;
    if (this.values.has(layer) && this.values.get(layer)!.dtype === 'float32') return layer;
    const node = this.graph.nodes.find((n) => n.name === layer);
    if (node && this.values.has(node.outputs[0])) return node.outputs[0];
    throw layerNotFound(layer, this.layers);
  }

  /** A LayerInfo for any accepted name (module, node, tensor). */
  layerInfo(layer: string): LayerInfo {
    const known = this.layers.find((l) => l.name === layer);
    if (known) return known;
    const value = this.valueOf(layer);
    return this.info(layer, value, this.graph.producer.get(value)?.opType ?? 'Input');
  }

  defaultLayer(): string | undefined {
    // The last spatial value; of the modules ending there, the outermost (layer4, not layer4.1.relu).
    for (let i = this.layers.length - 1; i >= 0; i--) {
      if (!this.layers[i].spatial) continue;
      const value = this.layerValues.get(this.layers[i].name);
      const same = this.layers.filter((l) => this.layerValues.get(l.name) === value);
      return same.reduce((a, b) => (b.name.split('.').length < a.name.split('.').length ? b : a)).name;
    }
    return undefined;
  }

  private feeds(x: tf.Tensor4D): Map<string, Val> {
    if (x.rank !== 4 || x.shape[1] !== this.inputShape[0] || x.shape[2] !== this.inputShape[1] || x.shape[3] !== this.inputShape[2]) {
      throw new UserError(`${this.graph.file} takes [batch, ${this.inputShape.join(', ')}] images, got [${x.shape.join(', ')}]`);
    }
    return new Map([[this.inputName, { t: x, nhwc: true }]]);
  }

  /** Runs `f` per image when the graph fixes its batch to 1, concatenating each result along axis 0. */
  private batched<T extends tf.Tensor[]>(x: tf.Tensor4D, f: (xi: tf.Tensor4D) => T): T {
    if (!this.fixedBatch || x.shape[0] === 1) return f(x);
    const parts = Array.from({ length: x.shape[0] }, (_, i) => f(tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1])));
    return parts[0].map((_, j) => tf.concat(parts.map((p) => p[j]), 0)) as T;
  }

  private logitsOf(feeds: Map<string, Val>, opts: RunOptions = {}): tf.Tensor2D {
    const out = this.runtime.run(feeds, [this.logitsName], opts).get(this.logitsName)!;
    const t = out.nhwc ? tf.transpose(out.t, [0, 3, 1, 2]) : out.t;
    return (t.rank === 2 ? t : tf.reshape(t, [t.shape[0], -1])) as tf.Tensor2D;
  }

  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.batched(x, (xi) => [this.logitsOf(this.feeds(xi))])[0]);
  }

  probabilities(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => applyHead(this.logits(x), this.headActivation));
  }

  score(x: tf.Tensor4D, target: Target): tf.Tensor1D {
    return tf.tidy(() => targetScores(this.logits(x), this.headActivation, target));
  }

  activations(x: tf.Tensor4D, layer: string): tf.Tensor {
    const value = this.valueOf(layer);
    return tf.tidy(() => this.batched(x, (xi) => [presentedNhwc(this.runtime.run(this.feeds(xi), [value]).get(value)!)])[0]);
  }

  inputGradient(x: tf.Tensor4D, target: Target, opts: GradientOptions = {}): ScoredGradient {
    return tf.tidy(() => {
      const [grad, scores] = this.batched(x, (xi) => {
        const f = () => targetScores(this.logitsOf(this.feeds(xi), opts), this.headActivation, target);
        const { value, grads } = tf.engine().gradients(f, [xi]);
        return [grads[0], value];
      });
      return { grad, scores: scores as tf.Tensor1D };
    });
  }

  /** Values computed before the cut that the nodes downstream of it read (skip connections, shapes). */
  private boundaryOf(value: string): string[] {
    const downstream = new Set<OnnxNode>();
    const produced = new Set<string>([value]);
    const need = new Set(this.runtime.plan([this.logitsName], new Set([this.inputName])));
    for (const node of this.graph.nodes) {
      if (!need.has(node) || !node.inputs.some((i) => produced.has(i))) continue;
      downstream.add(node);
      node.outputs.forEach((o) => produced.add(o));
    }
    const boundary = new Set<string>();
    for (const node of downstream) {
      for (const i of node.inputs) if (i && !produced.has(i) && !this.runtime.constantOf(i)) boundary.add(i);
    }
    return [...boundary];
  }

  layerGradient(x: tf.Tensor4D, layer: string, target: Target, opts: GradientOptions = {}): LayerGradient {
    const value = this.valueOf(layer);
    if (!this.leadsToLogits(value)) throw new UserError(`${this.graph.file}: the output is not computed from ${safeLine(layer)}, so no gradient reaches it; pick a layer on the way from the image to the output`);
    const boundary = this.boundaryOf(value).filter((b) => b !== value);
    return tf.tidy(() => {
      const [activation, grad, scores] = this.batched(x, (xi) => {
        // One forward pass to the cut (and the values that bypass it), then only the nodes
        // downstream of the cut run again, under the tape.
        const feeds = this.feeds(xi);
        const upstream = this.runtime.run(feeds, [value, ...boundary], opts);
        const cut = upstream.get(value)!;
        const a = presentedNhwc(cut);
        const f = () => {
          const down = new Map<string, Val>(boundary.map((b) => [b, upstream.get(b)!]));
          if (feeds.has(this.inputName) && !down.has(this.inputName)) down.set(this.inputName, feeds.get(this.inputName)!);
          down.set(value, { t: a, nhwc: a.rank === 4 });
          return targetScores(this.logitsOf(down, opts), this.headActivation, target);
        };
        const { value: s, grads } = tf.engine().gradients(f, [a]);
        return [a, grads[0], s];
      });
      return { activation, grad, scores: scores as tf.Tensor1D };
    });
  }

  gapDenseHead(layer: string): { weights: tf.Tensor2D } | string {
    return gapDenseHead(this, layer);
  }

  randomizer(): Randomizer | string {
    this.randomizerCache ??= OnnxRandomizer.of(this);
    return this.randomizerCache;
  }

  attention(): AttentionModel | string {
    return onnxAttention(this, this.opts.metadata ?? {});
  }

  /** The module scope classes known for a layer (PyTorch class names from the dynamo exporter). */
  layerClass(layer: string): string | undefined {
    return this.layerClasses.get(layer);
  }

  /** Module path → value, for the randomizer and the attention facet. */
  layerValue(layer: string): string | undefined {
    return this.layerValues.get(layer);
  }

  /**
   * Forward-only passes through onnxruntime-node (set by the format's load, see ort-session.ts);
   * none while a sanity check holds the weights: the session has the trained ones.
   */
  get forward(): OrtForward | undefined {
    return this.ortForward && !weightsRandomized(this.graph) ? this.ortForward : undefined;
  }

  set forward(f: OrtForward | undefined) {
    this.ortForward = f;
  }

  dispose(): void {
    this.ortForward?.dispose();
    this.runtime.disposeDerived();
    disposeGraph(this.graph);
  }
}

/**
 * The model adapter for TF.js graph models (TensorFlow SavedModels converted to TF.js). Nodes play
 * the part of layers: activations are `execute(x, node)`, and the rest of the graph runs from a
 * node by feeding it together with the input (branches that bypass the node still see the input).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel as TfjsGraphModel } from '@tensorflow/tfjs-converter';

/** A graph model however it was loaded (from a handler, or from artifacts already read). */
export type GraphModel = TfjsGraphModel<string | tf.io.IOHandler | tf.io.IOHandlerSync>;
import { UserError } from '../../shared/errors';
import { applyHead, targetScores } from './targets';
import { lastSpatialLayer, layerNotFound } from './layer-info';
import type { GradientOptions, HeadActivation, LayerGradient, LayerInfo, ModelAdapter, Randomizer, ScoredGradient, Target } from './types';
import type { AttentionModel } from '../attention/attention-model';
import { safeLine } from '../util/excerpt';

interface GraphNode {
  name: string;
  op: string;
  inputs: GraphNode[];
  /** The nodes that read this one. */
  children: GraphNode[];
  /** Parsed attributes, by their tfjs names (`keepDims`, `transposeB`, `fusedOps`, …). */
  attrParams: Record<string, { value?: unknown }>;
}

const NOT_A_LAYER = new Set(['Const', 'Placeholder', 'NoOp', 'Identity', 'IdentityN', 'StopGradient']);

function graphNodes(model: GraphModel): Record<string, GraphNode> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const graph = (model as any).executor?.graph;
  if (!graph?.nodes) throw new Error('unexpected GraphModel internals: no executor graph');
  return graph.nodes as Record<string, GraphNode>;
}

const baseName = (n: string) => n.replace(/:\d+$/, '');

/** Ops that pass their input through unchanged. */
const PASS_THROUGH = new Set(['Identity', 'IdentityN', 'StopGradient']);

export class GraphModelAdapter implements ModelAdapter {
  readonly reluOverride = 'changes the ReLU backward rule, which XAI Lens cannot do in a TF.js graph model (its ReLUs are fused into frozen ops); load the Keras, ONNX or TF.js layers version of the model';
  readonly inputShape: [number, number, number];
  readonly outputSize: number;
  readonly headActivation: HeadActivation;
  readonly layers: readonly LayerInfo[];
  private readonly inputName: string;
  private readonly logitsNode: string;

  constructor(
    readonly model: GraphModel,
    inputSize?: [number, number],
  ) {
    if (model.inputs.length !== 1) throw new UserError(`models with ${model.inputs.length} inputs are not supported (one image input expected)`);
    const nodes = graphNodes(model);
    this.inputName = model.inputs[0].name;
    const shape = model.inputs[0].shape ?? [-1, -1, -1, 3];
    if (shape.length !== 4) throw new UserError(`the model's input has shape [${shape.join(', ')}]; an image input [batch, height, width, channels] is expected`);
    const dim = (d: number | undefined, alt: number | undefined) => (d !== undefined && d > 0 ? d : alt);
    const h = dim(shape[1], inputSize?.[0]);
    const w = dim(shape[2], inputSize?.[1]);
    const c = dim(shape[3], 3)!;
    if (h === undefined || w === undefined) throw new UserError('the model does not fix its input size; pass one with --size <h>x<w>');
    if (c !== 1 && c !== 3) throw new UserError(`the model expects ${c} channels per pixel; images give 1 (gray) or 3 (RGB)`);
    this.inputShape = [h, w, c];

    // The logits are the input of a final Softmax / Sigmoid (looking through Identity nodes).
    let out = nodes[baseName(model.outputs[0].name)];
    while (out && (out.op === 'Identity' || out.op === 'IdentityN') && out.inputs.length > 0) out = out.inputs[0];
    if (out && (out.op === 'Softmax' || out.op === 'Sigmoid') && out.inputs.length > 0) {
      this.headActivation = out.op === 'Softmax' ? 'softmax' : 'sigmoid';
      this.logitsNode = out.inputs[0].name;
    } else {
      this.headActivation = 'linear';
      this.logitsNode = model.outputs[0].name;
    }

    // Layers are the nodes on a path from the image to the logits: a gradient reaches only those.
    const fromInput = this.dependentsOf(nodes, baseName(this.inputName));
    if (!fromInput.has(baseName(this.logitsNode))) throw new UserError(`the model's output ${safeLine(this.logitsNode)} does not depend on its input ${safeLine(this.inputName)}`);
    const order = this.topologicalOrder(nodes, baseName(this.logitsNode)).filter((n) => fromInput.has(n.name));
    const shapes = this.probe(order.map((n) => n.name));
    this.layers = order
      .filter((n) => shapes.has(n.name))
      .map((n) => {
        const s = shapes.get(n.name)!;
        return { name: n.name, className: n.op, outputShape: [null, ...s.slice(1)], spatial: s.length === 4 && s[1] > 1 && s[2] > 1 };
      });
    const logits = shapes.get(baseName(this.logitsNode)) ?? [];
    this.outputSize = logits.length === 2 ? logits[1] : logits.slice(1).reduce((a, b) => a * b, 1);
  }

  private topologicalOrder(nodes: Record<string, GraphNode>, output: string): GraphNode[] {
    const seen = new Set<string>();
    const order: GraphNode[] = [];
    // Iterative DFS: graphs of real models are deep enough to overflow a recursive one.
    const stack: [GraphNode, number][] = [[nodes[output], 0]];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [node, i] = top;
      if (i === 0 && seen.has(node.name)) { stack.pop(); continue; }
      seen.add(node.name);
      if (i < node.inputs.length) {
        top[1]++;
        if (!seen.has(node.inputs[i].name)) stack.push([node.inputs[i], 0]);
      } else {
        stack.pop();
        if (!NOT_A_LAYER.has(node.op)) order.push(node);
      }
    }
    return order;
  }

  /** The nodes computed from `source` (and those that only wait for it, `^control` inputs: the gradient probe finds those). */
  private dependentsOf(nodes: Record<string, GraphNode>, source: string): Set<string> {
    const reached = new Set<string>([source]);
    const queue = [source];
    while (queue.length > 0) {
      const node = nodes[queue.pop()!];
      for (const child of node?.children ?? []) {
        if (reached.has(child.name)) continue;
        reached.add(child.name);
        queue.push(child.name);
      }
    }
    return reached;
  }

  /**
   * Output shapes of nodes, from one probe run on a zero image (in small groups), and one input
   * gradient: a graph that cannot run or be differentiated on its own input fails here, in words.
   */
  private probe(names: string[]): Map<string, number[]> {
    const shapes = new Map<string, number[]>();
    const x = tf.zeros([1, ...this.inputShape]) as tf.Tensor4D;
    const [h, w] = this.inputShape;
    try {
      for (let i = 0; i < names.length; i += 32) {
        const group = names.slice(i, i + 32);
        const outs = this.model.execute({ [this.inputName]: x }, group) as tf.Tensor | tf.Tensor[];
        const list = Array.isArray(outs) ? outs : [outs];
        list.forEach((t, j) => shapes.set(group[j], t.shape));
        tf.dispose(list);
      }
      tf.tidy(() => {
        const f = () => tf.sum(this.logitsFrom({ [this.inputName]: x }));
        tf.engine().gradients(f, [x]);
      });
    } catch (err) {
      const message = safeLine((err instanceof Error ? err.message : String(err)).split('\n')[0], 300);
      // JavaScript's own errors come from tfjs reading a node of a shape it did not expect.
      if (err instanceof TypeError || err instanceof RangeError) throw new UserError(`the graph is malformed: TensorFlow.js could not run it on a ${h}×${w} image (${err.name}: ${message})`);
      throw new UserError(`the graph does not run on a ${h}×${w} image: ${message}`);
    } finally {
      x.dispose();
    }
    return shapes;
  }

  defaultLayer(): string | undefined {
    return lastSpatialLayer(this.layers);
  }

  private checkLayer(layer: string): void {
    if (!this.layers.some((l) => l.name === layer)) throw layerNotFound(layer, this.layers);
  }

  private run(feeds: tf.NamedTensorMap, output: string): tf.Tensor {
    return this.model.execute(feeds, output) as tf.Tensor;
  }

  private logitsFrom(feeds: tf.NamedTensorMap): tf.Tensor2D {
    const out = this.run(feeds, this.logitsNode);
    return (out.rank === 2 ? out : tf.reshape(out, [out.shape[0], -1])) as tf.Tensor2D;
  }

  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.logitsFrom({ [this.inputName]: x }));
  }

  probabilities(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => applyHead(this.logits(x), this.headActivation));
  }

  score(x: tf.Tensor4D, target: Target): tf.Tensor1D {
    return tf.tidy(() => targetScores(this.logits(x), this.headActivation, target));
  }

  activations(x: tf.Tensor4D, layer: string): tf.Tensor {
    this.checkLayer(layer);
    return tf.tidy(() => this.run({ [this.inputName]: x }, layer));
  }

  private unsupported(opts: GradientOptions): void {
    if (opts.reluBackward) throw new UserError(`Guided Backprop ${this.reluOverride}`);
  }

  randomizer(): Randomizer | string {
    return 'sanity checks re-initialise layers, and a TF.js graph model has none (its weights are constants frozen into the graph); load the Keras, ONNX or TF.js layers version of the model';
  }

  attention(): AttentionModel | string {
    return 'needs MultiHeadAttention layers of a layers model; this is a graph model (for the attention of its Softmax nodes, use the Attention tab or `xai-lens attention`)';
  }

  inputGradient(x: tf.Tensor4D, target: Target, opts: GradientOptions = {}): ScoredGradient {
    this.unsupported(opts);
    return tf.tidy(() => {
      const f = () => targetScores(this.logitsFrom({ [this.inputName]: x }), this.headActivation, target);
      const { value, grads } = tf.engine().gradients(f, [x]);
      return { grad: grads[0], scores: value as tf.Tensor1D };
    });
  }

  layerGradient(x: tf.Tensor4D, layer: string, target: Target, opts: GradientOptions = {}): LayerGradient {
    this.unsupported(opts);
    this.checkLayer(layer);
    return tf.tidy(() => {
      const activation = this.run({ [this.inputName]: x }, layer);
      const f = () => targetScores(this.logitsFrom({ [this.inputName]: x, [layer]: activation }), this.headActivation, target);
      const { value, grads } = tf.engine().gradients(f, [activation]);
      return { activation, grad: grads[0], scores: value as tf.Tensor1D };
    });
  }

  /**
   * Accepts what a converted Keras GlobalAveragePooling2D → Dense head becomes: Mean over axes
   * [1, 2] (or a keep-dims Mean then Squeeze / Reshape), MatMul with a constant kernel, optionally
   * BiasAdd (or the converter's _FusedMatMul with a fused BiasAdd), and that is the logits node.
   */
  gapDenseHead(layer: string): { weights: tf.Tensor2D } | string {
    this.checkLayer(layer);
    const nodes = graphNodes(this.model);
    const why = (what: string) => `needs a GlobalAveragePooling2D → Dense head after "${layer}"; ${what}`;
    const name = (n: GraphNode) => `${n.op} "${n.name}"`;
    const logits = baseName(this.logitsNode);
    /** The one node reading `n` (looking through Identity nodes), or the reason there is not exactly one. */
    const soleReader = (n: GraphNode, what: string): GraphNode | string => {
      for (;;) {
        const readers = [...new Map(n.children.map((c) => [c.name, c])).values()];
        if (readers.length === 0 || n.name === logits) return why(`${what} is the model's output`);
        if (readers.length > 1) return why(`${what} feeds ${readers.length} nodes (${readers.map(name).join(', ')})`);
        if (!PASS_THROUGH.has(readers[0].op)) return readers[0];
        n = readers[0];
      }
    };
    /** The value of a constant input (looking through Identity nodes). */
    const constant = (n: GraphNode | undefined): tf.Tensor | undefined => {
      while (n && PASS_THROUGH.has(n.op)) n = n.inputs[0];
      return n?.op === 'Const' ? this.model.weights[n.name]?.[0] : undefined;
    };

    let node = soleReader(nodes[layer], 'it');
    if (typeof node === 'string') return node;
    if (node.op !== 'Mean') return why(`it is followed by ${name(node)}`);
    const mean = node;
    const axes = constant(mean.inputs[1]);
    const axisList = axes ? [...axes.dataSync()].map((a) => (a < 0 ? a + 4 : a)).sort((a, b) => a - b) : [];
    if (axisList.join() !== '1,2') return why(`${name(mean)} does not average over the spatial axes [1, 2]`);
    node = soleReader(mean, name(mean));
    if (typeof node === 'string') return node;
    // A keep-dims Mean gives [batch, 1, 1, channels]; a Squeeze / Reshape makes it [batch, channels].
    while (mean.attrParams.keepDims?.value === true && (node.op === 'Squeeze' || node.op === 'Reshape')) {
      node = soleReader(node, name(node));
      if (typeof node === 'string') return node;
    }
    const fusedOps = node.op === '_FusedMatMul' ? ((node.attrParams.fusedOps?.value as string[] | undefined) ?? []) : [];
    const fusedBiasOnly = fusedOps.every((op) => op.toLowerCase() === 'biasadd');
    if ((node.op !== 'MatMul' && node.op !== '_FusedMatMul') || !fusedBiasOnly) return why(`${name(mean)} is followed by ${name(node)}, not by MatMul (+ BiasAdd)`);
    const matMul = node;
    const kernel = constant(matMul.inputs[1]);
    if (!kernel || kernel.rank !== 2 || matMul.attrParams.transposeA?.value === true) {
      return why(`${name(matMul)} does not multiply the pooled features by a constant kernel`);
    }
    if (matMul.name !== logits) {
      const bias = soleReader(matMul, name(matMul));
      if (typeof bias === 'string') return bias;
      const isBias = bias.op === 'BiasAdd' || ((bias.op === 'Add' || bias.op === 'AddV2') && bias.inputs.some((i) => constant(i) !== undefined));
      if (!isBias || bias.name !== logits) return why(`${name(matMul)} is followed by ${name(bias)} before the logits`);
    }
    const transposed = matMul.attrParams.transposeB?.value === true;
    const channels = this.layers.find((l) => l.name === layer)!.outputShape[3];
    const weights = transposed ? tf.transpose(kernel) : tf.clone(kernel);
    if (weights.shape[0] !== channels || weights.shape[1] !== this.outputSize) {
      weights.dispose();
      return why(`${name(matMul)} has a [${kernel.shape.join(', ')}] kernel, not [${channels}, ${this.outputSize}]`);
    }
    return { weights: weights as tf.Tensor2D };
  }

  dispose(): void {
    this.model.dispose();
  }
}

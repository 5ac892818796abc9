/**
 * The sanity checks' randomizer for ONNX models: the initializers grouped into PyTorch modules
 * (a conv and the batch norm after it are one block, as for Keras models), re-initialised the way
 * PyTorch initialises a fresh module of that type, and restored bit for bit.
 *
 * Owner of an initializer: its own name when it is a PyTorch parameter path (`layer1.0.conv1.weight`
 * → `layer1.0.conv1`), else the innermost module of the node that reads it, else that node.
 * The TorchScript exporter folds batch norms into the convolutions' weights: then there is no
 * batch-norm block, only the conv (whose weights now include the norm).
 *
 * Fresh values (seeded per seed, block and weight with `weightSeed`):
 * - Conv / Linear (Gemm, MatMul) weights and their biases: kaiming_uniform(a=√5), i.e.
 *   U(−1/√fan_in, 1/√fan_in), the bias with its weight's fan_in;
 * - BatchNormalization: scale 1, bias 0, running mean 0, running variance 1;
 * - LayerNormalization / InstanceNormalization: scale 1, bias 0;
 * - anything else (class tokens, position embeddings, …): a truncated normal with the original's
 *   mean and standard deviation.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../../../shared/errors';
import { weightSeed } from '../../weight-seed';
import type { RandomizableBlock, Randomizer, WeightSnapshot } from '../../types';
import type { OnnxModelAdapter } from './adapter';
import type { OnnxGraph, OnnxNode } from './graph';
import { nodeScopes } from './scopes';

type Rule =
  | { kind: 'uniform'; fanIn: number }
  | { kind: 'fill'; value: number }
  | { kind: 'truncated' };

interface Weight {
  name: string;
  rule: Rule;
}

interface Block extends RandomizableBlock {
  weights: Weight[];
  /** Topological index of the last node reading the block's weights. */
  last: number;
}

/** Inputs that are settings, not parameters. */
const NOT_PARAMETERS: Readonly<Record<string, (i: number) => boolean>> = {
  Clip: (i) => i >= 1,
  Resize: (i) => i >= 1,
  Upsample: (i) => i >= 1,
  Pad: (i) => i >= 1,
  Reshape: (i) => i >= 1,
  Expand: (i) => i >= 1,
  Slice: (i) => i >= 1,
  Gather: (i) => i >= 1,
  ReduceMean: (i) => i >= 1,
  Squeeze: (i) => i >= 1,
  Unsqueeze: (i) => i >= 1,
  ConstantOfShape: () => true,
  Tile: (i) => i >= 1,
  Split: (i) => i >= 1,
};

const PARAM_NAME = /^[A-Za-z_][\w]*(\.[\w]+)*\.(weight|bias|running_mean|running_var|weight_bias|in_proj_weight|in_proj_bias)$/;

/** Models whose snapshot is held: two checks randomizing one model would corrupt each other. */
const busy = new WeakSet<OnnxGraph>();

/** Whether a sanity check holds the graph's weights (they may be re-initialised). */
export function weightsRandomized(graph: OnnxGraph): boolean {
  return busy.has(graph);
}

export class OnnxRandomizer implements Randomizer {
  readonly initialization: string;

  private constructor(private readonly graph: OnnxGraph, readonly blocks: readonly Block[], folded: boolean) {
    this.initialization = `PyTorch's default initialisation per layer type: conv and linear weights and biases U(−1/√fan_in, 1/√fan_in) (kaiming_uniform, a=√5), batch norms 1/0 with running statistics 0/1, layer norms 1/0, anything else a truncated normal with the trained weight's mean and spread${folded ? '; this export folded its batch norms into the convolutions, so each conv block re-initialises the folded weights' : ''}`;
  }

  static of(adapter: OnnxModelAdapter): OnnxRandomizer | string {
    const { graph } = adapter;
    const scopes = nodeScopes(graph.nodes);
    const blocks = new Map<string, Block>();
    const blockOfWeight = new Map<string, Block>();
    const readersOf = (w: string) => (graph.consumers.get(w) ?? []);
    const isParameter = (w: string) => {
      const t = graph.weights.get(w)!;
      if (t.dtype !== 'float32') return false;
      const readers = readersOf(w);
      if (readers.length === 0) return false;
      return readers.some((n) => n.inputs.some((i, k) => i === w && !(NOT_PARAMETERS[n.opType]?.(k) ?? false))) && (t.size > 1 || readers.some((n) => ['Conv', 'ConvTranspose', 'Gemm', 'BatchNormalization', 'LayerNormalization'].includes(n.opType)));
    };
    const ownerOf = (w: string, reader: OnnxNode): string => {
      if (PARAM_NAME.test(w)) return w.slice(0, w.lastIndexOf('.'));
      const mods = scopes.get(reader)?.modules ?? [];
      if (mods.length > 0) return mods[mods.length - 1];
      return w;
    };
    const bnInputs = new Map<string, OnnxNode>(); // BN scale/bias/mean/var → the BN node
    for (const n of graph.nodes) if (n.opType === 'BatchNormalization') n.inputs.slice(1, 5).forEach((i) => bnInputs.set(i, n));

    for (const n of graph.nodes) {
      n.inputs.forEach((w) => {
        if (!w || !graph.weights.has(w) || blockOfWeight.has(w) || !isParameter(w)) return;
        let owner = ownerOf(w, n);
        // A batch norm right after a conv joins the conv's block.
        const bn = bnInputs.get(w);
        if (bn) {
          const p = graph.producer.get(bn.inputs[0]);
          const convW = p?.opType === 'Conv' ? p.inputs[1] : undefined;
          const convBlock = convW ? blockOfWeight.get(convW) : undefined;
          if (convBlock) owner = convBlock.name;
        }
        let block = blocks.get(owner);
        if (!block) {
          block = { name: owner, layers: [], weights: [], last: -1 };
          blocks.set(owner, block);
        }
        const layerName = scopes.get(n)?.modules.at(-1) ?? (PARAM_NAME.test(w) ? w.slice(0, w.lastIndexOf('.')) : n.name);
        if (!block.layers.includes(layerName)) block.layers.push(layerName);
        block.weights.push({ name: w, rule: ruleOf(graph, w, n) });
        block.last = Math.max(block.last, ...readersOf(w).map((r) => r.index));
        blockOfWeight.set(w, block);
      });
    }
    const list = [...blocks.values()].sort((a, b) => b.last - a.last);
    if (list.length === 0) return `${graph.file} has no weights to re-initialise`;
    const folded = !graph.nodes.some((n) => n.opType === 'BatchNormalization') && graph.nodes.some((n) => n.opType === 'Conv');
    return new OnnxRandomizer(graph, list, folded);
  }

  snapshot(): WeightSnapshot {
    if (busy.has(this.graph)) throw new UserError('a sanity check is already running on this model; wait for it to finish or cancel it');
    busy.add(this.graph);
    const weights = this.graph.weights;
    const originals = new Map<string, tf.Tensor>();
    for (const b of this.blocks) for (const w of b.weights) originals.set(w.name, weights.get(w.name)!);
    let released = false;
    const put = (name: string, t: tf.Tensor) => {
      const current = weights.get(name);
      if (current && current !== originals.get(name)) current.dispose();
      weights.set(name, t);
    };
    return {
      reinitialize: (index, seed) => {
        if (released) throw new Error('the weight snapshot was released');
        const block = this.blocks[index];
        if (!block) throw new Error(`no randomizable block ${index}`);
        block.weights.forEach((w, i) => put(w.name, fresh(this.graph, w.name, originals.get(w.name)!, w.rule, weightSeed(seed, block.name, i))));
      },
      restore: (index) => {
        const block = this.blocks[index];
        if (!block) throw new Error(`no randomizable block ${index}`);
        for (const w of block.weights) put(w.name, originals.get(w.name)!);
      },
      release: () => {
        if (released) return;
        released = true;
        for (const [name, t] of originals) put(name, t);
        busy.delete(this.graph);
      },
    };
  }
}

/** The fan_in of a Conv / Gemm / MatMul weight. */
function fanIn(graph: OnnxGraph, node: OnnxNode, w: tf.Tensor): number | undefined {
  if (node.opType === 'Conv' || node.opType === 'ConvTranspose') {
    if (!graph.weights.has(node.inputs[1])) return undefined;
    // In PyTorch's layout, whichever layout the graph holds the weight in.
    const [out, inPerGroup, ...k] = graph.weights.onnxShape(node.inputs[1]);
    // ConvTranspose weights are [in, out/groups, …]: PyTorch's fan_in is computed on dim 1 there.
    return (node.opType === 'Conv' ? inPerGroup : out / Math.max(1, typeof node.attrs.group === 'number' ? node.attrs.group : 1)) * k.reduce((a, b) => a * b, 1);
  }
  if (node.opType === 'Gemm') {
    const b = graph.weights.get(node.inputs[1]);
    if (!b || b.rank !== 2) return undefined;
    return node.attrs.transB === 1 ? b.shape[1] : b.shape[0];
  }
  if (node.opType === 'MatMul') {
    const b = graph.weights.get(node.inputs[1]) ?? w;
    return b.rank >= 2 ? b.shape[b.rank - 2] : b.shape[0];
  }
  return undefined;
}

function ruleOf(graph: OnnxGraph, w: string, reader: OnnxNode): Rule {
  const t = graph.weights.get(w)!;
  const slot = reader.inputs.indexOf(w);
  switch (reader.opType) {
    case 'Conv':
    case 'ConvTranspose':
    case 'Gemm':
    case 'MatMul': {
      const f = fanIn(graph, reader, t);
      if (f && f > 0) return { kind: 'uniform', fanIn: f };
      break;
    }
    case 'BatchNormalization':
      return { kind: 'fill', value: slot === 1 || slot === 4 ? 1 : 0 };
    case 'LayerNormalization':
    case 'InstanceNormalization':
      return { kind: 'fill', value: slot === 1 ? 1 : 0 };
    case 'Add': {
      // Linear's bias after a MatMul (dynamo and TorchScript both split Linear so).
      const other = reader.inputs.find((i) => i !== w);
      const mm = other ? graph.producer.get(other) : undefined;
      if (mm?.opType === 'MatMul' && t.rank === 1) {
        const f = fanIn(graph, mm, t);
        if (f && f > 0) return { kind: 'uniform', fanIn: f };
      }
      break;
    }
    default:
      break;
  }
  return { kind: 'truncated' };
}

/**
 * Fresh values for the weight `name`, drawn in PyTorch's layout (so a seed gives the same values
 * whatever layout the graph holds the weight in) and handed back in the layout it is held in.
 */
function fresh(graph: OnnxGraph, name: string, original: tf.Tensor, rule: Rule, seed: number): tf.Tensor {
  if (rule.kind === 'fill') return tf.fill(original.shape, rule.value, 'float32');
  const shape = graph.weights.onnxShape(name);
  return tf.tidy(() => {
    if (rule.kind === 'uniform') {
      const bound = 1 / Math.sqrt(rule.fanIn);
      return graph.weights.fromOnnx(name, tf.randomUniform(shape, -bound, bound, 'float32', seed));
    }
    const { mean, variance } = tf.moments(original);
    const [m, s2] = [mean.dataSync()[0], variance.dataSync()[0]];
    return graph.weights.fromOnnx(name, tf.truncatedNormal(shape, m, Math.sqrt(s2) || 0.02, 'float32', seed));
  });
}

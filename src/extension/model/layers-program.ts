/**
 * A tfjs-layers model as a flat program of steps over named values, so it can be run from any
 * set of fed values to any set of wanted values: the forward pass, activations at a layer, and
 * "from this layer's output to the logits" with branches that bypass the layer fed from the
 * forward pass. Nested models (a Functional or Sequential used as a layer) are expanded, so their
 * inner layers can be cut too.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, SymbolicTensor, layers as tfl } from '@tensorflow/tfjs-layers';
import {
  batchNormOnLastAxis, convChainOp, convFusable, functionalOp, layerHeadActivation, standaloneRelu,
  type FusableActivation, type LayerOp, type OpContext,
} from './layer-ops';
import type { CachingLayerOp } from './layer-ops';
import type { HeadActivation, LayerInfo } from './types';

type Layer = tfl.Layer;

export interface Step {
  /** Layer name, unique in the program (nested layers get `outer/inner` on a clash). */
  name: string;
  className: string;
  inputs: string[];
  outputs: string[];
  outputShape: (number | null)[];
  op: LayerOp;
  /** True for the step that produces the model output. */
  isHead: boolean;
  /** The layer itself, for fusions decided after the program is built. */
  layer: Layer;
}

/** conv → batch norm → ReLU steps that can run as one fused conv when nobody looks in between. */
interface Fusion {
  /** Step indices, the conv first. */
  chain: number[];
  op: CachingLayerOp;
}

function isContainer(layer: Layer): layer is Layer & LayersModel {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const l = layer as any;
  return Array.isArray(l.layers) && Array.isArray(l.inputs) && Array.isArray(l.outputs) && l.outputs.length > 0;
}

function applyOp(layer: Layer): LayerOp {
  return (xs) => {
    const out = layer.apply(xs.length === 1 ? xs[0] : xs, { training: false }) as tf.Tensor | tf.Tensor[];
    return Array.isArray(out) ? out : [out];
  };
}

export class LayersProgram {
  readonly steps: Step[] = [];
  /** The value key of each model input; `inputKey` is the first (image models have one). */
  readonly inputKeys: string[];
  readonly inputKey: string;
  readonly outputKey: string;
  readonly headActivation: HeadActivation;
  private readonly producer = new Map<string, number>();
  private readonly fusions = new Map<number, Fusion>();
  private readonly names = new Set<string>();

  constructor(model: LayersModel) {
    if (model.inputs.length === 0) throw new Error('the model has no input');
    this.inputKeys = model.inputs.map((t) => `t${t.id}`);
    this.inputKey = this.inputKeys[0];
    this.outputKey = this.expand(model, this.inputKeys, '')[0];
    this.steps.forEach((s, i) => s.outputs.forEach((k) => this.producer.set(k, i)));
    const head = this.steps[this.producer.get(this.outputKey)!];
    head.isHead = true;
    // The step whose activation logit targets strip is the one whose activation probabilities apply.
    this.headActivation = layerHeadActivation(head.layer);
    this.findFusions();
  }

  private findFusions(): void {
    const consumers = new Map<string, number[]>();
    this.steps.forEach((s, i) => s.inputs.forEach((k) => consumers.set(k, [...(consumers.get(k) ?? []), i])));
    const soleConsumer = (i: number): number | undefined => {
      const s = this.steps[i];
      if (s.outputs.length !== 1 || s.isHead) return undefined;
      const c = consumers.get(s.outputs[0]) ?? [];
      return c.length === 1 ? c[0] : undefined;
    };
    this.steps.forEach((s, i) => {
      if (!convFusable(s.layer) || (s.layer.getConfig() as { activation?: string }).activation !== 'linear') return;
      const chain = [i];
      let bn: Layer | undefined;
      let act: FusableActivation = 'linear';
      let next = soleConsumer(i);
      if (next !== undefined && batchNormOnLastAxis(this.steps[next].layer)) {
        bn = this.steps[next].layer;
        chain.push(next);
        next = soleConsumer(next);
      }
      const relu = next !== undefined ? standaloneRelu(this.steps[next].layer) : undefined;
      if (next !== undefined && relu && !this.steps[next].isHead) {
        act = relu;
        chain.push(next);
      }
      if (chain.length > 1) this.fusions.set(i, { chain, op: convChainOp(s.layer, bn, act) });
    });
  }

  /** Adds the steps of `model` called on `inputKeys`; returns the keys of its outputs. */
  private expand(model: LayersModel, inputKeys: string[], prefix: string): string[] {
    const keyOf = (t: SymbolicTensor) => `${prefix}t${t.id}`;
    const mapped = new Map<string, string>();
    model.inputs.forEach((t, i) => mapped.set(keyOf(t), inputKeys[i]));
    const resolve = (k: string) => mapped.get(k) ?? k;
    const visited = new Set<string>();
    const order: { layer: Layer; inputs: SymbolicTensor[]; outputs: SymbolicTensor[] }[] = [];
    const visit = (t: SymbolicTensor) => {
      const k = keyOf(t);
      if (visited.has(k) || mapped.has(k)) return;
      visited.add(k);
      const node = t.sourceLayer.inboundNodes[t.nodeIndex];
      node.inputTensors.forEach(visit);
      if (!order.some((o) => o.outputs.includes(t))) {
        order.push({ layer: t.sourceLayer, inputs: node.inputTensors, outputs: node.outputTensors });
      }
    };
    model.outputs.forEach(visit);
    for (const { layer, inputs, outputs } of order) {
      if (layer.getClassName() === 'InputLayer') continue;
      const ins = inputs.map((t) => resolve(keyOf(t)));
      if (isContainer(layer)) {
        const inner = this.expand(layer, ins, `${prefix}${layer.name}/`);
        inner.forEach((k, i) => mapped.set(keyOf(outputs[i]), k));
        continue;
      }
      const name = this.names.has(layer.name) ? `${prefix}${layer.name}` : layer.name;
      this.names.add(name);
      const shape = outputs[0].shape;
      this.steps.push({
        name,
        className: layer.getClassName(),
        inputs: ins,
        outputs: outputs.map((t) => keyOf(t)),
        outputShape: [...shape],
        op: functionalOp(layer) ?? applyOp(layer),
        isHead: false,
        layer,
      });
    }
    const outs = model.outputs.map((t) => resolve(keyOf(t)));
    return outs;
  }

  /**
   * Makes what the fused ops keep (folded conv + batch-norm kernels) now rather than on the first
   * run, so that a run leaves tf.memory().numTensors as it found it.
   */
  prepare(): void {
    for (const f of this.fusions.values()) f.op.prepare();
  }

  /** Frees what the fused ops keep (folded kernels); the layers' own weights stay the model's. */
  dispose(): void {
    for (const f of this.fusions.values()) f.op.dispose();
  }

  /** Layer descriptions in execution order. */
  layerInfos(): LayerInfo[] {
    return this.steps.map((s) => ({
      name: s.name,
      className: s.className,
      outputShape: s.outputShape,
      spatial: s.outputShape.length === 4 && (s.outputShape[1] ?? 2) > 1 && (s.outputShape[2] ?? 2) > 1,
    }));
  }

  /** The key of a layer's (first) output, or undefined for an unknown layer. */
  keyOfLayer(name: string): string | undefined {
    return this.steps.find((s) => s.name === name)?.outputs[0];
  }

  /** The steps that read the value `key`, in execution order. */
  consumersOf(key: string): Step[] {
    return this.steps.filter((s) => s.inputs.includes(key));
  }

  /**
   * Runs the steps needed to compute `wanted` from `feeds`. Values not needed by a later step or
   * by the caller are disposed as soon as possible unless `keepIntermediates` (gradients need them).
   */
  run(feeds: Map<string, tf.Tensor>, wanted: string[], ctx: OpContext, keepIntermediates = false): Map<string, tf.Tensor> {
    const needed = new Set<number>();
    const stack = [...wanted];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const k = stack.pop()!;
      if (seen.has(k) || feeds.has(k)) continue;
      seen.add(k);
      const i = this.producer.get(k);
      if (i === undefined) throw new Error(`value ${k} cannot be computed from the given feeds`);
      if (!needed.has(i)) {
        needed.add(i);
        stack.push(...this.steps[i].inputs);
      }
    }
    const values = new Map(feeds);
    const uses = new Map<string, number>();
    const order = [...needed].sort((a, b) => a - b);
    for (const i of order) for (const k of this.steps[i].inputs) uses.set(k, (uses.get(k) ?? 0) + 1);
    const keep = new Set([...wanted, ...feeds.keys()]);
    const skip = new Set<number>();
    for (const i of order) {
      if (skip.has(i)) continue;
      const step = this.steps[i];
      const ins = step.inputs.map((k) => values.get(k)!);
      // A conv → batch norm → ReLU chain runs as one kernel when its inner values are not asked for.
      const fusion = this.fusions.get(i);
      const fused = fusion && fusion.chain.every((j) => needed.has(j)) &&
        fusion.chain.slice(0, -1).every((j) => !keep.has(this.steps[j].outputs[0]));
      const last = fused ? this.steps[fusion.chain[fusion.chain.length - 1]] : step;
      if (fused) fusion.chain.slice(1).forEach((j) => skip.add(j));
      // An op may hand back its input (identity layers): give the output its own handle so
      // disposing the input after its last use cannot dispose the output.
      const op = fused ? fusion.op : step.op;
      const outs = op(ins, step.isHead ? ctx : { ...ctx, stripActivation: false }).map((t) => (ins.includes(t) ? tf.clone(t) : t));
      last.outputs.forEach((k, j) => values.set(k, outs[j]));
      if (keepIntermediates) continue;
      for (const k of step.inputs) {
        const left = uses.get(k)! - 1;
        uses.set(k, left);
        if (left === 0 && !keep.has(k)) values.get(k)!.dispose();
      }
    }
    const result = new Map<string, tf.Tensor>();
    for (const k of wanted) result.set(k, values.get(k)!);
    if (!keepIntermediates) {
      for (const [k, v] of values) if (!keep.has(k) && !result.has(k) && !v.isDisposed && uses.get(k) === undefined) v.dispose();
    }
    return result;
  }

  /**
   * The values (other than `key` itself) that the steps downstream of `key` read from upstream:
   * with them and a value for `key`, the rest of the network can run without recomputing the
   * part before the cut, even when branches bypass it.
   */
  boundaryOf(key: string): string[] {
    const downstream = new Set<string>([key]);
    const downSteps: Step[] = [];
    for (const s of this.steps) {
      if (s.inputs.some((k) => downstream.has(k))) {
        s.outputs.forEach((k) => downstream.add(k));
        downSteps.push(s);
      }
    }
    const boundary = new Set<string>();
    for (const s of downSteps) for (const k of s.inputs) if (!downstream.has(k)) boundary.add(k);
    return [...boundary];
  }
}

/**
 * The attention of a layers model (TF.js layers models, Keras .keras / .h5): the project's
 * MultiHeadAttention layers, read through their probabilities hook, with gradients of a class
 * logit for gradient-weighted rollout.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '../../shared/errors';
import type { AttentionLayerInfo } from '../../shared/attention';
import { MultiHeadAttention } from './layers/multi-head-attention';
import './layers/vit-layers';
import { LayersProgram } from './layers-program';
import { applyHead } from './targets';
import { readModelMetadata } from './metadata';
import type { PreprocessPreset } from '../image/preprocess';
import { describeInputs, firstOf, patchesFor, type AttentionCapture, type AttentionModel, type CaptureOptions, type ModelInput } from '../attention/attention-model';

type Sym = tfl.SymbolicTensor;

function mhaLayers(model: tfl.LayersModel): MultiHeadAttention[] {
  const out: MultiHeadAttention[] = [];
  for (const l of model.layers) {
    if (l instanceof MultiHeadAttention) out.push(l);
    else if ((l as unknown as tfl.LayersModel).layers) out.push(...mhaLayers(l as unknown as tfl.LayersModel));
  }
  return out;
}

/**
 * The side of a symbolic tensor: the names of the model inputs whose tokens it runs over. An
 * attention layer's output runs over its queries' tokens, so only its query input is followed
 * (a decoder layer after cross-attention stays on the decoder's side).
 */
function sidesOf(t: Sym, inputNames: Map<Sym, string>, memo = new Map<Sym, Set<string>>()): Set<string> {
  const known = memo.get(t);
  if (known) return known;
  const own = inputNames.get(t);
  const result = new Set<string>(own ? [own] : []);
  memo.set(t, result);
  if (!own) {
    const node = t.sourceLayer.inboundNodes[t.nodeIndex];
    const inputs = t.sourceLayer instanceof MultiHeadAttention ? (node?.inputTensors ?? []).slice(0, 1) : node?.inputTensors ?? [];
    for (const x of inputs) for (const s of sidesOf(x, inputNames, memo)) result.add(s);
  }
  return result;
}

class LayersAttentionModel implements AttentionModel {
  readonly format = 'layers-model';
  readonly layers: AttentionLayerInfo[];
  readonly inputs: ModelInput[];
  readonly outputSize: number;
  readonly classOutput: boolean;
  readonly patches?: { grid: [number, number]; cls: boolean };
  readonly noGradients?: string;
  private readonly mha: MultiHeadAttention[];
  private readonly program: LayersProgram;

  constructor(
    private readonly model: tfl.LayersModel, readonly file: string, readonly name: string, extra: Record<string, unknown>,
    readonly labels?: string[], readonly preprocess?: PreprocessPreset, private readonly ownsModel = true,
  ) {
    const mha = mhaLayers(model);
    if (mha.length === 0) throw new UserError(`${name} has no MultiHeadAttention layer, so there is no attention to show`);
    // Inputs by their layer's name (what people named them); sides listed in input order.
    const inputOrder = model.inputs.map((t) => t.sourceLayer.name);
    const inputNames = new Map<Sym, string>(model.inputs.map((t) => [t, t.sourceLayer.name]));
    const sides = (t: Sym) => [...sidesOf(t, inputNames)].sort((a, b) => inputOrder.indexOf(a) - inputOrder.indexOf(b));
    this.inputs = describeInputs(model.inputs.map((t) => ({ name: t.sourceLayer.name, shape: t.shape, dtype: t.dtype })), extra);
    // Run by the project's program, not model.apply: tfjs-layers disposes a tensor that feeds one layer twice (mha([x, x])).
    this.program = new LayersProgram(model);
    this.program.prepare();
    const infos = mha.map((l) => {
      if (l.inboundNodes.length !== 1) throw new UserError(`the attention layer ${l.name} is called ${l.inboundNodes.length} times; one call per layer is supported`);
      const ins = l.inboundNodes[0].inputTensors;
      const q = ins[0];
      const v = ins[1] ?? q;
      const qs = sides(q);
      const info: AttentionLayerInfo = { name: l.name, heads: l.numHeads, queryTokens: q.shape[1] ?? -1, keyTokens: v.shape[1] ?? -1, cross: v !== q, querySide: qs.join('+'), keySide: sides(v).join('+') };
      // Order: by the input the queries come from (encoder before decoder), then as the model runs them.
      return { l, info, key: [inputOrder.indexOf(qs[0] ?? ''), this.program.steps.findIndex((st) => st.layer === l)] };
    }).sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1]);
    this.mha = infos.map((x) => x.l);
    this.layers = infos.map((x) => x.info);
    this.outputSize = (model.outputs[0].shape[model.outputs[0].shape.length - 1] as number | null) ?? 0;
    this.classOutput = model.outputs[0].shape.length === 2;
    if (!this.classOutput) this.noGradients = `gradient-weighted rollout needs a class output [batch, classes]; ${name}'s output is [${model.outputs[0].shape.join(', ')}]`;
    this.patches = patchesFor(this.inputs, this.layers, extra);
  }

  private forward(inputs: tf.Tensor[]): { logits: tf.Tensor; output: tf.Tensor } {
    const k = this.program.outputKey;
    if (inputs.length !== this.program.inputKeys.length) throw new UserError(`${this.name} takes ${this.program.inputKeys.length} inputs, got ${inputs.length}`);
    const feeds = new Map(this.program.inputKeys.map((key, i) => [key, inputs[i]]));
    const logits = this.program.run(feeds, [k], { stripActivation: true }).get(k)!;
    // A sequence output ([batch, tokens, classes]) has no single class score: no head to apply, no gradient target.
    return { logits, output: logits.rank === 2 ? applyHead(logits as tf.Tensor2D, this.program.headActivation) : logits };
  }

  capture(inputs: tf.Tensor[], opts: CaptureOptions = {}): AttentionCapture {
    const captured = new Map<MultiHeadAttention, tf.Tensor>();
    try {
      // The layer computes inside its own tidy: keep what the hook sees past it.
      for (const l of this.mha) l.probabilitiesHook = (p) => (captured.set(l, tf.keep(p)), p);
      const [output, ...probs] = tf.tidy(() => {
        const f = this.forward(inputs);
        return [f.output, ...this.mha.map((l) => captured.get(l)!)];
      });
      const result: AttentionCapture = {
        probabilities: probs.map((p) => firstOf(p)),
        output: firstOf(output),
      };
      const shapes = probs.map((p) => p.shape);
      tf.dispose([output, ...probs]);
      const idle = this.mha.find((l) => !captured.has(l));
      if (idle) throw new Error(`the attention layer ${idle.name} did not run in the forward pass`);
      if (opts.gradientTarget !== undefined) result.gradients = this.gradients(inputs, shapes, opts.gradientTarget, opts.space ?? 'logit');
      return result;
    } finally {
      for (const l of this.mha) l.probabilitiesHook = undefined;
    }
  }

  /** d logit[target] / d attention probabilities: a zero added to each layer's probabilities is differentiated against. */
  private gradients(inputs: tf.Tensor[], shapes: number[][], target: number, space: 'logit' | 'probability'): Float32Array[] {
    if (this.noGradients) throw new UserError(this.noGradients);
    if (!Number.isInteger(target) || target < 0 || target >= this.outputSize) throw new UserError(`class ${target} is out of range (the model has ${this.outputSize} outputs)`);
    const zeros = shapes.map((s) => tf.zeros(s));
    try {
      const grads = tf.tidy(() => tf.grads((...zs: tf.Tensor[]) => {
        this.mha.forEach((l, i) => { l.probabilitiesHook = (p) => tf.add(p, zs[i]); });
        const { logits, output } = this.forward(inputs);
        if (logits.rank !== 2) throw new UserError(`${this.name} has no class output ([batch, classes]), so there is no class to weight the attention by`);
        return tf.sum(tf.slice(space === 'logit' ? logits : output, [0, target], [1, 1]));
      })(zeros));
      const out = grads.map((g) => firstOf(g));
      tf.dispose(grads);
      return out;
    } finally {
      tf.dispose(zeros);
    }
  }

  dispose(): void {
    this.program.dispose();
    if (this.ownsModel) this.model.dispose();
  }
}

/**
 * Attention of a layers model someone else owns (e.g. a model adapter's, whose weights a sanity
 * check re-initialises): disposing the result leaves the model alone. UserError without attention layers.
 */
export function attentionOfLayersModel(model: tfl.LayersModel, name: string, extra: Record<string, unknown> = {}): AttentionModel {
  return new LayersAttentionModel(model, '', name, extra, undefined, undefined, false);
}

/**
 * The attention model of a layers model loaded from `file` (a model.json, a .keras, an .h5),
 * with the labels, preprocessing and hints of the files beside it over what the file carries.
 */
export function attentionOfLoadedLayersModel(model: tfl.LayersModel, file: string, name: string, embedded: Record<string, unknown> | undefined): AttentionModel {
  const outShape = model.outputs[0].shape;
  const meta = readModelMetadata(file, embedded, (outShape[outShape.length - 1] as number | null) ?? 0);
  return new LayersAttentionModel(model, file, name, meta.extra ?? {}, meta.labels, meta.preprocess);
}

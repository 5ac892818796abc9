/**
 * A Transformer / ViT model as seen by attention maps: its attention layers, its inputs (an
 * image, or token ids — several for encoder–decoder models), and one forward pass that captures
 * every layer's attention probabilities, with their gradients for class-specific rollout.
 * Layers models: the project's MultiHeadAttention layers, read through their probabilities hook.
 * Graph models: the Softmax nodes whose outputs are [batch, heads, q, k].
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { UserError } from '../../shared/errors';
import type { AttentionLayerInfo, TokenInputInfo } from '../../shared/attention';
import { fsLoadHandler, readModelJson } from '../model/fs-io';
import { readModelMetadata } from '../model/metadata';
import { withNormalizedKerasTopology } from '../model/layers/keras-topology';
import { MultiHeadAttention } from '../model/layers/multi-head-attention';
import '../model/layers/vit-layers';
import { LayersProgram } from '../model/layers-program';
import { applyHead } from '../model/targets';
import type { PreprocessPreset } from '../image/preprocess';
import { inferPatchGrid } from './token-maps';

export type ModelInput =
  | { kind: 'image'; name: string; shape: [number, number, number] }
  | ({ kind: 'tokens'; dtype: 'int32' | 'float32' } & TokenInputInfo);

export interface AttentionCapture {
  /** Per attention layer (model.layers order), row-major [heads, q, k] of the first batch element. */
  probabilities: Float32Array[];
  /** The model's output after its head activation (probabilities for a classifier). */
  output: Float32Array;
  /** With a gradient target: d logit / d probabilities per layer, same layout. */
  gradients?: Float32Array[];
}

export interface CaptureOptions {
  gradientTarget?: number;
  space?: 'logit' | 'probability';
}

export interface AttentionModel {
  readonly file: string;
  readonly name: string;
  /** What kind of file it came from, for display (`layers-model`, `graph-model`, `onnx`, …). */
  readonly format: string;
  readonly inputs: readonly ModelInput[];
  readonly layers: readonly AttentionLayerInfo[];
  readonly labels?: string[];
  readonly preprocess?: PreprocessPreset;
  readonly outputSize: number;
  /** The output is one score vector per input ([batch, classes]), not a sequence: predictions and class targets make sense. */
  readonly classOutput: boolean;
  /** Image models: the patch grid and whether token 0 is a CLS token (metadata, else inferred). */
  readonly patches?: { grid: [number, number]; cls: boolean };
  /** Why gradient-weighted rollout is unavailable, or undefined when it works. */
  readonly noGradients?: string;
  /**
   * One forward pass (batch 1) capturing attention; `gradientTarget`: also the gradients of that
   * class's logit (or, with `space: 'probability'`, of its probability after the head activation).
   */
  capture(inputs: tf.Tensor[], opts?: CaptureOptions): AttentionCapture;
  dispose(): void;
}

type Sym = tfl.SymbolicTensor;

/** The values of a tensor's first batch element. */
function firstOf(t: tf.Tensor): Float32Array {
  const all = t.dataSync() as Float32Array;
  return all.length === t.size / t.shape[0] ? Float32Array.from(all) : all.slice(0, t.size / t.shape[0]);
}

function mhaLayers(model: tfl.LayersModel): MultiHeadAttention[] {
  const out: MultiHeadAttention[] = [];
  for (const l of model.layers) {
    if (l instanceof MultiHeadAttention) out.push(l);
    else if ((l as unknown as tfl.LayersModel).layers) out.push(...mhaLayers(l as unknown as tfl.LayersModel));
  }
  return out;
}

/** Names of the model inputs a symbolic tensor is computed from. */
function sidesOf(t: Sym, inputNames: Map<Sym, string>, memo = new Map<Sym, Set<string>>()): Set<string> {
  const known = memo.get(t);
  if (known) return known;
  const own = inputNames.get(t);
  const result = new Set<string>(own ? [own] : []);
  memo.set(t, result);
  if (!own) {
    const node = t.sourceLayer.inboundNodes[t.nodeIndex];
    for (const x of node?.inputTensors ?? []) for (const s of sidesOf(x, inputNames, memo)) result.add(s);
  }
  return result;
}

function vocabFor(extra: Record<string, unknown>, name: string, index: number): string[] | undefined {
  const v = extra.vocab;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  if (v && typeof v === 'object') {
    const byName = (v as Record<string, unknown>)[name] ?? Object.values(v as Record<string, unknown>)[index];
    if (Array.isArray(byName) && byName.every((x) => typeof x === 'string')) return byName as string[];
  }
  return undefined;
}

function exampleFor(extra: Record<string, unknown>, name: string, index: number, vocab?: string[]): string | undefined {
  const e = extra.example;
  if (typeof e === 'string') return index === 0 ? e : undefined;
  if (Array.isArray(e) && typeof e[index] === 'string') return e[index] as string;
  if (e && typeof e === 'object' && typeof (e as Record<string, unknown>)[name] === 'string') return (e as Record<string, string>)[name];
  return vocab?.slice(0, 6).join(' ');
}

function describeInputs(shapes: { name: string; shape: (number | null)[]; dtype: string }[], extra: Record<string, unknown>): ModelInput[] {
  return shapes.map(({ name, shape, dtype }, i): ModelInput => {
    if (shape.length === 4) {
      const [, h, w, c] = shape;
      if (h == null || w == null || c == null) throw new UserError(`the model's image input ${name} does not fix its size [${shape.join(', ')}]`);
      return { kind: 'image', name, shape: [h, w, c] };
    }
    if (shape.length === 2) {
      const vocab = vocabFor(extra, name, i);
      return { kind: 'tokens', name, length: shape[1] ?? null, dtype: dtype === 'int32' ? 'int32' : 'float32', vocab, example: exampleFor(extra, name, i, vocab) };
    }
    throw new UserError(`the model's input ${name} has shape [${shape.join(', ')}]: attention maps take an image [batch, h, w, c] or token ids [batch, length]`);
  });
}

function patchesFor(inputs: ModelInput[], layers: AttentionLayerInfo[], extra: Record<string, unknown>): { grid: [number, number]; cls: boolean } | undefined {
  const image = inputs.find((x) => x.kind === 'image');
  const self = layers.find((l) => !l.cross);
  if (!image || image.kind !== 'image' || !self) return undefined;
  const g = extra.patchGrid;
  if (Array.isArray(g) && g.length === 2 && g.every((x) => Number.isInteger(x) && x > 0)) {
    const grid: [number, number] = [g[0], g[1]];
    const cls = typeof extra.clsToken === 'boolean' ? extra.clsToken : self.queryTokens === grid[0] * grid[1] + 1;
    return { grid, cls };
  }
  return inferPatchGrid(self.queryTokens, [image.shape[0], image.shape[1]]);
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

/** Zeros of the right shape and dtype for each input: what a graph model is probed with. */
export function blankInputs(inputs: readonly ModelInput[]): tf.Tensor[] {
  return inputs.map((x) => (x.kind === 'image' ? tf.zeros([1, ...x.shape]) : tf.zeros([1, x.length ?? 8], x.dtype)));
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

/** A TF.js model.json (layers or graph model) for attention maps. */
export async function loadTfjsAttentionModel(file: string, kind: 'layers' | 'graph'): Promise<AttentionModel> {
  const json = readModelJson(file);
  const name = path.basename(path.dirname(file));
  const topo = json.modelTopology as Record<string, unknown> | null;
  const isGraph = kind === 'graph';
  try {
    if (isGraph) {
      const model = await loadGraphModel(fsLoadHandler(file));
      const out = model.outputs[0].shape ?? [];
      const meta = readModelMetadata(file, json.userDefinedMetadata, out[out.length - 1] ?? 0);
      const m = new GraphAttentionModel(model, file, name, topo, meta.extra ?? {}, meta.labels, meta.preprocess);
      const probe = blankInputs(m.inputs);
      try {
        m.probe(probe);
      } finally {
        tf.dispose(probe);
      }
      return m;
    }
    const model = await tfl.loadLayersModel(withNormalizedKerasTopology(fsLoadHandler(file)), { strict: true });
    return attentionOfLoadedLayersModel(model, file, name, json.userDefinedMetadata);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot load ${file} for attention maps: ${(err as Error).message.split('\n')[0]}`);
  }
}

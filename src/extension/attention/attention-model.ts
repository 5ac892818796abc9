/**
 * A Transformer / ViT model as seen by attention maps: its attention layers, its inputs (an
 * image, or token ids — several for encoder–decoder models), and one forward pass that captures
 * every layer's attention probabilities, with their gradients for class-specific rollout. Each
 * model format provides its own (formats/*, model/layers-attention.ts); what they share is here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../shared/errors';
import type { AttentionLayerInfo, TokenInputInfo } from '../../shared/attention';
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

/** The values of a tensor's first batch element. */
export function firstOf(t: tf.Tensor): Float32Array {
  const all = t.dataSync() as Float32Array;
  return all.length === t.size / t.shape[0] ? Float32Array.from(all) : all.slice(0, t.size / t.shape[0]);
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

export function describeInputs(shapes: { name: string; shape: (number | null)[]; dtype: string }[], extra: Record<string, unknown>): ModelInput[] {
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

export function patchesFor(inputs: ModelInput[], layers: AttentionLayerInfo[], extra: Record<string, unknown>): { grid: [number, number]; cls: boolean } | undefined {
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

/** Zeros of the right shape and dtype for each input: what a graph model is probed with. */
export function blankInputs(inputs: readonly ModelInput[]): tf.Tensor[] {
  return inputs.map((x) => (x.kind === 'image' ? tf.zeros([1, ...x.shape]) : tf.zeros([1, x.length ?? 8], x.dtype)));
}

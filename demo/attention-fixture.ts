/**
 * The attention demo models (attention-data.ts says what they see), built with the tfjs-layers
 * functional API from the project's MultiHeadAttention and the vit-keras layers, trained by a
 * seeded loop and checked for the attention they are meant to show. Writes, from the seed alone:
 *
 *   models/tiny-vit/{model.json, weights.bin, labels.txt, metadata.json}
 *       a tiny ViT: which marker (plus, ring, cross) one 8×8 patch of a 32×32 image holds
 *   vit-images/<class>-<n>.png and vit-images/patches.json
 *       sample images, with each one's label and deciding patch
 *   models/token-marker/{model.json, weights.bin, labels.txt, metadata.json}
 *       a token Transformer: whether the word "needle" occurs in a 12-token sequence
 *
 * and checks, on fresh data, the accuracy and the attention: rollout from the CLS token peaks on
 * the marker's patch; in the token model's last layer the CLS token attends most to "needle".
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsLoadHandler, fsSaveHandler } from '../src/extension/model/fs-io';
import { MultiHeadAttention } from '../src/extension/model/layers/multi-head-attention';
import { AddPositionEmbs, ClassToken, ExtractToken } from '../src/extension/model/layers/vit-layers';
import { rollout } from '../src/extension/attention/rollout';
import { clsRow } from '../src/extension/attention/token-maps';
import {
  CLS_TOKEN, makeTokenBatch, makeVitBatch, makeVitImage, MARKER_CLASSES, MARKER_TOKEN, mulberry32, PAD_TOKEN, TOKEN_CLASSES, TOKEN_SEQ_LENGTH,
  TOKEN_VOCAB, textToTokens, VIT_GRID, VIT_INPUT_SIZE, VIT_PATCH_SIZE, VIT_PATCHES, type Rng, type TokenBatch, type VitBatch,
} from './attention-data';
import { shuffleInPlace } from './synthetic';

/** The ViT's seed is the fixtures' seed plus this (the TCAV model uses + 100). */
export const VIT_SEED_OFFSET = 200;
/** The token model's seed is the fixtures' seed plus this. */
export const TOKENS_SEED_OFFSET = 300;
/** The token model's metadata example: 12 tokens, all in the vocabulary, the marker at position 6. */
export const TOKEN_EXAMPLE = `${CLS_TOKEN} the old farmer lost a ${MARKER_TOKEN} in the big hay stack`;

export interface TransformerOptions {
  /** Token width. */
  dim: number;
  heads: number;
  /** Hidden units of each block's MLP. */
  mlpDim: number;
  blocks: number;
}

export const VIT_ARCH: TransformerOptions = { dim: 32, heads: 4, mlpDim: 64, blocks: 2 };
export const TOKEN_ARCH: TransformerOptions = { dim: 32, heads: 2, mlpDim: 64, blocks: 1 };

export interface TrainingOptions {
  train: number;
  val: number;
  epochs: number;
  batchSize: number;
  /** Peak Adam learning rate (linear warm-up over the first epoch, cosine decay to 2%). */
  lr: number;
}

export const VIT_TRAINING: TrainingOptions = { train: 8000, val: 1000, epochs: 10, batchSize: 64, lr: 4e-3 };
export const TOKEN_TRAINING: TrainingOptions = { train: 4000, val: 1000, epochs: 4, batchSize: 32, lr: 3e-3 };
const QUICK: Partial<TrainingOptions> = { train: 96, val: 64, epochs: 1 };

type ST = tfl.SymbolicTensor;
type Layer = tfl.layers.Layer;

/**
 * Makes each named layer on first use and hands back the same instance after, so a graph built
 * twice (the model, and the ViT's training view) shares its layers and weights.
 */
type Layers = <L extends Layer>(name: string, make: (name: string) => L) => L;

function layerCache(): Layers {
  const made = new Map<string, Layer>();
  return <L extends Layer>(name: string, make: (name: string) => L): L => {
    if (!made.has(name)) made.set(name, make(name));
    return made.get(name) as L;
  };
}

/**
 * Pre-norm Transformer encoder blocks, as in ViT: x + MHA(LN(x), LN(x)), then x + MLP(LN(x))
 * with a GELU hidden layer. Layer names: `block<i>_ln1`, `block<i>_attn`, `block<i>_add1`,
 * `block<i>_ln2`, `block<i>_mlp1`, `block<i>_mlp2`, `block<i>_add2`, i from 1.
 */
function encoderBlocks(x: ST, a: TransformerOptions, L: Layers): ST {
  const ln = (name: string) => tfl.layers.layerNormalization({ name, epsilon: 1e-6 });
  for (let b = 1; b <= a.blocks; b++) {
    const n = (s: string) => `block${b}_${s}`;
    const h = L(n('ln1'), ln).apply(x) as ST;
    const attn = L(n('attn'), (name) => new MultiHeadAttention({ name, numHeads: a.heads, keyDim: a.dim / a.heads })).apply([h, h]) as ST;
    x = L(n('add1'), (name) => tfl.layers.add({ name })).apply([x, attn]) as ST;
    const h2 = L(n('ln2'), ln).apply(x) as ST;
    const m1 = L(n('mlp1'), (name) => tfl.layers.dense({ name, units: a.mlpDim, activation: 'gelu' })).apply(h2) as ST;
    const m2 = L(n('mlp2'), (name) => tfl.layers.dense({ name, units: a.dim })).apply(m1) as ST;
    x = L(n('add2'), (name) => tfl.layers.add({ name })).apply([x, m2]) as ST;
  }
  return x;
}

/** The ViT after its patch embedding: patch tokens [16, dim] → class probabilities. */
function vitTrunk(x: ST, a: TransformerOptions, L: Layers): ST {
  x = L('class_token', (name) => new ClassToken({ name })).apply(x) as ST;
  x = L('pos_embed', (name) => new AddPositionEmbs({ name })).apply(x) as ST;
  x = encoderBlocks(x, a, L);
  x = L('final_ln', (name) => tfl.layers.layerNormalization({ name, epsilon: 1e-6 })).apply(x) as ST;
  x = L('cls', (name) => new ExtractToken({ name, index: 0 })).apply(x) as ST;
  return L('predictions', (name) => tfl.layers.dense({ name, units: MARKER_CLASSES.length, activation: 'softmax' })).apply(x) as ST;
}

/** Values of one patch, flattened as a Conv2D kernel is ([row, column, channel]). */
const PATCH_VALUES = VIT_PATCH_SIZE * VIT_PATCH_SIZE * 3;

export interface VitTraining {
  /** The model that is saved. */
  model: tfl.LayersModel;
  /**
   * The same network from patch vectors [16, 192] (see patchTensor): a Dense patch embedding,
   * then the model's own layers. It computes what the model computes, but its gradient skips
   * tfjs' fused-conv gradient (which also computes the unused image gradient): training steps
   * take about a third less time on wasm.
   */
  trainModel: tfl.LayersModel;
  /** Copies the trained patch embedding into the model's Conv2D. */
  commit(): void;
}

/**
 * The tiny ViT: patch embedding (Conv2D, kernel = stride = 8) → 16 tokens → class token →
 * position embedding → encoder blocks → LayerNormalization → the CLS token → dense softmax,
 * with seeded initial weights; and its training view.
 */
export function buildTinyVit(seed: number, a: TransformerOptions = VIT_ARCH): VitTraining {
  const L = layerCache();
  const input = tfl.input({ name: 'image', shape: [VIT_INPUT_SIZE, VIT_INPUT_SIZE, 3] });
  const conv = L('patch_embed', (name) => tfl.layers.conv2d({ name, filters: a.dim, kernelSize: VIT_PATCH_SIZE, strides: VIT_PATCH_SIZE, padding: 'valid' }));
  let x = conv.apply(input) as ST;
  x = L('patches', (name) => tfl.layers.reshape({ name, targetShape: [VIT_PATCHES, a.dim] })).apply(x) as ST;
  const model = tfl.model({ name: 'tiny_vit', inputs: input, outputs: vitTrunk(x, a, L) });
  seedWeights(model, seed);

  const patchInput = tfl.input({ name: 'patch_vectors', shape: [VIT_PATCHES, PATCH_VALUES] });
  const dense = tfl.layers.dense({ name: 'patch_embed_dense', units: a.dim });
  const trainModel = tfl.model({ name: 'tiny_vit_train', inputs: patchInput, outputs: vitTrunk(dense.apply(patchInput) as ST, a, L) });
  const copy = (from: Layer, to: Layer, shape: number[]) => {
    const [kernel, bias] = from.getWeights();
    const k = tf.reshape(kernel, shape);
    to.setWeights([k, bias]);
    k.dispose();
  };
  copy(conv, dense, [PATCH_VALUES, a.dim]);
  return { model, trainModel, commit: () => copy(dense, conv, [VIT_PATCH_SIZE, VIT_PATCH_SIZE, 3, a.dim]) };
}

/**
 * The token model: token ids [batch, 12] → embedding → position embedding → encoder blocks →
 * the CLS token → dense softmax over absent / present, with seeded initial weights.
 */
export function buildTokenModel(seed: number, a: TransformerOptions = TOKEN_ARCH): tfl.LayersModel {
  const L = layerCache();
  const input = tfl.input({ name: 'tokens', shape: [TOKEN_SEQ_LENGTH], dtype: 'int32' });
  let x = tfl.layers.embedding({ name: 'embedding', inputDim: TOKEN_VOCAB.length, outputDim: a.dim }).apply(input) as ST;
  x = new AddPositionEmbs({ name: 'pos_embed' }).apply(x) as ST;
  x = encoderBlocks(x, a, L);
  x = new ExtractToken({ name: 'cls', index: 0 }).apply(x) as ST;
  const out = tfl.layers.dense({ name: 'predictions', units: TOKEN_CLASSES.length, activation: 'softmax' }).apply(x) as ST;
  const model = tfl.model({ name: 'token_marker', inputs: input, outputs: out });
  seedWeights(model, seed);
  return model;
}

/** An approximately standard-normal number (Box-Muller). */
function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/**
 * Gives every weight its initial value from one seeded stream, layer by layer in model order,
 * as Keras would draw them: kernels Glorot-uniform (fan-in: the input axes, fan-out: the output
 * axes; a Conv2D's receptive field counts for both), biases and LayerNormalization betas 0,
 * gammas 1, embeddings U(−0.05, 0.05), position embeddings N(0, 0.06²), the class token 0.
 * (tfjs' seeded initializers would give MultiHeadAttention's query, key and value kernels the
 * same values, since the layer shares one initializer among them.)
 */
export function seedWeights(model: tfl.LayersModel, seed: number): void {
  const rng = mulberry32(seed);
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const cls = layer.getClassName();
    const values = layer.weights.map((w) => {
      const shape = w.shape as number[];
      const size = shape.reduce((p, d) => p * d, 1);
      const name = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
      const out = new Float32Array(size);
      if (name === 'kernel') {
        let fanIn: number, fanOut: number;
        if (cls === 'Conv2D') {
          const field = shape[0] * shape[1];
          [fanIn, fanOut] = [field * shape[2], field * shape[3]];
        } else if (cls === 'MultiHeadAttention') {
          // query/key/value [d, heads, size]: in d, out heads·size; attention_output [heads, size, d]: the reverse.
          const isOutput = w.originalName.includes('attention_output');
          [fanIn, fanOut] = isOutput ? [shape[0] * shape[1], shape[2]] : [shape[0], shape[1] * shape[2]];
        } else {
          [fanIn, fanOut] = [shape[0], shape[1]];
        }
        const limit = Math.sqrt(6 / (fanIn + fanOut));
        for (let i = 0; i < size; i++) out[i] = (2 * rng() - 1) * limit;
      } else if (name === 'gamma') out.fill(1);
      else if (name === 'embeddings') for (let i = 0; i < size; i++) out[i] = (2 * rng() - 1) * 0.05;
      else if (name === 'pos_embedding') for (let i = 0; i < size; i++) out[i] = 0.06 * gaussian(rng);
      else if (name !== 'bias' && name !== 'beta' && name !== 'cls') throw new Error(`seedWeights: no rule for weight ${w.originalName} of ${cls}`);
      return tf.tensor(out, shape);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** Cosine decay from `lr0` to 2% of it, after a linear warm-up from 10% over `warmup` steps. */
function learningRate(lr0: number, step: number, total: number, warmup: number): number {
  if (step < warmup) return lr0 * (0.1 + (0.9 * step) / warmup);
  const t = (step - warmup) / Math.max(1, total - warmup);
  return lr0 * (0.02 + 0.98 * 0.5 * (1 + Math.cos(Math.PI * t)));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** A data set the training loop can slice: inputs of examples `idx` as one tensor, and labels. */
interface Dataset {
  labels: Int32Array;
  inputs(idx: ArrayLike<number>): tf.Tensor;
}

/** The ViT images at `indices` as a [k, 32, 32, 3] tensor scaled to [0, 1] (the `unit` preprocessing). */
export function vitTensor(b: VitBatch, indices: ArrayLike<number>): tf.Tensor4D {
  const n = b.size * b.size * 3;
  const data = new Float32Array(indices.length * n);
  for (let k = 0; k < indices.length; k++) {
    const src = indices[k] * n;
    for (let j = 0; j < n; j++) data[k * n + j] = b.pixels[src + j] / 255;
  }
  return tf.tensor4d(data, [indices.length, b.size, b.size, 3]);
}

/**
 * The ViT images at `indices` cut into patch vectors, [k, 16, 192] scaled to [0, 1]: patch p
 * (row-major over the 4×4 grid) holds its pixels as a Conv2D kernel is laid out, [row, column, channel].
 */
export function patchTensor(b: VitBatch, indices: ArrayLike<number>): tf.Tensor3D {
  const s = b.size, p = VIT_PATCH_SIZE;
  const data = new Float32Array(indices.length * VIT_PATCHES * PATCH_VALUES);
  let o = 0;
  for (let k = 0; k < indices.length; k++) {
    const img = indices[k] * s * s * 3;
    for (let patch = 0; patch < VIT_PATCHES; patch++) {
      const y0 = Math.floor(patch / VIT_GRID) * p, x0 = (patch % VIT_GRID) * p;
      for (let i = 0; i < p; i++) {
        for (let j = 0; j < p; j++) {
          const src = img + ((y0 + i) * s + x0 + j) * 3;
          for (let c = 0; c < 3; c++) data[o++] = b.pixels[src + c] / 255;
        }
      }
    }
  }
  return tf.tensor3d(data, [indices.length, VIT_PATCHES, PATCH_VALUES]);
}

/** The sequences at `indices` as a [k, 12] int32 tensor. */
export function tokenTensor(b: TokenBatch, indices: ArrayLike<number>): tf.Tensor2D {
  const data = new Int32Array(indices.length * TOKEN_SEQ_LENGTH);
  for (let k = 0; k < indices.length; k++) data.set(b.ids.subarray(indices[k] * TOKEN_SEQ_LENGTH, (indices[k] + 1) * TOKEN_SEQ_LENGTH), k * TOKEN_SEQ_LENGTH);
  return tf.tensor2d(data, [indices.length, TOKEN_SEQ_LENGTH], 'int32');
}

const vitData = (b: VitBatch): Dataset => ({ labels: b.labels, inputs: (idx) => vitTensor(b, idx) });
const tokenData = (b: TokenBatch): Dataset => ({ labels: b.labels, inputs: (idx) => tokenTensor(b, idx) });

/** Predicted class per example, in batches of 200. */
async function predictClasses(model: tfl.LayersModel, d: Dataset): Promise<Int32Array> {
  const count = d.labels.length;
  const out = new Int32Array(count);
  for (let i = 0; i < count; i += 200) {
    const x = d.inputs(range(i, Math.min(count, i + 200)));
    const am = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor2D, 1));
    out.set(await am.data(), i);
    tf.dispose([x, am]);
  }
  return out;
}

async function accuracy(model: tfl.LayersModel, d: Dataset): Promise<number> {
  const pred = await predictClasses(model, d);
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === d.labels[i]) ok++;
  return ok / pred.length;
}

/**
 * Runs `f` with a faster gradient for Tile, then puts tfjs' back: the sum of dy over the
 * repetitions, as one reshape and one reduction. tfjs' own adds one slice of dy per repetition,
 * and tfjs-layers' LayerNormalization tiles its gamma and beta to the input's shape, so at batch
 * 32 and 17 tokens a training step spent most of its time in ~11 000 tiny slices and adds. The
 * gradient is the same function; only the order of the floating-point sums differs.
 */
export async function withFastTileGradient<T>(f: () => Promise<T>): Promise<T> {
  const original = tf.getGradient(tf.Tile);
  tf.unregisterGradient(tf.Tile);
  tf.registerGradient({
    kernelName: tf.Tile,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const reps = (attrs as unknown as tf.TileAttrs).reps;
      const split = x.shape.flatMap((s, i) => [reps[i], s]);
      return { x: () => tf.sum(tf.reshape(dy as tf.Tensor, split), reps.map((_, i) => 2 * i)) };
    },
  });
  try {
    return await f();
  } finally {
    tf.unregisterGradient(tf.Tile);
    tf.registerGradient(original);
  }
}

/** What `train` trains and how it checks it. */
interface TrainingRun {
  /** The network trained, and its training data. */
  trainModel: tfl.LayersModel;
  data: Dataset;
  /** The network checked after each epoch (after `commit`), and its validation data. */
  model: tfl.LayersModel;
  val: Dataset;
  /** Makes `model` what `trainModel` has learnt (when they differ). */
  commit?: () => void;
  classes: number;
  tag: string;
}

/**
 * Softmax cross-entropy with Adam, shuffled by a seeded stream and `fit` with shuffle off, so the
 * same seed gives the same weights.
 */
async function train(run: TrainingRun, o: TrainingOptions, seed: number, log: (s: string) => void): Promise<void> {
  const { trainModel: model, data, val, classes, tag } = run;
  const optimizer = tf.train.adam(o.lr);
  // Adam has no public setter; its learning rate is a plain field read on every step.
  const setLr = (lr: number) => {
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
  };
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const shuffleRng = mulberry32(seed);
  const chunk = 1024;
  const stepsPerEpoch = Math.ceil(data.labels.length / o.batchSize);
  const totalSteps = stepsPerEpoch * o.epochs;
  let step = 0;
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    const t0 = Date.now();
    const order = shuffleInPlace(shuffleRng, range(0, data.labels.length));
    let lossSum = 0;
    for (let i = 0; i < order.length; i += chunk) {
      const idx = order.slice(i, i + chunk);
      const x = data.inputs(idx);
      const y = tf.tidy(() => tf.oneHot(tf.tensor1d(idx.map((k) => data.labels[k]), 'int32'), classes));
      let inChunk = 0;
      const h = await model.fit(x, y, {
        batchSize: o.batchSize,
        epochs: 1,
        shuffle: false,
        verbose: 0,
        callbacks: {
          onBatchBegin: async () => {
            setLr(learningRate(o.lr, step + inChunk, totalSteps, stepsPerEpoch));
            inChunk++;
          },
        },
      });
      step += inChunk;
      lossSum += (h.history.loss[0] as number) * idx.length;
      tf.dispose([x, y]);
    }
    run.commit?.();
    const valAcc = await accuracy(run.model, val);
    log(`${tag}: epoch ${epoch}/${o.epochs}: loss ${(lossSum / order.length).toFixed(4)}, val acc ${pct(valAcc)}, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  optimizer.dispose();
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const round4 = (x: number) => Number(x.toFixed(4));

/** The model's MultiHeadAttention layers, in model order. */
export function attentionLayers(model: tfl.LayersModel): MultiHeadAttention[] {
  return model.layers.filter((l): l is MultiHeadAttention => l instanceof MultiHeadAttention);
}

/**
 * The attention probabilities of one forward pass of `x`: per attention layer (model order) a
 * [batch, heads, q, k] array, read through each layer's probabilitiesHook.
 */
export function captureAttention(model: tfl.LayersModel, x: tf.Tensor): { layers: Float32Array[]; heads: number; tokens: number } {
  const mhas = attentionLayers(model);
  const captured = new Map<MultiHeadAttention, { data: Float32Array; shape: number[] }>();
  mhas.forEach((m) => {
    m.probabilitiesHook = (p) => {
      if (captured.has(m)) throw new Error(`attention layer ${m.name} ran twice in one forward pass`);
      // A copy: the wasm backend may hand out a view of its memory, which later allocations invalidate.
      captured.set(m, { data: Float32Array.from(p.dataSync() as Float32Array), shape: p.shape });
      return p;
    };
  });
  try {
    // One pass over the whole batch (predict would split it into batches of 32).
    tf.dispose(model.predict(x, { batchSize: x.shape[0] }) as tf.Tensor);
  } finally {
    mhas.forEach((m) => (m.probabilitiesHook = undefined));
  }
  const got = mhas.map((m) => {
    const c = captured.get(m);
    if (!c) throw new Error(`attention layer ${m.name} did not run`);
    return c;
  });
  return { layers: got.map((c) => c.data), heads: got[0].shape[1], tokens: got[0].shape[3] };
}

/** The [heads, n, n] slice of example `b` from a [batch, heads, n, n] array. */
function exampleSlice(a: Float32Array, b: number, heads: number, n: number): Float32Array {
  const per = heads * n * n;
  return a.subarray(b * per, (b + 1) * per);
}

/** The index of the largest value (the first on ties). */
function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

/**
 * On `count` fresh images: accuracy, and how often the attention rollout (mean fusion, nothing
 * discarded) read from the CLS row over the 4×4 grid peaks on the deciding patch.
 */
export async function vitAttentionChecks(model: tfl.LayersModel, rng: Rng, count: number): Promise<{ accuracy: number; rolloutPeak: number; count: number }> {
  const batch = makeVitBatch(rng, count);
  const acc = await accuracy(model, vitData(batch));
  let hits = 0;
  for (let i = 0; i < count; i += 100) {
    const idx = range(i, Math.min(count, i + 100));
    const x = vitTensor(batch, idx);
    const att = captureAttention(model, x);
    x.dispose();
    idx.forEach((k, b) => {
      const layers = att.layers.map((l) => exampleSlice(l, b, att.heads, att.tokens));
      const r = rollout({ layers, heads: att.heads, tokens: att.tokens }, { fusion: 'mean', discardRatio: 0 });
      if (argmax(clsRow(r, att.tokens, { cls: true })) === batch.patches[k]) hits++;
    });
  }
  return { accuracy: acc, rolloutPeak: hits / count, count };
}

/**
 * On `count` fresh sequences: accuracy on all; among those with the marker, how often the CLS
 * token's attention in the last layer (mean over heads) is largest on the marker, and how often
 * the model says "present".
 */
export async function tokenAttentionChecks(
  model: tfl.LayersModel, rng: Rng, count: number,
): Promise<{ accuracy: number; markerAttention: number; presentRecall: number; withMarker: number; count: number }> {
  const batch = makeTokenBatch(rng, count);
  const d = tokenData(batch);
  const acc = await accuracy(model, d);
  const pred = await predictClasses(model, d);
  const x = tokenTensor(batch, range(0, count));
  const att = captureAttention(model, x);
  x.dispose();
  const last = att.layers[att.layers.length - 1];
  const n = att.tokens;
  let withMarker = 0, hits = 0, recalled = 0;
  for (let b = 0; b < count; b++) {
    if (batch.labels[b] !== 1) continue;
    withMarker++;
    if (pred[b] === 1) recalled++;
    const a = exampleSlice(last, b, att.heads, n);
    const row = new Float64Array(n);
    for (let h = 0; h < att.heads; h++) for (let j = 0; j < n; j++) row[j] += a[h * n * n + j] / att.heads;
    if (argmax(row) === batch.markerIndices[b]) hits++;
  }
  return { accuracy: acc, markerAttention: hits / withMarker, presentRecall: recalled / withMarker, withMarker, count };
}

export interface AttentionFixtureOptions {
  /** The demo folder: models go to <out>/models, sample images to <out>/vit-images. */
  out: string;
  /** The fixtures' seed; the ViT uses seed + VIT_SEED_OFFSET, the token model seed + TOKENS_SEED_OFFSET. */
  seed: number;
  /** A tiny smoke-test training run. */
  quick: boolean;
  /** Overrides of the training defaults. */
  training?: Partial<TrainingOptions>;
  log?: (line: string) => void;
}

function encodePng(pixels: Uint8Array, size: number, file: string): Promise<unknown> {
  return sharp(Buffer.from(pixels), { raw: { width: size, height: size, channels: 3 } }).png({ compressionLevel: 9 }).toFile(file);
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

/** Saves a model into a fresh folder. */
async function saveModel(model: tfl.LayersModel, dir: string): Promise<void> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  await model.save(fsSaveHandler(dir));
}

/**
 * Two sample images per class (the class in turn, the deciding patch drawn), as
 * <class>-<n>.png, and patches.json: per file its label, deciding patch (row-major index into
 * the 4×4 grid), that patch's row and column, and the marker's pixel box.
 */
async function writeVitSamples(model: tfl.LayersModel, dir: string, seed: number, log: (s: string) => void): Promise<void> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const rng = mulberry32(seed);
  const index: Record<string, { label: string; patch: number; row: number; col: number; box: { x: number; y: number; w: number; h: number } }> = {};
  for (let n = 1; n <= 2; n++) {
    for (let label = 0; label < MARKER_CLASSES.length; label++) {
      const im = makeVitImage(rng, { label });
      const file = `${MARKER_CLASSES[label]}-${n}.png`;
      await encodePng(im.pixels, VIT_INPUT_SIZE, path.join(dir, file));
      index[file] = { label: MARKER_CLASSES[label], patch: im.patch, row: Math.floor(im.patch / VIT_GRID), col: im.patch % VIT_GRID, box: im.box };
      const batch: VitBatch = { pixels: im.pixels, labels: Int32Array.of(label), patches: Int32Array.of(im.patch), size: VIT_INPUT_SIZE };
      const x = vitTensor(batch, [0]);
      const probs = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
      const att = captureAttention(model, x);
      x.dispose();
      const r = rollout({ layers: att.layers, heads: att.heads, tokens: att.tokens }, { fusion: 'mean' });
      const peak = argmax(clsRow(r, att.tokens, { cls: true }));
      const best = argmax(probs);
      log(`  ${file}: patch ${im.patch}, predicted ${MARKER_CLASSES[best]} (${pct(probs[best])}), rollout peak at patch ${peak}`);
    }
  }
  writeJson(path.join(dir, 'patches.json'), index);
}

/** Trains, checks and writes the tiny ViT and its sample images. Returns what it wrote, for the log. */
export async function makeVitFixture(opts: AttentionFixtureOptions): Promise<string> {
  const log = opts.log ?? console.log;
  const o: TrainingOptions = { ...VIT_TRAINING, ...(opts.quick ? QUICK : {}), ...opts.training };
  const seed = opts.seed + VIT_SEED_OFFSET;
  const started = Date.now();
  // Separate streams: training set, validation set, initial weights, shuffling, checks, samples.
  const data = makeVitBatch(mulberry32(seed), o.train);
  const val = makeVitBatch(mulberry32(seed + 1), o.val);
  const { model, trainModel, commit } = buildTinyVit(seed + 2);
  log(`vit: ${o.train} training and ${o.val} validation images, seed ${seed}; model ${model.name}, ${model.countParams()} parameters`);
  const t = Date.now();
  const run: TrainingRun = {
    trainModel, data: { labels: data.labels, inputs: (idx) => patchTensor(data, idx) }, model, val: vitData(val), commit, classes: MARKER_CLASSES.length, tag: 'vit',
  };
  await withFastTileGradient(() => train(run, o, seed + 3, log));
  const trainSeconds = (Date.now() - t) / 1000;
  const valAcc = await accuracy(model, vitData(val));
  log(`vit: trained in ${trainSeconds.toFixed(0)} s, validation accuracy ${pct(valAcc)} on ${o.val} images`);

  const modelDir = path.join(opts.out, 'models', 'tiny-vit');
  await saveModel(model, modelDir);
  model.dispose();
  const loaded = await tfl.loadLayersModel(fsLoadHandler(modelDir));
  const checks = await vitAttentionChecks(loaded, mulberry32(seed + 4), opts.quick ? 100 : 500);
  log(`vit: saved model reloaded: accuracy ${pct(checks.accuracy)}, rollout peak on the deciding patch ${pct(checks.rolloutPeak)} of ${checks.count} fresh images`);
  fs.writeFileSync(path.join(modelDir, 'labels.txt'), MARKER_CLASSES.join('\n') + '\n');
  const a = VIT_ARCH;
  writeJson(path.join(modelDir, 'metadata.json'), {
    labels: [...MARKER_CLASSES],
    preprocess: 'unit',
    inputSize: [VIT_INPUT_SIZE, VIT_INPUT_SIZE],
    description:
      'Demo ViT: which marker (plus, ring, cross) one 8×8 patch of a 32×32 textured image holds; the other patches carry no class information. ' +
      `Patch embedding (Conv2D 8×8 stride 8) → 16 tokens + CLS → ${a.blocks} pre-norm Transformer block${a.blocks === 1 ? '' : 's'} (${a.heads} heads, width ${a.dim}) → CLS token → dense softmax. ` +
      `Made by demo/attention-fixture.ts; validation accuracy ${pct(valAcc)} on ${o.val} synthetic images, ` +
      `attention rollout peaks on the deciding patch in ${pct(checks.rolloutPeak)} of ${checks.count} fresh images.`,
    seed,
    patchGrid: [VIT_GRID, VIT_GRID],
    clsToken: true,
    patchSize: VIT_PATCH_SIZE,
    checks: { images: checks.count, accuracy: round4(checks.accuracy), rolloutPeakOnDecidingPatch: round4(checks.rolloutPeak) },
  });
  log('vit: sample images:');
  const imagesDir = path.join(opts.out, 'vit-images');
  await writeVitSamples(loaded, imagesDir, seed + 5, log);
  loaded.dispose();
  const weightsKb = fs.statSync(path.join(modelDir, 'weights.bin')).size / 1024;
  log(`vit: wrote ${modelDir} (weights.bin ${weightsKb.toFixed(0)} KB) and ${imagesDir} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return `${modelDir} and ${imagesDir}`;
}

/** Trains, checks and writes the token model. Returns what it wrote, for the log. */
export async function makeTokenFixture(opts: AttentionFixtureOptions): Promise<string> {
  const log = opts.log ?? console.log;
  const o: TrainingOptions = { ...TOKEN_TRAINING, ...(opts.quick ? QUICK : {}), ...opts.training };
  const seed = opts.seed + TOKENS_SEED_OFFSET;
  const started = Date.now();
  const data = makeTokenBatch(mulberry32(seed), o.train);
  const val = makeTokenBatch(mulberry32(seed + 1), o.val);
  const model = buildTokenModel(seed + 2);
  log(`tokens: ${o.train} training and ${o.val} validation sequences, seed ${seed}; model ${model.name}, ${model.countParams()} parameters`);
  const t = Date.now();
  const run: TrainingRun = { trainModel: model, data: tokenData(data), model, val: tokenData(val), classes: TOKEN_CLASSES.length, tag: 'tokens' };
  await withFastTileGradient(() => train(run, o, seed + 3, log));
  const trainSeconds = (Date.now() - t) / 1000;
  const valAcc = await accuracy(model, tokenData(val));
  log(`tokens: trained in ${trainSeconds.toFixed(0)} s, validation accuracy ${pct(valAcc)} on ${o.val} sequences`);

  const modelDir = path.join(opts.out, 'models', 'token-marker');
  await saveModel(model, modelDir);
  model.dispose();
  const loaded = await tfl.loadLayersModel(fsLoadHandler(modelDir));
  const checks = await tokenAttentionChecks(loaded, mulberry32(seed + 4), opts.quick ? 100 : 1000);
  log(
    `tokens: saved model reloaded: accuracy ${pct(checks.accuracy)} on ${checks.count} fresh sequences; of the ${checks.withMarker} with "${MARKER_TOKEN}", ` +
      `${pct(checks.presentRecall)} called present, and in ${pct(checks.markerAttention)} the CLS token's last-layer attention (mean over heads) is largest on it`,
  );
  const ex = textToTokens(TOKEN_EXAMPLE);
  const x = tf.tensor2d(ex, [1, TOKEN_SEQ_LENGTH], 'int32');
  const probs = tf.tidy(() => (loaded.predict(x) as tf.Tensor).dataSync());
  x.dispose();
  log(`tokens: example "${TOKEN_EXAMPLE}": P(present) ${pct(probs[1])}`);
  loaded.dispose();
  fs.writeFileSync(path.join(modelDir, 'labels.txt'), TOKEN_CLASSES.join('\n') + '\n');
  const a = TOKEN_ARCH;
  writeJson(path.join(modelDir, 'metadata.json'), {
    labels: [...TOKEN_CLASSES],
    vocab: [...TOKEN_VOCAB],
    example: TOKEN_EXAMPLE,
    description:
      `Demo token model: whether the word "${MARKER_TOKEN}" occurs in a sequence of ${TOKEN_SEQ_LENGTH} token ids ` +
      `("${CLS_TOKEN}" first, 5–11 random words, then "${PAD_TOKEN}"). Embedding → position embedding → ${a.blocks} pre-norm Transformer block${a.blocks === 1 ? '' : 's'} ` +
      `(${a.heads} heads, width ${a.dim}) → CLS token → dense softmax. Made by demo/attention-fixture.ts; validation accuracy ${pct(valAcc)} on ${o.val} sequences; ` +
      `in the last layer the CLS token attends most to "${MARKER_TOKEN}" in ${pct(checks.markerAttention)} of ${checks.withMarker} fresh sequences that hold it.`,
    seed,
    sequenceLength: TOKEN_SEQ_LENGTH,
    clsToken: true,
    padToken: PAD_TOKEN,
    markerToken: MARKER_TOKEN,
    checks: {
      sequences: checks.count,
      accuracy: round4(checks.accuracy),
      withMarker: checks.withMarker,
      markerAttentionLastLayer: round4(checks.markerAttention),
    },
  });
  const weightsKb = fs.statSync(path.join(modelDir, 'weights.bin')).size / 1024;
  log(`tokens: wrote ${modelDir} (weights.bin ${weightsKb.toFixed(0)} KB) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return modelDir;
}

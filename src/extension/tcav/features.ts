/**
 * TCAV's per-image features: layer activations of concept and random images (forward passes) and
 * gradients of the class logit at the layer for class images (backward passes), computed for one
 * chunk of images at a time, only where the on-disk cache lacks them, and written to it image by
 * image, so nothing accumulates in memory. Reads them back one vector per image.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError, throwIfCancelled } from '../../shared/errors';
import { loadModelInput } from '../image/decode';
import { preprocess, type PreprocessPreset } from '../image/preprocess';
import type { ModelAdapter } from '../model/types';
import { activationBatch } from '../model/forward';
import { autoBatchSize } from '../explain/batch-size';
import { yieldToEventLoop } from '../util/event-loop';
import type { ActivationCache, FeatureKind } from './activation-cache';

export interface FeatureCounts {
  /** Image vectors found in the cache. */
  hits: number;
  /** Image vectors computed by forward (and backward) passes. */
  computed: number;
}

/** One chunk's work: its images' vectors of one kind at every layer. */
export interface ChunkJob {
  adapter: ModelAdapter;
  preset: PreprocessPreset;
  cache: ActivationCache;
  layers: readonly string[];
  kind: FeatureKind;
  /** Images of distinct content (two workers never write the same file), with their content hashes. */
  files: readonly string[];
  hashes: readonly string[];
  signal?: AbortSignal;
}

/** Elements of one image's vector at a layer, when the model states the shape fully. */
export function featureLength(adapter: ModelAdapter, layer: string): number | undefined {
  const info = adapter.layers.find((l) => l.name === layer);
  if (!info) return undefined;
  const dims = info.outputShape.slice(1);
  return dims.every((d) => typeof d === 'number' && d > 0) ? dims.reduce<number>((p, d) => p * (d as number), 1) : undefined;
}

async function inputBatch(adapter: ModelAdapter, preset: PreprocessPreset, files: readonly string[], signal?: AbortSignal): Promise<tf.Tensor4D> {
  const [h, w, c] = adapter.inputShape;
  const pixels = new Float32Array(files.length * h * w * c);
  for (let i = 0; i < files.length; i++) {
    throwIfCancelled(signal);
    const input = await loadModelInput(files[i], { height: h, width: w, channels: c as 1 | 3 });
    pixels.set(input.pixels, i * h * w * c);
  }
  return tf.tidy(() => preprocess(tf.tensor4d(pixels, [files.length, h, w, c]), preset));
}

function targetIndex(kind: FeatureKind): number | undefined {
  return kind === 'activation' ? undefined : Number(kind.slice('gradient-'.length));
}

/** Rows `rows` of `x`: `x` itself when they are all of it, else a copy (slice or gather copy values exactly). */
function rowsOf(x: tf.Tensor4D, rows: readonly number[]): tf.Tensor4D {
  const contiguous = rows.every((r, k) => r === rows[0] + k);
  if (contiguous && rows.length === x.shape[0]) return x;
  if (contiguous) return tf.slice(x, [rows[0], 0, 0, 0], [rows.length, -1, -1, -1]);
  return tf.tidy(() => tf.gather(x, tf.tensor1d([...rows], 'int32')));
}

async function featureBatch(adapter: ModelAdapter, x: tf.Tensor4D, layer: string, index: number | undefined): Promise<Float32Array> {
  if (index === undefined) return (await activationBatch(adapter, x, layer)).data;
  const g = adapter.layerGradient(x, layer, { index, space: 'logit' });
  tf.dispose([g.activation, g.scores]);
  try {
    return (await g.grad.data()) as Float32Array;
  } finally {
    g.grad.dispose();
  }
}

/**
 * Makes sure the cache holds the chunk's vector of every image at every layer. Each image is
 * decoded once for all layers; per layer, the images the cache lacks go through the model in
 * batches of the model's batch size, in the chunk's order, so the batches (and with them every bit
 * of the vectors) depend only on the chunk and what the cache held, not on which worker runs it.
 */
export async function fillChunk(job: ChunkJob): Promise<FeatureCounts> {
  const { adapter, cache, kind } = job;
  const counts: FeatureCounts = { hits: 0, computed: 0 };
  const missing = job.layers.map((layer) => {
    const length = featureLength(adapter, layer);
    const idx: number[] = [];
    job.hashes.forEach((h, i) => {
      if (cache.has(layer, kind, h, length)) counts.hits++;
      else idx.push(i);
    });
    return idx;
  });
  const needed = [...new Set(missing.flat())].sort((a, b) => a - b);
  if (needed.length === 0) return counts;
  const row = new Map(needed.map((i, r) => [i, r]));
  const index = targetIndex(kind);
  const batchSize = autoBatchSize(adapter, index === undefined ? 'forward' : 'gradient');
  const x = await inputBatch(adapter, job.preset, needed.map((i) => job.files[i]), job.signal);
  try {
    for (const [l, layer] of job.layers.entries()) {
      const length = featureLength(adapter, layer);
      for (let start = 0; start < missing[l].length; start += batchSize) {
        throwIfCancelled(job.signal);
        const idx = missing[l].slice(start, start + batchSize);
        const batch = rowsOf(x, idx.map((i) => row.get(i)!));
        let data: Float32Array;
        try {
          data = await featureBatch(adapter, batch, layer, index);
        } finally {
          if (batch !== x) batch.dispose();
        }
        const per = data.length / idx.length;
        if (length !== undefined && per !== length) throw new UserError(`layer ${layer} gave ${per} values per image, its shape says ${length}`);
        idx.forEach((i, k) => {
          cache.write(layer, kind, job.hashes[i], data.subarray(k * per, (k + 1) * per));
          counts.computed++;
        });
        // Lets a cancel (a message to this worker) arrive between batches.
        await yieldToEventLoop();
      }
    }
  } finally {
    x.dispose();
  }
  return counts;
}

/**
 * Reads cached vectors back (after the features are filled). Vectors are kept in memory up to a
 * byte budget, so small experiments read each file once and large ones stay bounded (the rest is
 * re-read from disk, where the OS caches it).
 */
export class FeatureReader {
  private readonly kept = new Map<string, Float32Array>();
  private bytes = 0;

  constructor(private readonly cache: ActivationCache, private readonly budget = 256e6) {}

  read(layer: string, kind: FeatureKind, hashes: readonly string[]): Float32Array[] {
    return hashes.map((hsh) => {
      const key = `${layer}\n${kind}\n${hsh}`;
      const known = this.kept.get(key);
      if (known) return known;
      const v = this.cache.read(layer, kind, hsh);
      if (!v) throw new UserError(`the cached features of an image at layer ${layer} disappeared from ${this.cache.root} during the run`);
      if (this.bytes + v.byteLength <= this.budget) {
        this.kept.set(key, v);
        this.bytes += v.byteLength;
      }
      return v;
    });
  }
}

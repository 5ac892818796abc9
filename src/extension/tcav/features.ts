/**
 * Fills TCAV's activation cache: layer activations of concept and random images (forward
 * passes) and gradients of the class logit at the layer for class images (backward passes),
 * computed in batches only for images the cache lacks and written to disk image by image, so
 * nothing accumulates in memory. Reads them back one vector per image.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError, throwIfCancelled } from '../../shared/errors';
import { loadModelInput } from '../image/decode';
import { preprocess, type PreprocessPreset } from '../image/preprocess';
import type { ModelAdapter } from '../model/types';
import { yieldToEventLoop } from '../explain/methods/event-loop';
import { imageHash, type ActivationCache, type FeatureKind } from './activation-cache';

export interface FeatureCounts {
  /** Image vectors found in the cache. */
  hits: number;
  /** Image vectors computed by forward (and backward) passes. */
  computed: number;
}

export interface FeatureJob {
  adapter: ModelAdapter;
  preset: PreprocessPreset;
  cache: ActivationCache;
  layer: string;
  kind: FeatureKind;
  images: readonly string[];
  batchSize: number;
  counts: FeatureCounts;
  signal?: AbortSignal;
  /** Called after each image, cached or computed. */
  onImage?: () => void;
}

/** Elements of one image's vector at a layer, when the model states the shape fully. */
export function featureLength(adapter: ModelAdapter, layer: string): number | undefined {
  const info = adapter.layers.find((l) => l.name === layer);
  if (!info) return undefined;
  const dims = info.outputShape.slice(1);
  return dims.every((d) => typeof d === 'number' && d > 0) ? dims.reduce<number>((p, d) => p * (d as number), 1) : undefined;
}

async function inputBatch(adapter: ModelAdapter, preset: PreprocessPreset, files: readonly string[]): Promise<tf.Tensor4D> {
  const [h, w, c] = adapter.inputShape;
  const pixels = new Float32Array(files.length * h * w * c);
  for (let i = 0; i < files.length; i++) {
    const input = await loadModelInput(files[i], { height: h, width: w, channels: c as 1 | 3 });
    pixels.set(input.pixels, i * h * w * c);
  }
  return tf.tidy(() => preprocess(tf.tensor4d(pixels, [files.length, h, w, c]), preset));
}

function targetIndex(kind: FeatureKind): number | undefined {
  return kind === 'activation' ? undefined : Number(kind.slice('gradient-'.length));
}

/** Makes sure the cache holds the job's vector for every image; returns the images' content hashes. */
export async function ensureFeatures(job: FeatureJob): Promise<string[]> {
  const { adapter, cache, layer, kind } = job;
  const length = featureLength(adapter, layer);
  const hashes = job.images.map((f) => imageHash(f));
  const missing: number[] = [];
  // The same image may appear twice (random sets sampled with overlap): compute it once.
  const seen = new Set<string>();
  hashes.forEach((hsh, i) => {
    if (cache.has(layer, kind, hsh, length) || seen.has(hsh)) {
      if (!seen.has(hsh)) job.counts.hits++;
      job.onImage?.();
    } else missing.push(i);
    seen.add(hsh);
  });
  const index = targetIndex(kind);
  for (let start = 0; start < missing.length; start += job.batchSize) {
    throwIfCancelled(job.signal);
    const idx = missing.slice(start, start + job.batchSize);
    const x = await inputBatch(adapter, job.preset, idx.map((i) => job.images[i]));
    let out: tf.Tensor;
    try {
      out = index === undefined
        ? adapter.activations(x, layer)
        : (() => {
            const g = adapter.layerGradient(x, layer, { index, space: 'logit' });
            tf.dispose([g.activation, g.scores]);
            return g.grad;
          })();
    } finally {
      x.dispose();
    }
    const data = (await out.data()) as Float32Array;
    const per = out.size / idx.length;
    out.dispose();
    if (length !== undefined && per !== length) throw new UserError(`layer ${layer} gave ${per} values per image, its shape says ${length}`);
    idx.forEach((i, k) => {
      cache.write(layer, kind, hashes[i], data.slice(k * per, (k + 1) * per));
      job.counts.computed++;
      job.onImage?.();
    });
    await yieldToEventLoop();
  }
  return hashes;
}

/**
 * Reads cached vectors back (after ensureFeatures). Vectors are kept in memory up to a byte
 * budget, so small experiments read each file once and large ones stay bounded (the rest is
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

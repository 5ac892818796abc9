/**
 * TCAV's activations and class-logit gradients spread over the compute pool by image chunks. The
 * lead hashes the images (the cache is keyed by content), counts what the cache already holds, and
 * splits the images it lacks into chunks of TCAV_CHUNK_SIZE; shard i fills chunk i of the cache
 * (fillChunk) in whichever worker takes it. Every worker writes its own images' files, each under
 * its image's content hash and by an atomic rename, so workers never write the same file and a
 * reader never sees a short one. The lead then reads the vectors from the cache.
 *
 * The chunks (and the batches inside them) depend only on the experiment and on what the cache
 * held, never on the number of workers, so the vectors, and everything computed from them, are
 * bit for bit those of one worker, or of no pool at all.
 */
import { threadId } from 'node:worker_threads';
import { throwIfCancelled } from '../../shared/errors';
import { DEFAULT_BATCH_SIZE } from '../explain/explainer';
import type { LoadedModel } from '../model/load';
import type { ModelAdapter } from '../model/types';
import type { PreprocessPreset } from '../image/preprocess';
import { spreadShards, type ShardKind, type Spread } from '../compute/spread';
import { ActivationCache, imageHash, type FeatureKind } from './activation-cache';
import { featureLength, fillChunk, type FeatureCounts } from './features';

/**
 * Images per chunk: the largest batch, so a small model's chunk is one batch per layer (no more
 * forward calls than without chunks), while a typical experiment (hundreds of images) still has
 * enough chunks to keep every worker busy until near the end.
 */
export const TCAV_CHUNK_SIZE = DEFAULT_BATCH_SIZE;

/** The images of one chunk: all of one kind, of distinct content. */
export interface FeatureChunk {
  kind: FeatureKind;
  files: string[];
  hashes: string[];
}

/** What every shard of a spread shares (plain data: it is sent to each helper once). */
export interface TcavChunkPayload {
  cache: { root: string; model: string; input: string };
  preset: PreprocessPreset;
  layers: string[];
  chunks: FeatureChunk[];
}

export interface TcavChunkResult extends FeatureCounts {
  /** Time the shard took (ms), to split the phase's time between activations and gradients. */
  ms: number;
  /** The thread that computed it (tests and benchmarks see how the chunks were shared out). */
  thread: number;
}

/** Shard i: chunk i's vectors at every layer, into the cache. */
export const tcavChunkShard: ShardKind<TcavChunkPayload, TcavChunkResult> = {
  kind: 'tcav-chunk',
  async run(p, i, ctx) {
    const t0 = performance.now();
    const { kind, files, hashes } = p.chunks[i];
    const cache = new ActivationCache(p.cache.root, p.cache.model, p.cache.input);
    const counts = await fillChunk({ adapter: ctx.adapter, preset: p.preset, cache, layers: p.layers, kind, files, hashes, signal: ctx.signal });
    return { ...counts, ms: performance.now() - t0, thread: threadId };
  },
};

/** Images whose vectors of one kind are wanted. */
export interface FeatureSet {
  kind: FeatureKind;
  images: readonly string[];
}

export interface FeaturePlan {
  /** Content hash by image path. */
  hashes: Map<string, string>;
  /** Vectors (image × layer) per set, counting images of the same content once. */
  vectors: number[];
  /** Vectors per set the cache holds for images it holds completely (the chunks count the rest). */
  cached: number[];
  chunks: FeatureChunk[];
  /** The set each chunk belongs to. */
  chunkSet: number[];
}

/**
 * Hashes the images and chunks the ones the cache lacks at some layer, set by set, in the sets'
 * order. An image of the same content as an earlier one of its set is computed (and counted) once.
 */
export function planFeatures(adapter: ModelAdapter, cache: ActivationCache, layers: readonly string[], sets: readonly FeatureSet[], signal?: AbortSignal): FeaturePlan {
  const plan: FeaturePlan = { hashes: new Map(), vectors: [], cached: [], chunks: [], chunkSet: [] };
  const lengths = layers.map((l) => featureLength(adapter, l));
  for (const [s, set] of sets.entries()) {
    const seen = new Set<string>();
    const files: string[] = [];
    const hashes: string[] = [];
    let cached = 0;
    for (const file of set.images) {
      throwIfCancelled(signal);
      const hash = imageHash(file);
      plan.hashes.set(file, hash);
      if (seen.has(hash)) continue;
      seen.add(hash);
      if (layers.every((l, k) => cache.has(l, set.kind, hash, lengths[k]))) cached += layers.length;
      else {
        files.push(file);
        hashes.push(hash);
      }
    }
    plan.vectors.push(seen.size * layers.length);
    plan.cached.push(cached);
    for (let start = 0; start < files.length; start += TCAV_CHUNK_SIZE) {
      plan.chunks.push({ kind: set.kind, files: files.slice(start, start + TCAV_CHUNK_SIZE), hashes: hashes.slice(start, start + TCAV_CHUNK_SIZE) });
      plan.chunkSet.push(s);
    }
  }
  return plan;
}

export interface FillOptions {
  adapter: ModelAdapter;
  model?: LoadedModel;
  preset: PreprocessPreset;
  cache: ActivationCache;
  layers: readonly string[];
  counts: FeatureCounts;
  signal?: AbortSignal;
  /** Where the chunks go (absent: computed here, one after another). */
  spread?: Spread;
  /** Chunk `index` of set `set` is done: its vectors (cached and computed) are in the cache. */
  onChunk?: (index: number, set: number, result: TcavChunkResult) => void;
}

/** Computes a plan's chunks; returns the time the shards of each set took (ms), summed over workers. */
export async function fillPlan(plan: FeaturePlan, o: FillOptions): Promise<number[]> {
  const ms = plan.vectors.map(() => 0);
  o.counts.hits += plan.cached.reduce((a, b) => a + b, 0);
  if (plan.chunks.length === 0) return ms;
  const payload: TcavChunkPayload = {
    cache: { root: o.cache.root, model: o.cache.model, input: o.cache.input }, preset: o.preset, layers: [...o.layers], chunks: plan.chunks,
  };
  await spreadShards(o.spread, tcavChunkShard, payload, plan.chunks.length, { adapter: o.adapter, model: o.model, signal: o.signal }, (i, r) => {
    const set = plan.chunkSet[i];
    o.counts.hits += r.hits;
    o.counts.computed += r.computed;
    ms[set] += r.ms;
    o.onChunk?.(i, set, r);
  });
  return ms;
}

/** Makes sure the cache holds every set's vectors at every layer; returns the images' content hashes by path. */
export async function ensureFeatures(o: FillOptions & { sets: readonly FeatureSet[] }): Promise<Map<string, string>> {
  const plan = planFeatures(o.adapter, o.cache, o.layers, o.sets, o.signal);
  await fillPlan(plan, o);
  return plan.hashes;
}

/**
 * TCAV's CAVs trained over the compute pool. The caller gives the CAVs in groups (run-tcav: one
 * group per layer and run, holding that run's random-vs-random, concept and relative CAVs); the
 * lead reads the ones the CAV cache already holds, and every group that still lacks some becomes
 * one shard: whichever worker takes it reads the activation rows from the on-disk activation
 * cache (the lead has filled it), trains the missing CAVs, writes them to the CAV cache and
 * returns them. The lead then scores each CAV as it arrives.
 *
 * A CAV is a pure function of its rows, its seed and the solver settings (cav.ts), the rows are
 * the bytes the cache holds, and the groups depend only on the experiment and on what the cache
 * held, never on the number of workers: every CAV, and everything computed from it, is bit for
 * bit that of one worker, or of no pool at all.
 */
import { threadId } from 'node:worker_threads';
import { throwIfCancelled } from '../../shared/errors';
import { yieldToEventLoop } from '../util/event-loop';
import type { LoadedModel } from '../model/load';
import type { ModelAdapter } from '../model/types';
import { spreadShards, type ShardKind, type Spread } from '../compute/spread';
import { ActivationCache } from './activation-cache';
import { trainCav, type Cav, type CavOptions } from './cav';
import { CavCache, type CavJob } from './cav-cache';
import { FeatureReader } from './features';

/** One CAV a shard obtains, its image sets given as indices into the payload's `sets`. */
export interface CavEntry {
  /** Its place in its group. */
  at: number;
  layer: string;
  positive: number;
  negative: number;
  options: CavOptions;
}

/** What every shard of a spread shares (plain data: it is sent to each helper once). */
export interface TcavCavPayload {
  cache: { root: string; model: string; input: string };
  /**
   * Content hashes of each image set, in the order its rows go to trainCav: a concept is used by
   * every run and a random set by several CAVs, so each set is sent once and named by index.
   */
  sets: string[][];
  /** Shard i obtains shards[i]: the CAVs of one group that the cache lacked when the lead looked. */
  shards: CavEntry[][];
}

export interface ObtainedCav {
  at: number;
  cav: Cav;
  /** Trained by this shard (false: another run wrote it to the cache since the lead looked). */
  trained: boolean;
}

export interface TcavCavResult {
  cavs: ObtainedCav[];
  /** The thread that obtained them (tests and benchmarks see how the groups were shared out). */
  thread: number;
}

const READER = 'tcav-cav-reader';
/**
 * Bytes of rows a worker keeps between CAVs. Small: the rows past it are re-read from the OS's
 * file cache, in far less time than a CAV takes to train on them (training goes over its n rows
 * n/2 times or more: the Gram matrix alone, cav.ts), and the pool has one such reader per worker.
 */
const READER_BUDGET = 64e6;

/**
 * Shard i: the CAVs of shards[i], in order, from the CAV cache or trained. `onCav` sees each as it
 * is obtained, which only the worker running the shard can (the lead, for its own shards: progress
 * and cancellation per CAV rather than per group). A helper looks the kind up by name in the
 * registry and gets `tcavCavShard`; the lead may pass a kind with hooks of the same name, since
 * the hooks only observe or replace trainCav by an equal function, never change a CAV.
 */
export function cavShardKind(train: typeof trainCav = trainCav, onCav?: (index: number, got: ObtainedCav) => void): ShardKind<TcavCavPayload, TcavCavResult> {
  return {
    kind: 'tcav-cav',
    async run(p, i, ctx) {
      // One reader per worker and spread: a concept's rows, which every run of its layer uses, are
      // read from disk once, up to a budget per worker (every worker of the pool keeps one).
      let reader = ctx.state.get(READER) as FeatureReader | undefined;
      const cache = new ActivationCache(p.cache.root, p.cache.model, p.cache.input);
      if (!reader) {
        reader = new FeatureReader(cache, READER_BUDGET);
        ctx.state.set(READER, reader);
      }
      const rows = reader;
      const cavCache = new CavCache(cache);
      const out: ObtainedCav[] = [];
      for (const [n, e] of p.shards[i].entries()) {
        // Between CAVs (each up to seconds of solver): lets a cancel message reach this worker.
        if (n > 0) await yieldToEventLoop();
        throwIfCancelled(ctx.signal);
        const job: CavJob = { layer: e.layer, positive: p.sets[e.positive], negative: p.sets[e.negative], options: e.options };
        let trained = false;
        // Rows are read only to train a CAV the cache lacks.
        const cav = cavCache.obtain(job, () => {
          trained = true;
          return train(rows.read(e.layer, 'activation', job.positive), rows.read(e.layer, 'activation', job.negative), e.options);
        });
        const got: ObtainedCav = { at: e.at, cav, trained };
        out.push(got);
        onCav?.(i, got);
      }
      return { cavs: out, thread: threadId };
    },
  };
}

/** The kind a helper runs (registry.ts). */
export const tcavCavShard = cavShardKind();

/** How one group's CAVs were obtained. */
export interface CavGroupDone {
  /** CAVs trained, and read from the CAV cache. */
  trained: number;
  cached: number;
  /** The thread that obtained the group's missing CAVs (the lead's, when the cache held all). */
  thread: number;
}

export interface ObtainCavsOptions {
  adapter: ModelAdapter;
  model?: LoadedModel;
  /** The activation cache the rows are read from; the CAV cache lies beside it. */
  cache: ActivationCache;
  /** The CAVs: group g's missing ones are one shard. */
  groups: readonly (readonly CavJob[])[];
  signal?: AbortSignal;
  /** Where the shards go (absent: here, one after another). */
  spread?: Spread;
  /**
   * Trains a CAV the cache lacks (default trainCav): tests count its calls. A function cannot be
   * sent to another worker, so with one every CAV is obtained here.
   */
  train?: typeof trainCav;
  /** CAV k of group g is known, in any order. */
  onCav(g: number, k: number, cav: Cav): void;
  /** Every CAV of group g is known. */
  onGroup?(g: number, done: CavGroupDone): void;
}

/** Obtains every CAV of every group: from the CAV cache, else trained by a shard. */
export async function obtainCavs(o: ObtainCavsOptions): Promise<void> {
  const cavCache = new CavCache(o.cache);
  const sets: string[][] = [];
  const setIndex = new Map<string, number>();
  const setOf = (hashes: readonly string[]) => {
    const key = hashes.join('\n');
    let s = setIndex.get(key);
    if (s === undefined) {
      s = sets.length;
      sets.push([...hashes]);
      setIndex.set(key, s);
    }
    return s;
  };
  const shards: CavEntry[][] = [];
  /** The group of each shard, and how many of its CAVs the lead read from the cache. */
  const shardGroup: number[] = [];
  const cachedBefore: number[] = [];
  for (const [g, group] of o.groups.entries()) {
    // A warm rerun reads every CAV here: a cancel may come between groups.
    if (g > 0) await yieldToEventLoop();
    throwIfCancelled(o.signal);
    const entries: CavEntry[] = [];
    let cached = 0;
    for (const [k, job] of group.entries()) {
      const known = cavCache.read(job.layer, cavCache.key(job));
      if (known) {
        cached++;
        o.onCav(g, k, known);
      } else {
        entries.push({ at: k, layer: job.layer, positive: setOf(job.positive), negative: setOf(job.negative), options: job.options });
      }
    }
    if (entries.length === 0) {
      o.onGroup?.(g, { trained: 0, cached, thread: threadId });
    } else {
      shards.push(entries);
      shardGroup.push(g);
      cachedBefore.push(cached);
    }
  }
  if (shards.length === 0) return;

  const payload: TcavCavPayload = { cache: { root: o.cache.root, model: o.cache.model, input: o.cache.input }, sets, shards };
  /** CAVs of shard i already handed to onCav (the lead's own shards hand each on as it is obtained). */
  const handed = shards.map(() => 0);
  const kind = cavShardKind(o.train, (i, got) => {
    handed[i]++;
    o.onCav(shardGroup[i], got.at, got.cav);
  });
  await spreadShards(o.train ? undefined : o.spread, kind, payload, shards.length, { adapter: o.adapter, model: o.model, signal: o.signal }, (i, r) => {
    for (const got of r.cavs.slice(handed[i])) o.onCav(shardGroup[i], got.at, got.cav);
    handed[i] = r.cavs.length;
    const trained = r.cavs.filter((c) => c.trained).length;
    o.onGroup?.(shardGroup[i], { trained, cached: cachedBefore[i] + r.cavs.length - trained, thread: r.thread });
  });
}

/**
 * Work split into shards: a job names a kind of shard, a payload every shard shares, and a count;
 * each shard is computed by its index alone. Who computes a shard (the worker that runs the job, or
 * another worker of the pool) does not change its value, and results are combined in index order,
 * so a job's result is the same for any number of workers.
 *
 * A method that can split its work declares a ShardKind (one function of payload and index) and
 * calls `spreadShards`; with no pool (tests, one worker) the shards run here, one after another.
 */
import type { ModelAdapter } from '../model/types';
import type { LoadedModel } from '../model/load';
import { throwIfCancelled } from '../../shared/errors';
import { yieldToEventLoop } from '../util/event-loop';

export interface ShardContext {
  /** The model the job runs on, in the state the job set up. */
  adapter: ModelAdapter;
  /** The loaded model, when the shard runs in a worker that loaded it itself. */
  model?: LoadedModel;
  signal?: AbortSignal;
  /**
   * State kept while one worker takes part in one spread (decoded inputs, a weight snapshot):
   * set on the first shard, reused by the next ones, dropped at the end.
   */
  state: Map<string, unknown>;
  /** Runs `f` when this worker's part in the spread ends (restore weights, dispose tensors). */
  onEnd(f: () => void | Promise<void>): void;
  /** Where nested work may spread to (absent: it runs here). */
  spread?: Spread;
  /**
   * Reports how far the running shard is, 0..1, to the spread's `onProgress` (set per shard when
   * someone listens): a shard that is one long method's map tells how far that map is.
   */
  progress?: (fraction: number) => void;
}

/** Where a spread reports: each result as it arrives, and a running shard's own progress. */
export type ShardResultHandler<R> = (index: number, result: R) => void;
export type ShardProgressHandler = (index: number, fraction: number) => void;

export interface ShardKind<P = unknown, R = unknown> {
  /** Unique name (the pool sends it to other workers). */
  readonly kind: string;
  run(payload: P, index: number, ctx: ShardContext): Promise<R>;
}

export interface Spread {
  /**
   * Computes shards 0..count−1 of `kind`, wherever there is a free worker; `onResult` sees each
   * result as it arrives (in any order), `onProgress` what running shards report of themselves;
   * the returned array is in index order.
   */
  run<P, R>(kind: ShardKind<P, R>, payload: P, count: number, onResult?: ShardResultHandler<R>, onProgress?: ShardProgressHandler): Promise<R[]>;
}

/** Runs a spread's shards here, in order: what a worker does alone. */
export async function runLocally<P, R>(
  kind: ShardKind<P, R>, payload: P, count: number, base: Omit<ShardContext, 'state' | 'onEnd' | 'progress'>,
  onResult?: ShardResultHandler<R>, onProgress?: ShardProgressHandler,
): Promise<R[]> {
  const ends: Array<() => void | Promise<void>> = [];
  const ctx: ShardContext = { ...base, state: new Map(), onEnd: (f) => void ends.push(f) };
  const out: R[] = [];
  try {
    for (let i = 0; i < count; i++) {
      throwIfCancelled(base.signal);
      if (i > 0) await yieldToEventLoop();
      ctx.progress = onProgress && ((f) => onProgress(i, f));
      out.push(await kind.run(payload, i, ctx));
      onResult?.(i, out[i]);
    }
    return out;
  } finally {
    for (const f of ends.reverse()) await f();
  }
}

/** `spread.run` when a spread is given, else the shards here. */
export function spreadShards<P, R>(
  spread: Spread | undefined, kind: ShardKind<P, R>, payload: P, count: number,
  base: Omit<ShardContext, 'state' | 'onEnd' | 'progress'>, onResult?: ShardResultHandler<R>, onProgress?: ShardProgressHandler,
): Promise<R[]> {
  return spread ? spread.run(kind, payload, count, onResult, onProgress) : runLocally(kind, payload, count, base, onResult, onProgress);
}

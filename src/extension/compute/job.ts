/** What a job is: a named function a worker runs on structured-cloneable arguments. */
import type { CachedModel } from '../model/model-cache';
import type { ModelAdapter } from '../model/types';
import type { ModelRef } from './protocol';
import type { Spread } from './spread';

export interface JobContext {
  signal: AbortSignal;
  /** Sends an event to the job's caller (predictions, a map, progress). */
  emit(name: string, data: unknown): void;
  /** Lends this worker's copy of a model (loaded, or reloaded when its files changed) while `use` runs. */
  withModel<T>(ref: ModelRef, use: (m: CachedModel) => Promise<T>): Promise<T>;
  /** Spreads shards of work on `ref` over the pool; `adapter` is this worker's copy, for its own shards. */
  spreadFor(ref: ModelRef, adapter: ModelAdapter): Spread;
}

export interface JobKind<A = never, R = unknown> {
  readonly kind: string;
  run(args: A, ctx: JobContext): Promise<R>;
}

/** A job kind, typed for the caller: `pool.run(kind.kind, args)` returns R. */
export function defineJob<A, R>(kind: string, run: (args: A, ctx: JobContext) => Promise<R>): JobKind<A, R> {
  return { kind, run };
}

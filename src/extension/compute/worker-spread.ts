/**
 * Spreading shards from inside a worker. The worker that runs a job (the lead) computes shards
 * itself, in index order, and asks the pool for helpers; each helper is handed one shard at a
 * time over its own port, so fast and slow workers share the work. A helper that dies has its
 * shard computed again. Results are kept by index: the outcome does not depend on who helped.
 */
import type { MessagePort } from 'node:worker_threads';
import { CancelledError, throwIfCancelled } from '../../shared/errors';
import { yieldToEventLoop } from '../util/event-loop';
import { FromWorker, type HelperToLead, type LeadToHelper, type ModelRef, type WorkerToHost } from './protocol';
import type { ShardContext, ShardKind, ShardProgressHandler, ShardResultHandler, Spread } from './spread';
import { fromWire, toWire } from './wire-error';

/** What a spread needs from its worker. */
export interface SpreadHost {
  post(m: WorkerToHost): void;
  /** Spreads of this worker that wait for helpers, by spread id. */
  readonly spreads: Map<number, LeadSpread>;
  nextSpreadId(): number;
}

interface HelperLink {
  port: MessagePort;
  /** The shard it is computing. */
  current?: number;
}

/** One running spread on the lead's side. */
export class LeadSpread {
  private next = 0;
  private readonly retry: number[] = [];
  private readonly results: unknown[];
  private readonly done: boolean[];
  private remaining: number;
  private failure?: unknown;
  private wake?: () => void;
  private readonly helpers = new Map<number, HelperLink>();

  constructor(
    private readonly host: SpreadHost,
    readonly id: number,
    private readonly job: number,
    private readonly kind: ShardKind,
    private readonly payload: unknown,
    private readonly count: number,
    private readonly model: ModelRef,
    private readonly onResult?: ShardResultHandler<unknown>,
    private readonly onProgress?: ShardProgressHandler,
  ) {
    this.results = new Array<unknown>(count);
    this.done = new Array<boolean>(count).fill(false);
    this.remaining = count;
  }

  private take(): number | undefined {
    if (this.retry.length > 0) return this.retry.shift();
    return this.next < this.count ? this.next++ : undefined;
  }

  private store(index: number, value: unknown): void {
    if (this.done[index]) return;
    this.done[index] = true;
    this.results[index] = value;
    this.remaining--;
    this.onResult?.(index, value);
    this.wake?.();
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    this.wake?.();
  }

  /** A helper joined: start it on the next shard. */
  addHelper(helper: number, port: MessagePort): void {
    const link: HelperLink = { port };
    if (this.failure !== undefined || this.remaining === 0) {
      this.endHelper(link);
      return;
    }
    this.helpers.set(helper, link);
    port.on('message', (m: HelperToLead) => {
      if (m.t === 'progress') {
        if (!this.done[m.index]) this.onProgress?.(m.index, m.fraction);
        return;
      }
      if (m.t === 'error' && m.index < 0) {
        // The helper could not take part (e.g. it could not load the model): compute its shard here.
        this.lostHelper(helper);
        return;
      }
      link.current = undefined;
      if (m.t === 'result') this.store(m.index, m.value);
      else this.fail(fromWire(m.error));
      this.feed(helper, link);
    });
    port.postMessage({ t: 'start', kind: this.kind.kind, payload: this.payload, model: this.model, progress: this.onProgress !== undefined } satisfies LeadToHelper);
    this.feed(helper, link);
  }

  private feed(helper: number, link: HelperLink): void {
    const index = this.failure === undefined ? this.take() : undefined;
    if (index === undefined) {
      this.helpers.delete(helper);
      this.endHelper(link);
      return;
    }
    link.current = index;
    link.port.postMessage({ t: 'shard', index } satisfies LeadToHelper);
  }

  private endHelper(link: HelperLink): void {
    link.port.postMessage({ t: 'end' } satisfies LeadToHelper);
    link.port.close();
  }

  /** A helper died: its shard goes back to the queue. */
  lostHelper(helper: number): void {
    const link = this.helpers.get(helper);
    if (!link) return;
    this.helpers.delete(helper);
    if (link.current !== undefined && !this.done[link.current]) this.retry.push(link.current);
    this.wake?.();
  }

  /** Computes shards here until none is left, then waits for the helpers' last ones. */
  async run(ctx: ShardContext): Promise<unknown[]> {
    this.host.post({ t: FromWorker.Want, job: this.job, spread: this.id, count: Math.min(this.count - 1, 64) });
    try {
      let first = true;
      while (this.remaining > 0) {
        if (this.failure !== undefined) throw this.failure;
        throwIfCancelled(ctx.signal);
        const index = this.take();
        if (index !== undefined) {
          if (!first) await yieldToEventLoop();
          first = false;
          const onProgress = this.onProgress;
          ctx.progress = onProgress && ((f) => onProgress(index, f));
          this.store(index, await this.kind.run(this.payload, index, ctx));
          continue;
        }
        // Nothing left to start here: wait for a helper's result (or a shard to compute again).
        this.host.post({ t: FromWorker.Waiting, job: this.job });
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          ctx.signal?.addEventListener('abort', () => resolve(), { once: true });
        });
        this.wake = undefined;
        this.host.post({ t: FromWorker.Busy });
      }
      if (this.failure !== undefined) throw this.failure;
      return this.results;
    } finally {
      this.host.post({ t: FromWorker.Want, job: this.job, spread: this.id, count: 0 });
      for (const link of this.helpers.values()) this.endHelper(link);
      this.helpers.clear();
    }
  }
}

/** The Spread a job (or a helper's shard) gets inside a worker of the pool. */
export class PoolSpread implements Spread {
  constructor(
    private readonly host: SpreadHost,
    private readonly job: number,
    private readonly model: ModelRef,
    private readonly base: Omit<ShardContext, 'state' | 'onEnd' | 'spread'>,
  ) {}

  async run<P, R>(kind: ShardKind<P, R>, payload: P, count: number, onResult?: ShardResultHandler<R>, onProgress?: ShardProgressHandler): Promise<R[]> {
    const ends: Array<() => void | Promise<void>> = [];
    const ctx: ShardContext = { ...this.base, spread: this, state: new Map(), onEnd: (f) => void ends.push(f) };
    const id = this.host.nextSpreadId();
    const lead = new LeadSpread(this.host, id, this.job, kind as ShardKind, payload, count, this.model, onResult as ShardResultHandler<unknown> | undefined, onProgress);
    if (count > 1) this.host.spreads.set(id, lead);
    try {
      if (count > 1) return (await lead.run(ctx)) as R[];
      if (count === 1) ctx.progress = onProgress && ((f) => onProgress(0, f));
      const results = count === 1 ? [await kind.run(payload, 0, ctx)] : [];
      if (count === 1) onResult?.(0, results[0]);
      return results;
    } finally {
      this.host.spreads.delete(id);
      for (const f of ends.reverse()) await f();
    }
  }
}

/**
 * A helper's side: computes the shards the lead sends until it says `end`. `withModel` lends the
 * worker's copy of the model for the whole participation.
 */
export function assist(
  port: MessagePort,
  kinds: ReadonlyMap<string, ShardKind>,
  signal: AbortSignal,
  makeContext: (model: ModelRef, use: (ctx: Omit<ShardContext, 'state' | 'onEnd'>) => Promise<void>) => Promise<void>,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let started: { release: () => void; ctx: ShardContext; ends: Array<() => void | Promise<void>>; kind: ShardKind; payload: unknown; progress: boolean } | undefined;
    let chain = Promise.resolve();
    let finished = false;
    const finish = async () => {
      if (finished) return;
      finished = true;
      if (started) {
        for (const f of started.ends.reverse()) await f();
        started.release();
      }
      port.close();
      resolve();
    };
    port.on('message', (m: LeadToHelper) => {
      chain = chain.then(async () => {
        if (m.t === 'start') {
          const kind = kinds.get(m.kind);
          if (!kind) throw new Error(`unknown shard kind ${m.kind}`);
          await new Promise<void>((ready, failed) => {
            makeContext(m.model, (base) => new Promise<void>((release) => {
              const ends: Array<() => void | Promise<void>> = [];
              started = { release, ends, kind, payload: m.payload, progress: m.progress, ctx: { ...base, signal, state: new Map(), onEnd: (f) => void ends.push(f) } };
              ready();
            })).catch(failed);
          });
        } else if (m.t === 'shard') {
          try {
            if (!started) throw new Error('a shard before the start');
            if (signal.aborted) throw new CancelledError();
            const index = m.index;
            started.ctx.progress = started.progress ? (fraction) => port.postMessage({ t: 'progress', index, fraction } satisfies HelperToLead) : undefined;
            const value = await started.kind.run(started.payload, index, started.ctx);
            port.postMessage({ t: 'result', index: m.index, value } satisfies HelperToLead);
          } catch (err) {
            port.postMessage({ t: 'error', index: m.index, error: toWire(err) } satisfies HelperToLead);
          }
        } else {
          await finish();
        }
      }).catch(async (err: unknown) => {
        port.postMessage({ t: 'error', index: -1, error: toWire(err) } satisfies HelperToLead);
        await finish();
      });
    });
    // The lead closes the port when its spread ended before this helper joined (or when it died);
    // a cancelled job's lead may be gone: either way, stop without waiting for an `end`.
    port.on('close', () => {
      chain = chain.then(finish, finish);
    });
    signal.addEventListener('abort', () => {
      chain = chain.then(finish, finish);
    }, { once: true });
  });
}

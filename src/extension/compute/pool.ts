/**
 * The compute pool: worker threads that each hold a backend and their own copy of the models, so
 * the thread that owns the pool (the extension host's, the CLI's) never computes. This side only
 * routes: it queues jobs onto free workers, hands free workers to a worker that spreads shards,
 * forwards events, and replaces a worker that dies or does not stop within a second of a cancel.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { CancelledError, UserError } from '../../shared/errors';
import type { BackendReport } from '../backend/backends';
import { FromWorker, ToWorker, type HostToWorker, type ModelRef, type WorkerSetup, type WorkerToHost } from './protocol';
import { fromWire } from './wire-error';

export interface PoolOptions extends Omit<WorkerSetup, 'poolSize'> {
  /** Number of workers (default: the cores minus one, at least one). */
  size?: number;
  /** The worker's script (default: worker.js beside this file, bundled or compiled). */
  workerScript?: string;
  /** How long a cancelled worker may take to stop before it is terminated (ms). */
  cancelGraceMs?: number;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Events the job emits while it runs (predictions, maps, progress). */
  onEvent?: (name: string, data: unknown) => void;
  /** The model the job loads: the other workers load it too, ready to help. */
  model?: ModelRef;
}

interface Job {
  id: number;
  kind: string;
  args: unknown;
  opts: RunOptions;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  slot?: Slot;
  settled: boolean;
}

interface Slot {
  index: number;
  worker: Worker;
  ready: Promise<BackendReport>;
  job?: Job;
  /** The job and spread it helps with, and the worker it helps. */
  helping?: { job: number; spread: number; lead: Slot; helper: number };
  /** Its job only waits for other workers' shards: it may help the same job meanwhile. */
  waitingJob?: number;
  /** Terminated on purpose (a cancel that did not stop, the pool's end). */
  retired: boolean;
  lastError?: string;
}

interface Want {
  lead: Slot;
  job: number;
  spread: number;
  count: number;
}

/** The default pool size: the cores minus one (one stays with the editor), at least one. */
export function defaultPoolSize(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

export class ComputePool {
  readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private wants: Want[] = [];
  private nextJob = 1;
  private pending = 0;
  private nextHelper = 1;
  private disposed = false;
  private readonly script: string;
  private readonly grace: number;
  private readonly setup: WorkerSetup;
  /** Workers replaced after dying or hanging (for tests and the status bar). */
  replaced = 0;

  constructor(opts: PoolOptions) {
    this.size = Math.max(1, Math.floor(opts.size ?? defaultPoolSize()));
    this.script = opts.workerScript ?? path.join(__dirname, 'worker.js');
    this.grace = opts.cancelGraceMs ?? 1000;
    this.setup = { backend: opts.backend, nativeSearchPaths: opts.nativeSearchPaths, wasmDir: opts.wasmDir, poolSize: this.size, testJobs: opts.testJobs };
    for (let i = 0; i < this.size; i++) this.slots.push(this.spawn(i));
  }

  /** The backend of the first worker, once it has started. */
  ready(): Promise<BackendReport> {
    // Waiting for it keeps the process alive, as a pending job does.
    this.pending++;
    this.holdOpen();
    const done = () => {
      this.pending--;
      this.holdOpen();
    };
    const ready = this.slots[0].ready;
    ready.then(done, done);
    return ready;
  }

  /** Every worker's backend, once all have started. */
  async allReady(): Promise<BackendReport[]> {
    const reports = [];
    for (const s of this.slots) reports.push(await s.ready);
    return reports;
  }

  /** Thread ids of the workers (tests kill one to check recovery). */
  get threadIds(): number[] {
    return this.slots.map((s) => s.worker.threadId);
  }

  /**
   * Terminates worker `index` as a crash would (nothing is told first): what it was computing
   * fails with the message a dead worker gives, and a fresh worker takes its place.
   */
  kill(index: number): Promise<number> {
    const slot = this.slots[index];
    slot.lastError = 'the worker was killed';
    return slot.worker.terminate();
  }

  /** Whether worker `index` is running a job (tests kill a busy one). */
  busy(index: number): boolean {
    return this.slots[index].job !== undefined;
  }

  /** Runs a job on a free worker; rejects with CancelledError when `signal` aborts. */
  run<T>(kind: string, args: unknown, opts: RunOptions = {}): Promise<T> {
    if (this.disposed) return Promise.reject(new Error('the compute pool has been shut down'));
    if (opts.signal?.aborted) return Promise.reject(new CancelledError());
    return new Promise<T>((resolve, reject) => {
      const job: Job = { id: this.nextJob++, kind, args, opts, resolve: resolve as (v: unknown) => void, reject, settled: false };
      opts.signal?.addEventListener('abort', () => this.cancel(job), { once: true });
      this.pending++;
      this.holdOpen();
      this.queue.push(job);
      this.schedule();
    });
  }

  private spawn(index: number): Slot {
    const worker = new Worker(this.script, { workerData: this.setup });
    let readyResolve!: (r: BackendReport) => void;
    let readyReject!: (e: unknown) => void;
    const ready = new Promise<BackendReport>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    ready.catch(() => undefined);
    const slot: Slot = { index, worker, ready, retired: false };
    worker.on('message', (m: WorkerToHost) => {
      if (m.t === FromWorker.Ready) readyResolve(m.backend);
      else this.onMessage(slot, m);
    });
    worker.on('error', (err) => {
      slot.lastError = err instanceof Error ? err.message : String(err);
      readyReject(err);
    });
    worker.on('exit', (code) => {
      readyReject(new Error(slot.lastError ?? `the compute worker exited with code ${code}`));
      this.onExit(slot, code);
    });
    // A worker waiting for jobs must not keep the CLI's process alive.
    if (this.pending === 0) worker.unref();
    return slot;
  }

  private post(slot: Slot, m: HostToWorker, transfer?: readonly import('node:worker_threads').TransferListItem[]): void {
    slot.worker.postMessage(m, transfer);
  }

  private onMessage(slot: Slot, m: WorkerToHost): void {
    switch (m.t) {
      case FromWorker.Event: {
        if (slot.job?.id === m.id && !slot.job.settled) slot.job.opts.onEvent?.(m.name, m.data);
        return;
      }
      case FromWorker.Done:
      case FromWorker.Failed: {
        const job = slot.job;
        if (!job || job.id !== m.id) return;
        slot.job = undefined;
        slot.waitingJob = undefined;
        this.wants = this.wants.filter((w) => w.lead !== slot);
        if (m.t === FromWorker.Done) this.settle(job, undefined, m.result);
        else this.settle(job, fromWire(m.error));
        this.schedule();
        return;
      }
      case FromWorker.Want: {
        this.wants = this.wants.filter((w) => !(w.lead === slot && w.spread === m.spread));
        if (m.count > 0) this.wants.push({ lead: slot, job: m.job, spread: m.spread, count: m.count });
        this.schedule();
        return;
      }
      case FromWorker.Waiting:
        slot.waitingJob = m.job;
        this.schedule();
        return;
      case FromWorker.Busy:
        slot.waitingJob = undefined;
        return;
      case FromWorker.Assisted:
        slot.helping = undefined;
        this.schedule();
        return;
      case FromWorker.Fatal:
        slot.lastError = m.message;
        return;
      default:
        return;
    }
  }

  /** Workers keep the process alive only while a job is pending (a CLI exits when its work is done). */
  private holdOpen(): void {
    for (const s of this.slots) {
      if (this.pending > 0) s.worker.ref();
      else s.worker.unref();
    }
  }

  private settle(job: Job, err: unknown, value?: unknown): void {
    if (job.settled) return;
    job.settled = true;
    this.pending--;
    this.holdOpen();
    if (err !== undefined) job.reject(err);
    else job.resolve(value);
  }

  /** Queued jobs go to idle workers first; then idle (or same-job waiting) workers join spreads. */
  private schedule(): void {
    if (this.disposed) return;
    for (const slot of this.slots) {
      if (this.queue.length === 0) break;
      if (slot.job || slot.helping || slot.retired) continue;
      const job = this.queue.shift()!;
      job.slot = slot;
      slot.job = job;
      this.post(slot, { t: ToWorker.Job, id: job.id, kind: job.kind, args: job.args });
      if (job.opts.model) {
        for (const other of this.slots) if (other !== slot) this.post(other, { t: ToWorker.Preload, model: job.opts.model });
      }
    }
    for (const want of this.wants) {
      while (want.count > 0) {
        const helper = this.slots.find((s) => s !== want.lead && !s.retired && !s.helping && (!s.job || s.waitingJob === want.job));
        if (!helper) break;
        want.count--;
        const id = this.nextHelper++;
        const { port1, port2 } = new MessageChannel();
        helper.helping = { job: want.job, spread: want.spread, lead: want.lead, helper: id };
        this.post(want.lead, { t: ToWorker.Helper, spread: want.spread, helper: id, port: port1 }, [port1]);
        this.post(helper, { t: ToWorker.Assist, job: want.job, spread: want.spread, port: port2 }, [port2]);
      }
    }
    this.wants = this.wants.filter((w) => w.count > 0);
  }

  private cancel(job: Job): void {
    if (job.settled) return;
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(job, new CancelledError());
      return;
    }
    const lead = job.slot;
    if (!lead) return;
    const involved = this.slots.filter((s) => s === lead || s.helping?.job === job.id);
    for (const s of involved) this.post(s, { t: ToWorker.Cancel, id: job.id });
    const timer = setTimeout(() => {
      for (const s of involved) {
        const stuck = s === lead ? s.job === job : s.helping?.job === job.id;
        if (stuck && !s.retired) this.replace(s, 'it did not stop within a second of the cancel');
      }
      this.settle(job, new CancelledError());
    }, this.grace);
    timer.unref();
  }

  /** Terminates a worker and starts a fresh one in its place. */
  private replace(slot: Slot, why: string): void {
    slot.retired = true;
    slot.lastError = why;
    void slot.worker.terminate();
    this.respawn(slot);
  }

  private respawn(slot: Slot): void {
    if (this.disposed || this.slots[slot.index] !== slot) return;
    this.wants = this.wants.filter((w) => w.lead !== slot);
    this.replaced++;
    this.slots[slot.index] = this.spawn(slot.index);
    this.schedule();
  }

  private onExit(slot: Slot, code: number): void {
    if (this.disposed) return;
    const why = slot.lastError ?? `exit code ${code}`;
    const job = slot.job;
    if (job) {
      this.settle(job, slot.retired && job.opts.signal?.aborted ? new CancelledError() : new UserError(
        `the compute worker stopped while running ${job.kind} (${why}); a fresh worker has taken its place, so the next request starts clean`,
      ));
    }
    if (slot.helping) {
      const { lead, spread, helper } = slot.helping;
      if (lead.job && !lead.retired) this.post(lead, { t: ToWorker.HelperLost, spread, helper });
    }
    this.respawn(slot);
  }

  dispose(): Promise<void> {
    this.disposed = true;
    for (const job of this.queue.splice(0)) this.settle(job, new CancelledError());
    for (const s of this.slots) if (s.job) this.settle(s.job, new CancelledError());
    return Promise.all(this.slots.map((s) => {
      s.retired = true;
      return s.worker.terminate();
    })).then(() => undefined);
  }
}

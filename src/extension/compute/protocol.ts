/**
 * Messages between the compute pool (on the extension host's or the CLI's main thread) and its
 * workers, and between a worker that spreads work and the workers that help it. The main thread
 * only routes: it starts jobs, hands helpers to a worker that asks for them, and forwards events.
 */
import type { MessagePort } from 'node:worker_threads';
import type { BackendChoice, BackendReport } from '../backend/backends';
import type { LoadOptions } from '../model/load';

/** Which model a job or a shard runs on: every worker loads its own copy. */
export interface ModelRef {
  file: string;
  options?: LoadOptions;
}

/** How a worker starts (workerData). */
export interface WorkerSetup {
  backend: BackendChoice;
  nativeSearchPaths?: string[];
  wasmDir?: string;
  /** The pool's size (for splitting threads, e.g. onnxruntime's). */
  poolSize: number;
  /** Tests only: job kinds that misbehave on purpose (a worker that never yields, one that dies). */
  testJobs?: boolean;
}

/** An error that crossed a thread: its class name decides how it is rebuilt. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
}

export enum ToWorker {
  Job = 'job',
  Cancel = 'cancel',
  Assist = 'assist',
  Helper = 'helper',
  HelperLost = 'helper-lost',
  Preload = 'preload',
}

export enum FromWorker {
  Ready = 'ready',
  Event = 'event',
  Done = 'done',
  Failed = 'failed',
  Want = 'want',
  Waiting = 'waiting',
  Busy = 'busy',
  Assisted = 'assisted',
  Fatal = 'fatal',
}

export type HostToWorker =
  | { t: ToWorker.Job; id: number; kind: string; args: unknown }
  /** Cancels a job, or a helper's part in one (`id` is the job's id). */
  | { t: ToWorker.Cancel; id: number }
  /** Take part in spread `spread` of job `job` through `port`. */
  | { t: ToWorker.Assist; job: number; spread: number; port: MessagePort }
  /** A helper for spread `spread`, reachable through `port`. */
  | { t: ToWorker.Helper; spread: number; helper: number; port: MessagePort }
  /** The helper `helper` of spread `spread` died: its shard must be computed again. */
  | { t: ToWorker.HelperLost; spread: number; helper: number }
  | { t: ToWorker.Preload; model: ModelRef };

export type WorkerToHost =
  | { t: FromWorker.Ready; backend: BackendReport }
  | { t: FromWorker.Event; id: number; name: string; data: unknown }
  | { t: FromWorker.Done; id: number; result: unknown }
  | { t: FromWorker.Failed; id: number; error: WireError }
  /** Job `job`'s spread `spread` could use `count` more helpers (0: no more). */
  | { t: FromWorker.Want; job: number; spread: number; count: number }
  /** Only waiting for other workers' shards of job `job`: it may help that job meanwhile. */
  | { t: FromWorker.Waiting; job: number }
  | { t: FromWorker.Busy }
  /** Its part in a spread is over. */
  | { t: FromWorker.Assisted }
  /** The worker's backend is unusable (e.g. wasm aborted out of memory): it exits next. */
  | { t: FromWorker.Fatal; message: string };

/** Between a worker that spreads shards (the lead) and a helper, over their own port. */
export type LeadToHelper =
  /** `progress`: the lead listens to how far each shard is (send `progress` messages). */
  | { t: 'start'; kind: string; payload: unknown; model: ModelRef; progress: boolean }
  | { t: 'shard'; index: number }
  | { t: 'end' };

export type HelperToLead =
  | { t: 'result'; index: number; value: unknown }
  /** Shard `index` is this far (0..1); its result follows. */
  | { t: 'progress'; index: number; fraction: number }
  | { t: 'error'; index: number; error: WireError };

/**
 * A compute worker: its own tfjs backend, its own copies of the models, the jobs and shards of
 * the registries. It runs one job at a time as a lead and helps other workers' spreads when free.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/backends';
import { ModelCache } from '../model/model-cache';
import { UserError } from '../../shared/errors';
import { FromWorker, ToWorker, type HostToWorker, type ModelRef, type WorkerSetup, type WorkerToHost } from './protocol';
import { toWire, isBackendAbort } from './wire-error';
import { JOBS, SHARD_KINDS } from './registry';
import { assist, LeadSpread, PoolSpread, type SpreadHost } from './worker-spread';
import type { JobContext } from './job';

// Progress and results travel as messages; no tfjs banners on stderr.
tf.env().set('PROD', true);

const setup = workerData as WorkerSetup;
const port = parentPort!;
const models = new ModelCache();
/** Abort controllers of the jobs this worker leads or helps, by job id. */
const running = new Map<number, AbortController>();
let spreadIds = 0;

const post = (m: WorkerToHost) => port.postMessage(m);
const spreadHost: SpreadHost = { post, spreads: new Map<number, LeadSpread>(), nextSpreadId: () => ++spreadIds };

function withModel<T>(ref: ModelRef, use: Parameters<JobContext['withModel']>[1]): Promise<T> {
  // ONNX Runtime's threads share the cores with the other workers.
  const onnxRuntime = { workers: setup.poolSize, ...ref.options?.onnxRuntime };
  return models.with(ref.file, use, { ...ref.options, onnxRuntime }) as Promise<T>;
}

/** The backend cannot be used after a wasm abort: say so, then leave to be replaced. */
function fatal(err: unknown): void {
  if (!isBackendAbort(err)) return;
  post({ t: FromWorker.Fatal, message: `the ${tf.getBackend()} backend ran out of memory (${(err as Error).message.split('\n')[0]})` });
  setImmediate(() => process.exit(1));
}

function explainAbort(err: unknown, kind: string): unknown {
  if (!isBackendAbort(err)) return err;
  return new UserError(`the ${tf.getBackend()} backend aborted, most likely out of memory, while running ${kind}; a fresh worker takes its place: retry with a smaller batch (--batch) or fewer samples`);
}

async function runJob(id: number, kind: string, args: unknown): Promise<void> {
  const job = JOBS.get(kind);
  const abort = new AbortController();
  running.set(id, abort);
  const ctx: JobContext = {
    signal: abort.signal,
    emit: (name, data) => post({ t: FromWorker.Event, id, name, data }),
    withModel,
    spreadFor: (ref, adapter) => new PoolSpread(spreadHost, id, ref, { adapter, signal: abort.signal }),
  };
  try {
    if (!job || (kind.startsWith('test-') && !setup.testJobs)) throw new Error(`unknown job ${kind}`);
    const result = await job.run(args as never, ctx);
    post({ t: FromWorker.Done, id, result });
  } catch (err) {
    post({ t: FromWorker.Failed, id, error: toWire(explainAbort(err, kind)) });
    fatal(err);
  } finally {
    running.delete(id);
  }
}

async function runAssist(job: number, p: MessagePort): Promise<void> {
  const abort = running.get(job) ?? new AbortController();
  const own = !running.has(job);
  if (own) running.set(job, abort);
  try {
    await assist(p, SHARD_KINDS, abort.signal, (ref, use) => withModel(ref, (m) => use({
      adapter: m.adapter, model: m, spread: new PoolSpread(spreadHost, job, ref, { adapter: m.adapter, signal: abort.signal }),
    })));
  } finally {
    if (own) running.delete(job);
    post({ t: FromWorker.Assisted });
  }
}

function onMessage(m: HostToWorker): void {
  switch (m.t) {
    case ToWorker.Job:
      void runJob(m.id, m.kind, m.args);
      return;
    case ToWorker.Cancel:
      running.get(m.id)?.abort();
      return;
    case ToWorker.Assist:
      void runAssist(m.job, m.port);
      return;
    case ToWorker.Helper:
    {
      const spread = spreadHost.spreads.get(m.spread);
      if (spread) spread.addHelper(m.helper, m.port);
      else m.port.close();
    }
      return;
    case ToWorker.HelperLost:
      spreadHost.spreads.get(m.spread)?.lostHelper(m.helper);
      return;
    case ToWorker.Preload:
      void withModel(m.model, async () => undefined).catch(() => undefined);
      return;
    default:
      return;
  }
}

void initBackend(setup.backend, { nativeSearchPaths: setup.nativeSearchPaths, wasmDir: setup.wasmDir }).then((backend) => {
  post({ t: FromWorker.Ready, backend });
  port.on('message', onMessage);
}, (err: unknown) => {
  throw err;
});

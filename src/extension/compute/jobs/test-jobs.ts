/**
 * Jobs that misbehave on purpose, for the pool's tests only (registered when the pool is started
 * with `testJobs`): one that never yields, one whose thread dies, one that echoes.
 */
import { defineJob } from '../job';

/** Blocks the worker's thread for `ms` without yielding: a cancel cannot reach it. */
export const spinJob = defineJob('test-spin', async (args: { ms: number }) => {
  const end = Date.now() + args.ms;
  while (Date.now() < end) { /* busy on purpose */ }
  return 'spun';
});

/** The worker's thread dies from an uncaught error, as from a crash inside a native module. */
export const crashJob = defineJob('test-crash', () => new Promise<never>(() => {
  setImmediate(() => {
    throw new Error('worker crashed on purpose');
  });
}));

export const echoJob = defineJob('test-echo', async (args: { value: unknown }, ctx) => {
  ctx.emit('echo', args.value);
  return { value: args.value, thread: (await import('node:worker_threads')).threadId };
});

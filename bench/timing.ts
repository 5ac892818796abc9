/** Wall-clock timing for benchmarks: warm-up, then the median of repeated runs. */
import * as tf from '@tensorflow/tfjs-core';
import { performance } from 'node:perf_hooks';

/** Median ms of `f` after `warmup` runs; whatever `f` returns is disposed and awaited. */
export async function medianMs(f: () => unknown, reps = 7, warmup = 2): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < warmup + reps; i++) {
    const t0 = performance.now();
    const r = await f();
    // Reading one value forces backends that run asynchronously to finish.
    const ts = tensorsIn(r);
    if (ts.length > 0) await ts[0].data();
    tf.dispose(ts);
    const dt = performance.now() - t0;
    if (i >= warmup) times.push(dt);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
export const ratio = (a: number, b: number) => (a / b).toFixed(2);

function tensorsIn(v: unknown): tf.Tensor[] {
  if (v instanceof tf.Tensor) return [v];
  if (Array.isArray(v)) return v.flatMap(tensorsIn);
  if (v && typeof v === 'object') return Object.values(v).flatMap(tensorsIn);
  return [];
}

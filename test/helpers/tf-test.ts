/** Helpers shared by unit tests: backend set-up, comparisons, tensor-leak checks. */
import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';
import { initBackend, type ConcreteBackend } from '../../src/extension/backend/backends';

export async function useBackend(b: ConcreteBackend = 'cpu'): Promise<void> {
  const r = await initBackend(b);
  assert.equal(r.backend, b);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Asserts max |a - b| <= tol * max(|b|, 1e-12). */
export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what = 'values'): void {
  const d = maxAbsDiff(a, b);
  const scale = Math.max(maxAbs(b), 1e-12);
  assert.ok(d <= tol * scale, `${what}: max abs diff ${d} > ${tol} × ${scale}`);
}

export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma, db = b[i] - mb;
    sab += da * db; saa += da * da; sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Runs `f` and asserts it leaves no tensors behind. */
export async function assertNoLeak<T>(f: () => Promise<T> | T): Promise<T> {
  const before = tf.memory().numTensors;
  const r = await f();
  assert.equal(tf.memory().numTensors, before, 'tf.memory().numTensors changed');
  return r;
}

/** A deterministic pseudo-random array in [-1, 1). */
export function seededArray(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

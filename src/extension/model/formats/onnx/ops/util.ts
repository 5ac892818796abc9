/**
 * Helpers shared by the ONNX operator families: reading attributes and shape-like inputs,
 * axis arithmetic, NCHW ↔ NHWC permutations and a differentiable strided slice.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../../../../shared/errors';
import type { Attrs, OpContext } from './op-types';

/** NCHW → NHWC. */
export const TO_NHWC = [0, 2, 3, 1];
/** NHWC → NCHW. */
export const TO_NCHW = [0, 3, 1, 2];
/** Where NCHW axis a lives in an NHWC tensor. */
export const NHWC_AXIS = [0, 3, 1, 2];

/** The values of a small int-like tensor (shape, axes, pads, indices): never differentiated. */
export function ints(t: tf.Tensor): number[] {
  return Array.from(t.dataSync(), (v) => Number(v));
}

/** The values of a small float tensor read as numbers (Clip bounds, Resize scales). */
export function floats(t: tf.Tensor): number[] {
  return Array.from(t.dataSync(), (v) => Number(v));
}

/** A one-line error naming the op and the node. */
export function opError(ctx: OpContext, op: string, message: string): UserError {
  return new UserError(`ONNX ${op} (node ${ctx.node || '<unnamed>'}): ${message}`);
}

export function attrInt(attrs: Attrs, name: string, fallback: number): number {
  const v = attrs[name];
  if (v === undefined) return fallback;
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0];
  throw new UserError(`ONNX attribute ${name} should be a number`);
}

export const attrFloat = attrInt;

export function attrInts(attrs: Attrs, name: string): number[] | undefined {
  const v = attrs[name];
  if (v === undefined) return undefined;
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.map((x) => Number(x));
  throw new UserError(`ONNX attribute ${name} should be a list of numbers`);
}

export function attrStr(attrs: Attrs, name: string, fallback: string): string {
  const v = attrs[name];
  if (v === undefined) return fallback;
  if (typeof v === 'string') return v;
  throw new UserError(`ONNX attribute ${name} should be a string`);
}

export function attrTensor(attrs: Attrs, name: string): tf.Tensor | undefined {
  const v = attrs[name];
  return v instanceof tf.Tensor ? v : undefined;
}

/** Input i, which the op needs. */
export function need(inputs: readonly (tf.Tensor | undefined)[], i: number, ctx: OpContext, op: string): tf.Tensor {
  const t = inputs[i];
  if (t === undefined) throw opError(ctx, op, `input ${i} is missing`);
  return t;
}

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export function isFloat(t: tf.Tensor): boolean {
  return t.dtype === 'float32';
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** numpy broadcasting of shapes. */
export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i] ?? 1;
      if (v !== 1) d = d === 1 || d === v ? v : NaN;
    }
    if (Number.isNaN(d)) throw new UserError(`ONNX: shapes ${shapes.map((s) => `[${s.join(',')}]`).join(' and ')} do not broadcast`);
    out.push(d);
  }
  return out;
}

/** Broadcasts t to shape (a no-op when it already has it); BroadcastTo's gradient sums back. */
export function broadcastTo(t: tf.Tensor, shape: number[]): tf.Tensor {
  if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
  const lifted = t.rank < shape.length ? tf.reshape(t, [...new Array<number>(shape.length - t.rank).fill(1), ...t.shape]) : t;
  if (lifted.shape.every((d, i) => d === shape[i])) return lifted;
  return tf.broadcastTo(lifted, shape);
}

export function toNhwc(t: tf.Tensor): tf.Tensor {
  return tf.transpose(t, TO_NHWC);
}

export function toNchw(t: tf.Tensor): tf.Tensor {
  return tf.transpose(t, TO_NCHW);
}

/** Input i in logical layout, transposing back when it arrived NHWC. */
export function logical(t: tf.Tensor | undefined, isNhwc: boolean | undefined): tf.Tensor | undefined {
  return t !== undefined && isNhwc && t.rank === 4 ? toNchw(t) : t;
}

/** A rank-4 tensor in NHWC, whichever layout it arrived in. */
export function asNhwc(t: tf.Tensor, isNhwc: boolean | undefined): tf.Tensor {
  return isNhwc ? t : toNhwc(t);
}

/**
 * Takes every `step`-th entry (step ≥ 1) of `axis`, from `begin`, `count` entries, with slices,
 * pads and reshapes only (tfjs has no StridedSlice gradient).
 */
export function stridedAxis(x: tf.Tensor, axis: number, begin: number, count: number, step: number): tf.Tensor {
  if (count <= 0) {
    const shape = [...x.shape];
    shape[axis] = 0;
    return tf.zeros(shape, x.dtype);
  }
  if (step === 1) {
    const b = new Array<number>(x.rank).fill(0);
    const s = [...x.shape];
    b[axis] = begin;
    s[axis] = count;
    return tf.slice(x, b, s);
  }
  const span = Math.min((count - 1) * step + 1, x.shape[axis] - begin);
  const b = new Array<number>(x.rank).fill(0);
  const s = [...x.shape];
  b[axis] = begin;
  s[axis] = span;
  let t = tf.slice(x, b, s);
  const padded = count * step;
  if (padded > span) {
    const pads = x.shape.map((): [number, number] => [0, 0]);
    pads[axis] = [0, padded - span];
    t = tf.pad(t, pads);
  }
  const split = [...x.shape.slice(0, axis), count, step, ...x.shape.slice(axis + 1)];
  t = tf.reshape(t, split);
  const b2 = new Array<number>(split.length).fill(0);
  const s2 = [...split];
  s2[axis + 1] = 1;
  return tf.reshape(tf.slice(t, b2, s2), [...x.shape.slice(0, axis), count, ...x.shape.slice(axis + 1)]);
}

/**
 * Pad: constant, reflect, edge and wrap modes; pads (negative ones crop) as an attribute before
 * opset 11 and as an input after, with the axes input of opset 18. Has an NHWC variant.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attrs, OpContext, OpDef, OpTable } from './op-types';
import { attrFloat, attrInts, attrStr, floats, ints, need, NHWC_AXIS, normAxis, opError, stridedAxis } from './util';

/** Per logical axis [before, after]. */
function padsOf(inputs: readonly (tf.Tensor | undefined)[], attrs: Attrs, ctx: OpContext, rank: number): [number, number][] {
  const flat = ctx.opset >= 11 ? ints(need(inputs, 1, ctx, 'Pad')) : (attrInts(attrs, 'pads') ?? []);
  const axes = ctx.opset >= 18 && inputs[3] !== undefined ? ints(inputs[3]).map((a) => normAxis(a, rank)) : Array.from({ length: rank }, (_, i) => i);
  if (flat.length !== 2 * axes.length) throw opError(ctx, 'Pad', `expected ${2 * axes.length} pads, got ${flat.length}`);
  const out: [number, number][] = Array.from({ length: rank }, () => [0, 0]);
  axes.forEach((a, i) => { out[a] = [flat[i], flat[i + axes.length]]; });
  return out;
}

function constantValue(inputs: readonly (tf.Tensor | undefined)[], attrs: Attrs, ctx: OpContext): number {
  if (ctx.opset < 11) return attrFloat(attrs, 'value', 0);
  const v = inputs[2];
  return v !== undefined && v.size > 0 ? floats(v)[0] : 0;
}

/** Repeats the edge entries (edge), mirrors (reflect) or wraps around (wrap) along one axis. */
function padAxisCopy(x: tf.Tensor, axis: number, before: number, after: number, mode: 'edge' | 'wrap' | 'reflect'): tf.Tensor {
  const dim = x.shape[axis];
  const reps = (n: number): number[] => x.shape.map((_, i) => (i === axis ? n : 1));
  const parts: tf.Tensor[] = [];
  if (before > 0) {
    if (mode === 'edge') parts.push(tf.tile(stridedAxis(x, axis, 0, 1, 1), reps(before)));
    else if (mode === 'reflect') parts.push(tf.reverse(stridedAxis(x, axis, 1, before, 1), [axis]));
    else {
      const whole = Math.ceil(before / dim);
      const tiled = tf.tile(x, reps(whole));
      parts.push(stridedAxis(tiled, axis, whole * dim - before, before, 1));
    }
  }
  parts.push(x);
  if (after > 0) {
    if (mode === 'edge') parts.push(tf.tile(stridedAxis(x, axis, dim - 1, 1, 1), reps(after)));
    else if (mode === 'reflect') parts.push(tf.reverse(stridedAxis(x, axis, dim - 1 - after, after, 1), [axis]));
    else parts.push(stridedAxis(tf.tile(x, reps(Math.ceil(after / dim))), axis, 0, after, 1));
  }
  return parts.length === 1 ? x : tf.concat(parts, axis);
}

function pad(x: tf.Tensor, pads: [number, number][], mode: string, value: number, ctx: OpContext): tf.Tensor {
  // Negative pads crop first.
  let y = x;
  pads.forEach(([b, e], axis) => {
    if (b < 0 || e < 0) y = stridedAxis(y, axis, Math.max(0, -b), y.shape[axis] - Math.max(0, -b) - Math.max(0, -e), 1);
  });
  const pos = pads.map(([b, e]): [number, number] => [Math.max(0, b), Math.max(0, e)]);
  if (pos.every(([b, e]) => b === 0 && e === 0)) return y === x ? tf.clone(x) : y;
  if (mode === 'constant') return tf.pad(y, pos, value);
  if (mode === 'reflect') {
    if (pos.some(([b, e], i) => b >= y.shape[i] || e >= y.shape[i])) throw opError(ctx, 'Pad', 'reflect pads must be smaller than the axis');
  }
  if (mode === 'edge' || mode === 'wrap' || mode === 'reflect') {
    // Built from slices: tfjs' MirrorPad gradient drops the reflected entries' share.
    pos.forEach(([b, e], axis) => { if (b > 0 || e > 0) y = padAxisCopy(y, axis, b, e, mode); });
    return y;
  }
  throw opError(ctx, 'Pad', `mode ${mode} is not supported`);
}

export const PAD_OPS: OpTable = {
  Pad: {
    run(inputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, 'Pad');
      return [pad(x, padsOf(inputs, attrs, ctx, x.rank), attrStr(attrs, 'mode', 'constant'), constantValue(inputs, attrs, ctx), ctx)];
    },
    nhwc(inputs, nhwcInputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, 'Pad');
      if (x.rank !== 4 || !nhwcInputs[0]) return undefined;
      const logical = padsOf(inputs, attrs, ctx, 4);
      const physical: [number, number][] = [[0, 0], [0, 0], [0, 0], [0, 0]];
      logical.forEach((p, a) => { physical[NHWC_AXIS[a]] = p; });
      return { outputs: [pad(x, physical, attrStr(attrs, 'mode', 'constant'), constantValue(inputs, attrs, ctx), ctx)], nhwc: [true] };
    },
  } satisfies OpDef,
};

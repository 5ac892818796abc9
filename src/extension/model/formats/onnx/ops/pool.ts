/**
 * MaxPool, AveragePool (count_include_pad, ceil_mode, auto_pad), GlobalAveragePool and
 * GlobalMaxPool, computed channels-last. AveragePool divides by its own count map, so padding is
 * counted (or not) exactly as ONNX says on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attrs, NhwcResult, OpContext, OpDef, OpTable } from './op-types';
import { explicitPad, window2D, type Window2D } from './spatial';
import { asNhwc, attrInt, attrInts, need, opError, toNchw, toNhwc } from './util';

type PoolFn = (x: tf.Tensor4D, attrs: Attrs, ctx: OpContext) => tf.Tensor4D;

function poolWindow(op: string, x: tf.Tensor4D, attrs: Attrs, ctx: OpContext, spatialRank: number): Window2D {
  const kernel = attrInts(attrs, 'kernel_shape');
  if (kernel === undefined) throw opError(ctx, op, 'kernel_shape is required');
  const inSp = spatialRank === 1 ? [x.shape[2]] : [x.shape[1], x.shape[2]];
  const win = window2D(op, attrs, ctx, inSp, kernel, attrInt(attrs, 'ceil_mode', 0) === 1);
  if (win.dilations.some((d) => d !== 1)) throw opError(ctx, op, 'dilations other than 1 are not supported');
  return win;
}

function maxPoolNhwc(op: string, spatialRank: number): PoolFn {
  return (x, attrs, ctx) => {
    const win = poolWindow(op, x, attrs, ctx, spatialRank);
    // Padding with −∞ by hand: tfjs' MaxPoolGrad misplaces gradients under explicit padding.
    const padded = win.pads.some(([b, e]) => b > 0 || e > 0) ? tf.pad(x, explicitPad(win), -Infinity) : x;
    return tf.maxPool(padded as tf.Tensor4D, win.kernel, win.strides, 'valid');
  };
}

/** Per output position, kernel size ÷ the number of entries that count. */
function countFactors(win: Window2D, inSp: [number, number], outSp: [number, number], includePad: boolean, attrPads: [[number, number], [number, number]]): Float32Array {
  const out = new Float32Array(outSp[0] * outSp[1]);
  const counted = (i: number, axis: number): number => {
    const lo = includePad ? -attrPads[axis][0] : 0;
    const hi = includePad ? inSp[axis] + attrPads[axis][1] : inSp[axis];
    const start = i * win.strides[axis] - win.pads[axis][0];
    return Math.max(0, Math.min(hi, start + win.kernel[axis]) - Math.max(lo, start));
  };
  const k = win.kernel[0] * win.kernel[1];
  for (let r = 0; r < outSp[0]; r++) {
    for (let c = 0; c < outSp[1]; c++) out[r * outSp[1] + c] = k / Math.max(1, counted(r, 0) * counted(c, 1));
  }
  return out;
}

function avgPoolNhwc(spatialRank: number): PoolFn {
  return (x, attrs, ctx) => {
    const op = 'AveragePool';
    const win = poolWindow(op, x, attrs, ctx, spatialRank);
    const includePad = attrInt(attrs, 'count_include_pad', 0) === 1;
    // The pads ONNX asked for (without ceil_mode's extra), which count_include_pad counts.
    const plain = window2D(op, attrs, ctx, spatialRank === 1 ? [x.shape[2]] : [x.shape[1], x.shape[2]], attrInts(attrs, 'kernel_shape') ?? [], false);
    const padded = win.pads.some(([b, e]) => b > 0 || e > 0) ? tf.pad(x, explicitPad(win)) : x;
    const sum = tf.avgPool(padded as tf.Tensor4D, win.kernel, win.strides, 'valid');
    const outSp: [number, number] = [sum.shape[1], sum.shape[2]];
    const factors = countFactors(win, [x.shape[1], x.shape[2]], outSp, includePad, plain.pads);
    if (factors.every((f) => f === 1)) return sum;
    return tf.mul(sum, tf.tensor4d(factors, [1, outSp[0], outSp[1], 1]));
  };
}

/** A pool as an OpDef: `run` lifts 1-D inputs and transposes 2-D ones to NHWC and back. */
function poolOp(op: string, make: (spatialRank: number) => PoolFn): OpDef {
  return {
    run(inputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, op);
      if (x.rank === 3) {
        const y = make(1)(tf.reshape(tf.transpose(x, [0, 2, 1]), [x.shape[0], 1, x.shape[2], x.shape[1]] as number[]) as unknown as tf.Tensor4D, attrs, ctx);
        return [tf.transpose(tf.reshape(y, [y.shape[0], y.shape[2], y.shape[3]]), [0, 2, 1])];
      }
      if (x.rank !== 4) throw opError(ctx, op, `only 1-D and 2-D pooling is supported (input rank ${x.rank})`);
      return [toNchw(make(2)(toNhwc(x) as tf.Tensor4D, attrs, ctx))];
    },
    nhwc(inputs, nhwcInputs, attrs, ctx): NhwcResult | undefined {
      const x = need(inputs, 0, ctx, op);
      if (x.rank !== 4) return undefined;
      return { outputs: [make(2)(asNhwc(x, nhwcInputs[0]) as tf.Tensor4D, attrs, ctx)], nhwc: [true] };
    },
  };
}

/** Global pools reduce every axis after the channel axis, keeping them as 1s. */
function globalOp(reduce: (x: tf.Tensor, axes: number[]) => tf.Tensor): OpDef {
  return {
    run(inputs, _attrs, ctx) {
      const x = need(inputs, 0, ctx, 'GlobalPool');
      const axes = x.shape.map((_, i) => i).slice(2);
      return [reduce(x, axes)];
    },
    nhwc(inputs, nhwcInputs, _attrs, ctx) {
      const x = need(inputs, 0, ctx, 'GlobalPool');
      if (x.rank !== 4) return undefined;
      return { outputs: [reduce(asNhwc(x, nhwcInputs[0]), [1, 2])], nhwc: [true] };
    },
  };
}

export const POOL_OPS: OpTable = {
  MaxPool: poolOp('MaxPool', (r) => maxPoolNhwc('MaxPool', r)),
  AveragePool: poolOp('AveragePool', avgPoolNhwc),
  GlobalAveragePool: globalOp((x, axes) => tf.mean(x, axes, true)),
  GlobalMaxPool: globalOp((x, axes) => tf.max(x, axes, true)),
};

/**
 * ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare,
 * ReduceLogSumExp (axes as an attribute before opset 18 — ReduceSum: 13 — and as an input
 * after; keepdims; noop_with_empty_axes) and ArgMax / ArgMin.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attrs, OpContext, OpDef, OpTable } from './op-types';
import { asNhwc, attrInt, attrInts, ints, need, NHWC_AXIS, normAxis } from './util';

type Reducer = (x: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor;

/** The axes to reduce, or undefined for "none" (noop_with_empty_axes with no axes). */
function reduceAxes(op: string, inputs: readonly (tf.Tensor | undefined)[], attrs: Attrs, ctx: OpContext, rank: number): number[] | undefined {
  const axesAsInput = ctx.opset >= (op === 'ReduceSum' ? 13 : 18);
  const given = axesAsInput ? (inputs[1] !== undefined ? ints(inputs[1]) : undefined) : attrInts(attrs, 'axes');
  if (given === undefined || given.length === 0) {
    if (axesAsInput && attrInt(attrs, 'noop_with_empty_axes', 0) === 1) return undefined;
    return Array.from({ length: rank }, (_, i) => i);
  }
  return given.map((a) => normAxis(a, rank));
}

function reduceOp(op: string, f: Reducer, nhwcCapable: boolean): OpDef {
  const def: OpDef = {
    run(inputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, op);
      const axes = reduceAxes(op, inputs, attrs, ctx, x.rank);
      if (axes === undefined) return [tf.clone(x)];
      return [f(x, axes, attrInt(attrs, 'keepdims', 1) === 1)];
    },
  };
  if (!nhwcCapable) return def;
  return {
    ...def,
    nhwc(inputs, nhwcInputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, op);
      if (x.rank !== 4) return undefined;
      const axes = reduceAxes(op, inputs, attrs, ctx, 4);
      if (axes === undefined) return { outputs: [tf.clone(x)], nhwc: [nhwcInputs[0]] };
      // Without keepdims the rank drops and the result is no image tensor any more.
      if (attrInt(attrs, 'keepdims', 1) !== 1) return undefined;
      return { outputs: [f(asNhwc(x, nhwcInputs[0]), axes.map((a) => NHWC_AXIS[a]), true)], nhwc: [true] };
    },
  };
}

function argOp(op: string, f: (x: tf.Tensor, axis: number) => tf.Tensor): OpDef {
  return {
    run(inputs, attrs, ctx) {
      const x0 = need(inputs, 0, ctx, op);
      const axis = normAxis(attrInt(attrs, 'axis', 0), x0.rank);
      // select_last_index: reverse the axis, take the first hit, and map the index back.
      const last = attrInt(attrs, 'select_last_index', 0) === 1;
      const x = last ? tf.reverse(x0, [axis]) : x0;
      let y = f(x, axis);
      if (last) y = tf.sub(tf.scalar(x0.shape[axis] - 1, 'int32'), y);
      if (attrInt(attrs, 'keepdims', 1) === 1) y = tf.expandDims(y, axis);
      return [y];
    },
  };
}

export const REDUCE_OPS: OpTable = {
  ReduceMean: reduceOp('ReduceMean', (x, a, k) => tf.mean(x, a, k), true),
  ReduceSum: reduceOp('ReduceSum', (x, a, k) => tf.sum(x, a, k), true),
  ReduceMax: reduceOp('ReduceMax', (x, a, k) => tf.max(x, a, k), true),
  ReduceMin: reduceOp('ReduceMin', (x, a, k) => tf.min(x, a, k), true),
  ReduceProd: reduceOp('ReduceProd', (x, a, k) => tf.prod(x, a, k), false),
  ReduceL1: reduceOp('ReduceL1', (x, a, k) => tf.sum(tf.abs(x), a, k), false),
  ReduceL2: reduceOp('ReduceL2', (x, a, k) => tf.sqrt(tf.sum(tf.square(x), a, k)), false),
  ReduceSumSquare: reduceOp('ReduceSumSquare', (x, a, k) => tf.sum(tf.square(x), a, k), false),
  ReduceLogSumExp: reduceOp('ReduceLogSumExp', (x, a, k) => tf.logSumExp(x, a, k), false),
  ArgMax: argOp('ArgMax', (x, axis) => tf.argMax(x, axis)),
  ArgMin: argOp('ArgMin', (x, axis) => tf.argMin(x, axis)),
};

/**
 * Slice (any steps, negative ones included, with ONNX's clamping), Gather and GatherElements.
 * Float data is cut with slices, reverses and reshapes where possible: tf.gather's gradient
 * needs UnsortedSegmentSum, which not every backend has natively.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OpDef, OpTable } from './op-types';
import { attrInt, attrInts, ints, need, normAxis, opError, stridedAxis } from './util';

/** Up to this many indices, Gather on float data is done with slices. */
const SLICED_GATHER_LIMIT = 64;

/** Takes entries start, start+step, … (count of them) along axis; step may be negative. */
function sliceAxis(x: tf.Tensor, axis: number, start: number, count: number, step: number): tf.Tensor {
  if (step > 0) return stridedAxis(x, axis, start, count, step);
  const dim = x.shape[axis];
  return stridedAxis(tf.reverse(x, [axis]), axis, dim - 1 - start, count, -step);
}

const slice: OpDef = {
  run(inputs, attrs, ctx) {
    const x = need(inputs, 0, ctx, 'Slice');
    const fromInputs = ctx.opset >= 10;
    const starts = fromInputs ? ints(need(inputs, 1, ctx, 'Slice')) : (attrInts(attrs, 'starts') ?? []);
    const ends = fromInputs ? ints(need(inputs, 2, ctx, 'Slice')) : (attrInts(attrs, 'ends') ?? []);
    const axes = (fromInputs ? (inputs[3] !== undefined ? ints(inputs[3]) : undefined) : attrInts(attrs, 'axes')) ?? starts.map((_, i) => i);
    const steps = (fromInputs && inputs[4] !== undefined ? ints(inputs[4]) : undefined) ?? starts.map(() => 1);
    let y = x;
    axes.forEach((a0, i) => {
      const axis = normAxis(a0, x.rank);
      const dim = x.shape[axis];
      const step = steps[i];
      if (step === 0) throw opError(ctx, 'Slice', 'steps must not be 0');
      let start = starts[i] < 0 ? starts[i] + dim : starts[i];
      let end = ends[i] < 0 ? ends[i] + dim : ends[i];
      let count: number;
      if (step > 0) {
        start = Math.min(Math.max(start, 0), dim);
        end = Math.min(Math.max(end, 0), dim);
        count = Math.max(0, Math.ceil((end - start) / step));
      } else {
        start = Math.min(Math.max(start, 0), dim - 1);
        end = Math.min(Math.max(end, -1), dim - 1);
        count = Math.max(0, Math.ceil((start - end) / -step));
      }
      if (step === 1 && start === 0 && count === dim) return;
      y = sliceAxis(y, axis, start, count, step);
    });
    return [y === x ? tf.clone(x) : y];
  },
};

/** Gather along `axis` with sorted-or-not, already non-negative indices. */
function gatherIndices(data: tf.Tensor, idx: number[], axis: number): tf.Tensor {
  if (data.dtype !== 'float32' || idx.length > SLICED_GATHER_LIMIT) return tf.gather(data, tf.tensor1d(idx, 'int32'), axis);
  // Runs of consecutive indices become one slice each.
  const parts: tf.Tensor[] = [];
  let i = 0;
  while (i < idx.length) {
    let j = i + 1;
    while (j < idx.length && idx[j] === idx[j - 1] + 1) j++;
    parts.push(stridedAxis(data, axis, idx[i], j - i, 1));
    i = j;
  }
  if (parts.length === 0) return stridedAxis(data, axis, 0, 0, 1);
  return parts.length === 1 ? parts[0] : tf.concat(parts, axis);
}

const gather: OpDef = {
  run(inputs, attrs, ctx) {
    const data = need(inputs, 0, ctx, 'Gather');
    const indices = need(inputs, 1, ctx, 'Gather');
    const axis = normAxis(attrInt(attrs, 'axis', 0), data.rank);
    const dim = data.shape[axis];
    const idx = ints(indices).map((v) => (v < 0 ? v + dim : v));
    if (idx.some((v) => v < 0 || v >= dim)) throw opError(ctx, 'Gather', `index out of range for axis ${axis} of size ${dim}`);
    const g = gatherIndices(data, idx, axis);
    return [tf.reshape(g, [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)])];
  },
};

const gatherElements: OpDef = {
  run(inputs, attrs, ctx) {
    const data = need(inputs, 0, ctx, 'GatherElements');
    const indices = need(inputs, 1, ctx, 'GatherElements');
    const axis = normAxis(attrInt(attrs, 'axis', 0), data.rank);
    const idx = ints(indices);
    const dStrides = data.shape.map((_, i) => data.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const iShape = indices.shape;
    const flat = new Int32Array(idx.length);
    const pos = new Array<number>(iShape.length).fill(0);
    for (let k = 0; k < idx.length; k++) {
      let f = 0;
      for (let d = 0; d < iShape.length; d++) {
        const v = d === axis ? (idx[k] < 0 ? idx[k] + data.shape[axis] : idx[k]) : pos[d];
        f += v * dStrides[d];
      }
      flat[k] = f;
      for (let d = iShape.length - 1; d >= 0; d--) {
        if (++pos[d] < iShape[d]) break;
        pos[d] = 0;
      }
    }
    return [tf.reshape(tf.gather(tf.reshape(data, [-1]), tf.tensor1d(flat, 'int32')), iShape)];
  },
};

export const SLICE_OPS: OpTable = { Slice: slice, Gather: gather, GatherElements: gatherElements };

/**
 * Shape manipulation: Reshape, Flatten, Transpose, Concat, Split, Squeeze, Unsqueeze, Shape,
 * Size, Expand, Tile. The other shape-family ops live in slice.ts, tensor.ts, pad.ts and
 * resize.ts; SHAPE_OPS gathers them all.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attrs, OpContext, OpDef, OpTable } from './op-types';
import { PAD_OPS } from './pad';
import { RESIZE_OPS } from './resize';
import { SLICE_OPS } from './slice';
import { TENSOR_OPS } from './tensor';
import { asNhwc, attrInt, attrInts, broadcastShape, ints, need, NHWC_AXIS, normAxis, opError, size } from './util';

function reshapeTarget(x: tf.Tensor, spec: number[], allowZero: boolean, ctx: OpContext): number[] {
  const shape = spec.map((d, i) => (d === 0 && !allowZero ? x.shape[i] : d));
  const known = size(shape.filter((d) => d !== -1));
  const unknown = shape.indexOf(-1);
  if (unknown >= 0) shape[unknown] = known === 0 ? 0 : x.size / known;
  if (size(shape) !== x.size || !Number.isInteger(shape[Math.max(unknown, 0)] ?? 0)) {
    throw opError(ctx, 'Reshape', `cannot reshape [${x.shape.join(',')}] to [${spec.join(',')}]`);
  }
  return shape;
}

/** Axes from the attribute before `inputFrom`, from input 1 after. */
function axesOf(inputs: readonly (tf.Tensor | undefined)[], attrs: Attrs, ctx: OpContext, inputFrom: number): number[] | undefined {
  if (ctx.opset >= inputFrom) return inputs[1] !== undefined ? ints(inputs[1]) : undefined;
  return attrInts(attrs, 'axes');
}

function splitSizes(inputs: readonly (tf.Tensor | undefined)[], attrs: Attrs, ctx: OpContext, dim: number): number[] {
  const given = ctx.opset >= 13 ? (inputs[1] !== undefined ? ints(inputs[1]) : undefined) : attrInts(attrs, 'split');
  if (given !== undefined && given.length > 0) return given;
  const numOutputs = attrInt(attrs, 'num_outputs', 0);
  if (numOutputs > 0) {
    const chunk = Math.ceil(dim / numOutputs);
    return Array.from({ length: numOutputs }, (_, i) => Math.max(0, Math.min(chunk, dim - i * chunk)));
  }
  const n = ctx.numOutputs;
  if (n === undefined || n <= 0) throw opError(ctx, 'Split', 'needs split sizes or the node\'s output count');
  if (dim % n !== 0) throw opError(ctx, 'Split', `cannot split ${dim} into ${n} equal parts`);
  return new Array<number>(n).fill(dim / n);
}

function split(x: tf.Tensor, sizes: number[], axis: number): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  let offset = 0;
  for (const s of sizes) {
    const begin = new Array<number>(x.rank).fill(0);
    const extent = [...x.shape];
    begin[axis] = offset;
    extent[axis] = s;
    out.push(tf.slice(x, begin, extent));
    offset += s;
  }
  return out;
}

const concat: OpDef = {
  run(inputs, attrs, ctx) {
    const xs = inputs.filter((t): t is tf.Tensor => t !== undefined);
    if (xs.length === 0) throw opError(ctx, 'Concat', 'needs at least one input');
    const axis = normAxis(attrInt(attrs, 'axis', 0), xs[0].rank);
    const parts = xs.filter((t) => t.size > 0);
    if (parts.length === 0) return [tf.concat(xs, axis)];
    return [parts.length === 1 ? tf.clone(parts[0]) : tf.concat(parts, axis)];
  },
  nhwc(inputs, nhwcInputs, attrs, _ctx) {
    const xs = inputs.map((t, i) => (t === undefined ? undefined : { t, nhwc: nhwcInputs[i] }));
    const present = xs.filter((e): e is { t: tf.Tensor; nhwc: boolean } => e !== undefined);
    if (present.length === 0 || present.some((e) => e.t.rank !== 4) || !present.some((e) => e.nhwc)) return undefined;
    const axis = NHWC_AXIS[normAxis(attrInt(attrs, 'axis', 0), 4)];
    const parts = present.map((e) => asNhwc(e.t, e.nhwc));
    return { outputs: [parts.length === 1 ? tf.clone(parts[0]) : tf.concat(parts, axis)], nhwc: [true] };
  },
};

export const RESHAPE_OPS: OpTable = {
  Reshape: {
    run(inputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, 'Reshape');
      const spec = ctx.opset >= 5 ? ints(need(inputs, 1, ctx, 'Reshape')) : (attrInts(attrs, 'shape') ?? []);
      return [tf.reshape(x, reshapeTarget(x, spec, attrInt(attrs, 'allowzero', 0) === 1, ctx))];
    },
  },
  Flatten: {
    run(inputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, 'Flatten');
      const axis = normAxis(attrInt(attrs, 'axis', 1), x.rank);
      return [tf.reshape(x, [size(x.shape.slice(0, axis)), size(x.shape.slice(axis))])];
    },
  },
  Transpose: {
    run(inputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, 'Transpose');
      const perm = attrInts(attrs, 'perm') ?? x.shape.map((_, i) => x.rank - 1 - i);
      return [tf.transpose(x, perm)];
    },
  },
  Concat: concat,
  Split: {
    run(inputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, 'Split');
      const axis = normAxis(attrInt(attrs, 'axis', 0), x.rank);
      const sizes = splitSizes(inputs, attrs, ctx, x.shape[axis]);
      if (sizes.reduce((a, b) => a + b, 0) !== x.shape[axis]) throw opError(ctx, 'Split', `sizes [${sizes.join(',')}] do not add up to ${x.shape[axis]}`);
      return split(x, sizes, axis);
    },
  },
  Squeeze: {
    run(inputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, 'Squeeze');
      const given = axesOf(inputs, attrs, ctx, 13);
      const axes = given?.map((a) => normAxis(a, x.rank)) ?? x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
      for (const a of axes) if (x.shape[a] !== 1) throw opError(ctx, 'Squeeze', `axis ${a} has size ${x.shape[a]}, not 1`);
      return [tf.reshape(x, x.shape.filter((_, i) => !axes.includes(i)))];
    },
  },
  Unsqueeze: {
    run(inputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, 'Unsqueeze');
      const given = axesOf(inputs, attrs, ctx, 13);
      if (given === undefined) throw opError(ctx, 'Unsqueeze', 'axes are required');
      const rank = x.rank + given.length;
      const axes = new Set(given.map((a) => normAxis(a, rank)));
      const shape: number[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) shape.push(axes.has(i) ? 1 : x.shape[k++]);
      return [tf.reshape(x, shape)];
    },
  },
  Shape: {
    run(inputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, 'Shape');
      const clampAxis = (a: number): number => Math.min(Math.max(a < 0 ? a + x.rank : a, 0), x.rank);
      const start = clampAxis(attrInt(attrs, 'start', 0));
      const end = clampAxis(attrInt(attrs, 'end', x.rank));
      return [tf.tensor1d(x.shape.slice(start, Math.max(start, end)), 'int32')];
    },
  },
  Size: { run: (inputs, _a, ctx) => [tf.scalar(need(inputs, 0, ctx, 'Size').size, 'int32')] },
  Expand: {
    run(inputs, _attrs, ctx) {
      const x = need(inputs, 0, ctx, 'Expand');
      const shape = broadcastShape(x.shape, ints(need(inputs, 1, ctx, 'Expand')));
      const lifted = x.rank < shape.length ? tf.reshape(x, [...new Array<number>(shape.length - x.rank).fill(1), ...x.shape]) : x;
      return [lifted.shape.every((d, i) => d === shape[i]) ? tf.clone(lifted) : tf.broadcastTo(lifted, shape)];
    },
  },
  Tile: {
    run(inputs, _attrs, ctx) {
      const x = need(inputs, 0, ctx, 'Tile');
      return [tf.tile(x, ints(need(inputs, 1, ctx, 'Tile')))];
    },
  },
};

export const SHAPE_OPS: OpTable = { ...RESHAPE_OPS, ...SLICE_OPS, ...TENSOR_OPS, ...PAD_OPS, ...RESIZE_OPS };

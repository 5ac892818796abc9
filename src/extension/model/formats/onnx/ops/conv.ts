/**
 * Conv (1-D and 2-D; groups, depthwise, dilations, strides, pads, auto_pad) and ConvTranspose,
 * computed channels-last with tf.conv2d / tf.depthwiseConv2d / tf.conv2dTranspose. Dilations are
 * applied by spreading the filter, since tfjs' convolution gradients reject dilation rates > 1.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attrs, NhwcResult, OpContext, OpDef, OpTable } from './op-types';
import { explicitPad, window2D, type Window2D } from './spatial';
import { dilateFilter } from '../../../dilate-filter';
import { asNhwc, attrInt, attrInts, attrStr, logical, need, opError, stridedAxis, toNchw, toNhwc } from './util';

/** Lifts 1-D Conv operands (N, C, L) to 2-D (N, C, 1, L). */
function lift(t: tf.Tensor): tf.Tensor4D {
  const [n, c, l] = t.shape as number[];
  return (t.rank === 3 ? tf.reshape(t, [n, c, 1, l]) : t) as tf.Tensor4D;
}

/** One convolution with an already spread (undilated) filter. */
function conv2dAny(
  x: tf.Tensor4D,
  f: tf.Tensor4D,
  win: Window2D,
  depthwise: boolean,
): tf.Tensor4D {
  const pad = explicitPad(win);
  return depthwise ? tf.depthwiseConv2d(x, f, win.strides, pad) : tf.conv2d(x, f, win.strides, pad);
}

/**
 * conv2dAny with a constant filter: the same values, but the backward pass computes the input
 * gradient only and reads the filter itself. (tf.conv2d's own gradient records a copy of the
 * filter on every call, and the wasm backend then re-packs the copy for XNNPACK each time.)
 */
function conv2dConstantFilter(x: tf.Tensor4D, f: tf.Tensor4D, win: Window2D, depthwise: boolean): tf.Tensor4D {
  const pad = explicitPad(win);
  const inputShape = x.shape;
  const op = tf.customGrad(((xi: tf.Tensor4D) => ({
    value: conv2dAny(xi, f, win, depthwise),
    gradFunc: (dy: tf.Tensor4D) =>
      tf.engine().runKernel(depthwise ? 'DepthwiseConv2dNativeBackpropInput' : 'Conv2DBackpropInput', { dy, filter: f }, (depthwise
        ? { strides: win.strides, pad, dilations: [1, 1], inputShape }
        : { strides: win.strides, pad, dataFormat: 'NHWC', inputShape }) as unknown as tf.NamedAttrMap) as tf.Tensor4D,
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x) as tf.Tensor4D;
}

/**
 * The ONNX shape [M, C/group, k…] of a Conv weight (rank 3 for 1-D convs, `spatial` = 1), also
 * when the weight arrives in tfjs' filter layout (ctx.convFilter).
 */
function onnxWeightShape(w: tf.Tensor, ctx: OpContext, spatial: number): number[] {
  if (!ctx.convFilter) return w.shape;
  const [kh, kw, c, m] = w.shape;
  const [out, inPerGroup] = ctx.convFilter === 'hwio' ? [m, c] : [c * m, 1];
  return spatial === 1 ? [out, inPerGroup, kw] : [out, inPerGroup, kh, kw];
}

/**
 * Conv on NHWC x with the ONNX weight W [M, C/group, kh, kw] (or W already in tfjs' filter
 * layout, see OpContext.convFilter) and optional bias [M].
 */
function convNhwc(op: string, x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor | undefined, attrs: Attrs, ctx: OpContext, win: Window2D): tf.Tensor4D {
  const group = attrInt(attrs, 'group', 1);
  const channels = x.shape[3];
  const [m, cPerGroup] = onnxWeightShape(w, ctx, 2);
  if (cPerGroup * group !== channels) throw opError(ctx, op, `weight expects ${cPerGroup * group} input channels, got ${channels}`);
  // The filter in tfjs' layout, made once per weight when the weight is a graph constant.
  const filter = (key: string, make: () => tf.Tensor4D): tf.Tensor4D =>
    (ctx.derive ? ctx.derive(w, `${op}:${key}:${win.dilations.join('x')}`, make) : make()) as tf.Tensor4D;
  // A constant weight is never differentiated: only the input gradient is computed.
  const conv = ctx.isConstant?.(w) ? conv2dConstantFilter : conv2dAny;
  let y: tf.Tensor4D;
  if (ctx.convFilter) {
    // Held in the filter layout at load (undilated, group 1 or depthwise): used as it is.
    y = conv(x, w, win, ctx.convFilter === 'depthwise');
  } else if (group === 1) {
    y = conv(x, filter('hwio', () => dilateFilter(tf.transpose(w, [2, 3, 1, 0]), win.dilations)), win, false);
  } else if (cPerGroup === 1) {
    const mult = m / group;
    const f = filter('depthwise', () => dilateFilter(tf.transpose(tf.reshape(w, [group, mult, w.shape[2], w.shape[3]]), [2, 3, 0, 1]) as tf.Tensor4D, win.dilations));
    y = conv(x, f, win, true);
  } else {
    const xs = tf.split(x, group, 3);
    y = tf.concat(
      xs.map((xg, g) => conv(xg as tf.Tensor4D, filter(`group${g}`, () => {
        const wg = tf.slice(w, [g * (m / group), 0, 0, 0], [m / group, -1, -1, -1]);
        return dilateFilter(tf.transpose(wg, [2, 3, 1, 0]) as tf.Tensor4D, win.dilations);
      }), win, false)),
      3,
    );
  }
  return (b !== undefined ? tf.add(y, b) : y) as tf.Tensor4D;
}

function convWindow(attrs: Attrs, ctx: OpContext, xSpatial: number[], wShape: readonly number[]): Window2D {
  const kernel = attrInts(attrs, 'kernel_shape') ?? wShape.slice(2);
  return window2D('Conv', attrs, ctx, xSpatial, kernel);
}

function convRun(inputs: readonly (tf.Tensor | undefined)[], attrs: Attrs, ctx: OpContext): tf.Tensor[] {
  const x = need(inputs, 0, ctx, 'Conv');
  const w = need(inputs, 1, ctx, 'Conv');
  if (x.rank !== 3 && x.rank !== 4) throw opError(ctx, 'Conv', `only 1-D and 2-D convolutions are supported (input rank ${x.rank})`);
  const win = convWindow(attrs, ctx, x.shape.slice(2), onnxWeightShape(w, ctx, x.rank - 2));
  const y = toNchw(convNhwc('Conv', toNhwc(lift(x)) as tf.Tensor4D, ctx.convFilter ? (w as tf.Tensor4D) : lift(w), inputs[2], attrs, ctx, win));
  return [x.rank === 3 ? tf.reshape(y, [y.shape[0], y.shape[1], y.shape[3]] as number[]) : y];
}

function convNhwcVariant(inputs: readonly (tf.Tensor | undefined)[], nhwcInputs: readonly boolean[], attrs: Attrs, ctx: OpContext): NhwcResult | undefined {
  const x = need(inputs, 0, ctx, 'Conv');
  if (x.rank !== 4) return undefined;
  const w = logical(need(inputs, 1, ctx, 'Conv'), nhwcInputs[1]) as tf.Tensor4D;
  const xn = asNhwc(x, nhwcInputs[0]) as tf.Tensor4D;
  const win = convWindow(attrs, ctx, [xn.shape[1], xn.shape[2]], onnxWeightShape(w, ctx, 2));
  return { outputs: [convNhwc('Conv', xn, w, inputs[2], attrs, ctx, win)], nhwc: [true] };
}

export const Conv: OpDef = { run: convRun, nhwc: convNhwcVariant };

/** ConvTranspose on NHWC x with the ONNX weight W [C, M/group, kh, kw]. */
function convTransposeNhwc(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor | undefined, attrs: Attrs, ctx: OpContext, spatialRank: number): tf.Tensor4D {
  const op = 'ConvTranspose';
  const group = attrInt(attrs, 'group', 1);
  const n = spatialRank;
  const inSp = [x.shape[1], x.shape[2]];
  const kernel = attrInts(attrs, 'kernel_shape') ?? (n === 1 ? [w.shape[3]] : [w.shape[2], w.shape[3]]);
  const one = (v: number[] | undefined, f: number): number[] => v ?? new Array<number>(n).fill(f);
  const l2 = (v: number[], f: number): [number, number] => (n === 1 ? [f, v[0]] : [v[0], v[1]]);
  const strides = l2(one(attrInts(attrs, 'strides'), 1), 1);
  const dil = l2(one(attrInts(attrs, 'dilations'), 1), 1);
  const k = l2(kernel, 1);
  const outPad = l2(one(attrInts(attrs, 'output_padding'), 0), 0);
  const padsAttr = attrInts(attrs, 'pads') ?? new Array<number>(2 * n).fill(0);
  const autoPad = attrStr(attrs, 'auto_pad', 'NOTSET');
  const outShapeAttr = attrInts(attrs, 'output_shape');
  const outShape = outShapeAttr ? l2(outShapeAttr.slice(-n), 1) : undefined;
  const begin: number[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < 2; i++) {
    const eff = (k[i] - 1) * dil[i] + 1;
    const full = (inSp[i] - 1) * strides[i] + eff + outPad[i];
    if (outShape !== undefined || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const target = outShape ? outShape[i] : inSp[i] * strides[i];
      const total = Math.max(0, full - target);
      const half = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? total - half : half);
      sizes.push(target);
    } else if (autoPad === 'NOTSET' || autoPad === 'VALID') {
      const pb = autoPad === 'VALID' ? 0 : n === 1 ? (i === 0 ? 0 : padsAttr[0]) : padsAttr[i];
      const pe = autoPad === 'VALID' ? 0 : n === 1 ? (i === 0 ? 0 : padsAttr[1]) : padsAttr[i + 2];
      begin.push(pb);
      sizes.push(full - pb - pe);
    } else {
      throw opError(ctx, op, `auto_pad ${autoPad} is not supported`);
    }
  }
  const [cIn, mPerGroup] = w.shape;
  if (cIn !== x.shape[3]) throw opError(ctx, op, `weight expects ${cIn} input channels, got ${x.shape[3]}`);
  const xs = group === 1 ? [x] : (tf.split(x, group, 3) as tf.Tensor4D[]);
  const ws = group === 1 ? [w] : (tf.split(w, group, 0) as tf.Tensor4D[]);
  const parts = xs.map((xg, g) => {
    const f = dilateFilter(tf.transpose(ws[g], [2, 3, 1, 0]) as tf.Tensor4D, dil);
    const fullShape: [number, number, number, number] = [
      x.shape[0], (inSp[0] - 1) * strides[0] + f.shape[0], (inSp[1] - 1) * strides[1] + f.shape[1], mPerGroup,
    ];
    return tf.conv2dTranspose(xg, f, fullShape, strides, 'valid');
  });
  let y: tf.Tensor4D = parts.length === 1 ? parts[0] : tf.concat(parts, 3);
  // Crop the padding, and pad with zeros where output_padding or output_shape reach past the end.
  for (let i = 0; i < 2; i++) {
    const axis = i + 1;
    const have = y.shape[axis];
    const extra = begin[i] + sizes[i] - have;
    if (extra > 0) {
      const pads: [number, number][] = [[0, 0], [0, 0], [0, 0], [0, 0]];
      pads[axis] = [0, extra];
      y = tf.pad(y, pads);
    }
    y = stridedAxis(y, axis, begin[i], sizes[i], 1) as tf.Tensor4D;
  }
  return (b !== undefined ? tf.add(y, b) : y) as tf.Tensor4D;
}

export const ConvTranspose: OpDef = {
  run(inputs, attrs, ctx) {
    const x = need(inputs, 0, ctx, 'ConvTranspose');
    const w = need(inputs, 1, ctx, 'ConvTranspose');
    if (x.rank !== 3 && x.rank !== 4) throw opError(ctx, 'ConvTranspose', `only 1-D and 2-D transposed convolutions are supported (input rank ${x.rank})`);
    const y = toNchw(convTransposeNhwc(toNhwc(lift(x)) as tf.Tensor4D, lift(w), inputs[2], attrs, ctx, x.rank - 2));
    return [x.rank === 3 ? tf.reshape(y, [y.shape[0], y.shape[1], y.shape[3]] as number[]) : y];
  },
  nhwc(inputs, nhwcInputs, attrs, ctx) {
    const x = need(inputs, 0, ctx, 'ConvTranspose');
    if (x.rank !== 4) return undefined;
    const w = logical(need(inputs, 1, ctx, 'ConvTranspose'), nhwcInputs[1]) as tf.Tensor4D;
    return { outputs: [convTransposeNhwc(asNhwc(x, nhwcInputs[0]) as tf.Tensor4D, w, inputs[2], attrs, ctx, 2)], nhwc: [true] };
  },
};

export const CONV_OPS: OpTable = { Conv, ConvTranspose };

/**
 * Resize (opset 10 and the 11+ signature: roi, scales, sizes; axes and keep_aspect_ratio_policy
 * of opset 18) and Upsample. Each resized axis is a product with a small constant
 * interpolation matrix [out, in] (nearest, linear or cubic, with every coordinate mode), so the
 * result is exact for any scale and differentiable with matMul alone.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attrs, OpContext, OpDef, OpTable } from './op-types';
import { attrFloat, attrInt, attrInts, attrStr, floats, ints, need, NHWC_AXIS, normAxis, opError } from './util';

interface ResizeSpec {
  mode: string;
  coord: string;
  nearest: string;
  cubicA: number;
  excludeOutside: boolean;
}

interface AxisPlan {
  axis: number;
  inLen: number;
  outLen: number;
  scale: number;
}

/** The source coordinate of output index x, in float32 arithmetic as onnxruntime computes it. */
function sourceCoord(spec: ResizeSpec, x: number, p: AxisPlan): number {
  const f = Math.fround;
  const { inLen, outLen } = p;
  const scale = f(p.scale);
  const centre = f(f(x + 0.5) / scale);
  switch (spec.coord) {
    case 'half_pixel': return f(centre - 0.5);
    case 'half_pixel_symmetric': {
      const adj = f(outLen / f(scale * inLen));
      return f(f(f(inLen / 2) * f(1 - adj)) + f(centre - 0.5));
    }
    case 'pytorch_half_pixel': return outLen > 1 ? f(centre - 0.5) : 0;
    case 'align_corners': return outLen === 1 ? 0 : f(f(x * (inLen - 1)) / (outLen - 1));
    case 'asymmetric': return f(x / scale);
    case 'tf_half_pixel_for_nn': return centre;
    default: return NaN;
  }
}

function roundNearest(v: number, mode: string): number {
  const f = Math.floor(v);
  const frac = v - f;
  switch (mode) {
    case 'floor': return f;
    case 'ceil': return Math.ceil(v);
    case 'round_prefer_ceil': return frac >= 0.5 ? f + 1 : f;
    default: return frac > 0.5 ? f + 1 : f; // round_prefer_floor
  }
}

function cubicCoeffs(s: number, a: number): number[] {
  const c = (t: number): number => {
    const x = Math.abs(t);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
  };
  return [c(s + 1), c(s), c(1 - s), c(2 - s)];
}

/** The [out, in] interpolation matrix of one axis. */
function interpolationMatrix(spec: ResizeSpec, p: AxisPlan): Float32Array {
  const m = new Float32Array(p.outLen * p.inLen);
  const last = p.inLen - 1;
  const clampIdx = (i: number): number => Math.min(Math.max(i, 0), last);
  for (let o = 0; o < p.outLen; o++) {
    const row = o * p.inLen;
    const x = sourceCoord(spec, o, p);
    if (spec.mode === 'nearest') {
      m[row + clampIdx(roundNearest(x, spec.nearest))] = 1;
    } else if (spec.mode === 'linear') {
      const xc = Math.min(Math.max(x, 0), last);
      const i0 = Math.min(Math.floor(xc), last);
      const i1 = Math.min(i0 + 1, last);
      const w1 = xc - i0;
      m[row + i0] += 1 - w1;
      m[row + i1] += w1;
    } else {
      const f = Math.floor(x);
      const w = cubicCoeffs(x - f, spec.cubicA);
      const idx = [f - 1, f, f + 1, f + 2];
      let total = 0;
      idx.forEach((i, k) => {
        if (spec.excludeOutside && (i < 0 || i > last)) w[k] = 0;
        total += w[k];
      });
      idx.forEach((i, k) => { m[row + clampIdx(i)] += spec.excludeOutside ? w[k] / total : w[k]; });
    }
  }
  return m;
}

function isIdentity(m: Float32Array, n: number, k: number): boolean {
  if (n !== k) return false;
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) if (m[i * k + j] !== (i === j ? 1 : 0)) return false;
  return true;
}

/** Applies an [out, in] matrix along `axis` (moved last for one 2-D product). */
function applyAlong(x: tf.Tensor, axis: number, m: Float32Array, outLen: number): tf.Tensor {
  const inLen = x.shape[axis];
  const mt = tf.tensor2d(m, [outLen, inLen]);
  const last = x.rank - 1;
  const perm = x.shape.map((_, i) => i);
  perm[axis] = last;
  perm[last] = axis;
  const moved = axis === last ? x : tf.transpose(x, perm);
  const y = tf.reshape(tf.matMul(tf.reshape(moved, [-1, inLen]) as tf.Tensor2D, mt, false, true), [...moved.shape.slice(0, -1), outLen]);
  return axis === last ? y : tf.transpose(y, perm);
}

/** Works out the per-axis output sizes and scales on the logical shape. */
function plan(op: string, inputs: readonly (tf.Tensor | undefined)[], attrs: Attrs, ctx: OpContext, shape: readonly number[]): AxisPlan[] {
  const rank = shape.length;
  let scalesT: tf.Tensor | undefined;
  let sizesT: tf.Tensor | undefined;
  let scalesAttr: number[] | undefined;
  if (op === 'Upsample') {
    if (ctx.opset >= 9) scalesT = need(inputs, 1, ctx, op);
    else scalesAttr = attrInts(attrs, 'scales');
  } else if (ctx.opset < 11) {
    scalesT = need(inputs, 1, ctx, op);
  } else {
    scalesT = inputs[2];
    sizesT = inputs[3];
  }
  const axes = (attrInts(attrs, 'axes') ?? Array.from({ length: rank }, (_, i) => i)).map((a) => normAxis(a, rank));
  const sizes = sizesT !== undefined && sizesT.size > 0 ? ints(sizesT) : undefined;
  const scales = scalesAttr ?? (scalesT !== undefined && scalesT.size > 0 ? floats(scalesT) : undefined);
  const plans: AxisPlan[] = [];
  if (sizes !== undefined) {
    const policy = attrStr(attrs, 'keep_aspect_ratio_policy', 'stretch');
    const ratios = axes.map((a, i) => sizes[i] / shape[a]);
    let common: number | undefined;
    if (policy === 'not_larger') common = Math.min(...ratios);
    else if (policy === 'not_smaller') common = Math.max(...ratios);
    else if (policy !== 'stretch') throw opError(ctx, op, `keep_aspect_ratio_policy ${policy} is not supported`);
    axes.forEach((a, i) => {
      const outLen = common === undefined ? sizes[i] : Math.round(common * shape[a]);
      plans.push({ axis: a, inLen: shape[a], outLen, scale: common ?? outLen / shape[a] });
    });
  } else if (scales !== undefined) {
    axes.forEach((a, i) => plans.push({ axis: a, inLen: shape[a], outLen: Math.floor(shape[a] * scales[i]), scale: scales[i] }));
  } else {
    throw opError(ctx, op, 'needs scales or sizes');
  }
  return plans;
}

function specOf(op: string, attrs: Attrs, ctx: OpContext): ResizeSpec {
  const legacy = op === 'Upsample' || ctx.opset < 11;
  const mode = attrStr(attrs, 'mode', 'nearest');
  const spec: ResizeSpec = {
    mode: mode === 'bilinear' ? 'linear' : mode,
    coord: legacy ? 'asymmetric' : attrStr(attrs, 'coordinate_transformation_mode', 'half_pixel'),
    nearest: legacy ? 'floor' : attrStr(attrs, 'nearest_mode', 'round_prefer_floor'),
    cubicA: attrFloat(attrs, 'cubic_coeff_a', -0.75),
    excludeOutside: attrInt(attrs, 'exclude_outside', 0) === 1,
  };
  if (!['nearest', 'linear', 'cubic'].includes(spec.mode) || (legacy && spec.mode === 'cubic')) throw opError(ctx, op, `mode ${mode} is not supported`);
  const coords = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn'];
  if (!coords.includes(spec.coord)) throw opError(ctx, op, `coordinate_transformation_mode ${spec.coord} is not supported`);
  if (!['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'].includes(spec.nearest)) throw opError(ctx, op, `nearest_mode ${spec.nearest} is not supported`);
  return spec;
}

/** Resizes x whose logical axis a is physical axis where(a). */
function resize(op: string, x: tf.Tensor, inputs: readonly (tf.Tensor | undefined)[], attrs: Attrs, ctx: OpContext, logicalShape: readonly number[], where: (a: number) => number): tf.Tensor {
  const spec = specOf(op, attrs, ctx);
  const plans = plan(op, inputs, attrs, ctx, logicalShape);
  if (attrInt(attrs, 'antialias', 0) === 1 && spec.mode !== 'nearest' && plans.some((p) => p.outLen < p.inLen)) {
    throw opError(ctx, op, 'antialias=1 when downsampling is not supported');
  }
  let y = x;
  for (const p of plans) {
    // Like onnxruntime, an axis with scale 1 is copied whatever the coordinate mode.
    if (p.outLen === p.inLen && p.scale === 1) continue;
    const m = interpolationMatrix(spec, p);
    if (isIdentity(m, p.outLen, p.inLen)) continue;
    y = applyAlong(y, where(p.axis), m, p.outLen);
  }
  return y === x ? tf.clone(x) : y;
}

function resizeOp(op: string): OpDef {
  return {
    run(inputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, op);
      return [resize(op, x, inputs, attrs, ctx, x.shape, (a) => a)];
    },
    nhwc(inputs, nhwcInputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, op);
      if (x.rank !== 4 || !nhwcInputs[0]) return undefined;
      const logicalShape = [x.shape[0], x.shape[3], x.shape[1], x.shape[2]] as number[];
      return { outputs: [resize(op, x, inputs, attrs, ctx, logicalShape, (a) => NHWC_AXIS[a])], nhwc: [true] };
    },
  };
}

export const RESIZE_OPS: OpTable = { Resize: resizeOp('Resize'), Upsample: resizeOp('Upsample') };

/**
 * Activations: Relu, LeakyRelu, PRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, Gelu, Erf,
 * Elu, Selu, Softplus, Softsign, Mish (elementwise) and Softmax / LogSoftmax (with the axis rules
 * of opset ≥ 13 and the 2-D coercion before it).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Attrs, OpContext, OpDef, OpTable } from './op-types';
import { unary } from './unary';
import { attrFloat, attrInt, attrStr, floats, need, normAxis, opError, size } from './util';

function clipBounds(inputs: readonly (tf.Tensor | undefined)[], attrs: Attrs, ctx: OpContext): [number, number] {
  if (ctx.opset < 11) return [attrFloat(attrs, 'min', -Infinity), attrFloat(attrs, 'max', Infinity)];
  const lo = inputs[1] !== undefined ? floats(inputs[1])[0] : -Infinity;
  const hi = inputs[2] !== undefined ? floats(inputs[2])[0] : Infinity;
  return [lo, hi];
}

function clip(x: tf.Tensor, attrs: Attrs, ctx: OpContext, inputs: readonly (tf.Tensor | undefined)[]): tf.Tensor {
  const [lo, hi] = clipBounds(inputs, attrs, ctx);
  if (lo > hi) return tf.fill(x.shape, hi, x.dtype);
  if (lo === -Infinity && hi === Infinity) return tf.clone(x);
  if (lo === -Infinity) return tf.minimum(x, tf.scalar(hi, x.dtype));
  if (hi === Infinity) return tf.maximum(x, tf.scalar(lo, x.dtype));
  return clipByValue(x, lo, hi);
}

/**
 * tf.clipByValue with tfjs' own gradient exactly — dy where lo ≤ x ≤ hi (both bounds included, as
 * torch.clamp's), 0 elsewhere — found as x = clip(x) with cheap same-shape ops only: the mask is
 * 1 − step(|x − clip(x)|), exact since x − y is 0 only when x = y (IEEE subtraction does not
 * underflow to 0). tfjs' rule (two comparisons against broadcast scalars and a logicalAnd), like
 * an Equal and a Select, takes the backends' generic broadcasting kernels: on wasm ~10 ns per
 * entry, where these take well under 1 ns (MobileNetV2's ReLU6s are Clips). Computed in the
 * backward pass, so a forward pass pays nothing for it.
 */
function clipByValue(x: tf.Tensor, lo: number, hi: number): tf.Tensor {
  const op = tf.customGrad(((xi: tf.Tensor, save: tf.GradSaveFunc) => {
    const y = tf.clipByValue(xi, lo, hi);
    save([xi, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [xs, ys]: tf.Tensor[]) => tf.mul(dy, tf.sub(1, tf.step(tf.abs(tf.sub(xs, ys))))),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x);
}

function hardSigmoid(x: tf.Tensor, alpha: number, beta: number): tf.Tensor {
  return tf.clipByValue(tf.add(tf.mul(x, alpha), beta), 0, 1);
}

function gelu(x: tf.Tensor, attrs: Attrs, ctx: OpContext): tf.Tensor {
  const approx = attrStr(attrs, 'approximate', 'none');
  if (approx === 'tanh') {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  }
  if (approx !== 'none') throw opError(ctx, 'Gelu', `approximate=${approx} is not supported`);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

function elu(x: tf.Tensor, alpha: number): tf.Tensor {
  if (alpha === 1) return tf.elu(x);
  return tf.where(tf.greater(x, 0), x, tf.mul(tf.sub(tf.exp(tf.minimum(x, 0)), 1), alpha));
}

const SELU_ALPHA = 1.67326319217681884765625;
const SELU_GAMMA = 1.05070102214813232421875;

export const ACTIVATION_ELEMENTWISE: OpTable = {
  Relu: unary('Relu', (x) => tf.relu(x)),
  LeakyRelu: unary('LeakyRelu', (x, a) => tf.leakyRelu(x, attrFloat(a, 'alpha', 0.01))),
  PRelu: {
    run: (inputs, _a, ctx) => {
      const x = need(inputs, 0, ctx, 'PRelu');
      const slope = need(inputs, 1, ctx, 'PRelu');
      return [tf.sub(tf.relu(x), tf.mul(slope, tf.relu(tf.neg(x))))];
    },
    elementwise: true,
  },
  Clip: unary('Clip', clip),
  Sigmoid: unary('Sigmoid', (x) => tf.sigmoid(x)),
  HardSigmoid: unary('HardSigmoid', (x, a) => hardSigmoid(x, attrFloat(a, 'alpha', 0.2), attrFloat(a, 'beta', 0.5))),
  HardSwish: unary('HardSwish', (x) => tf.mul(x, hardSigmoid(x, 1 / 6, 0.5))),
  Tanh: unary('Tanh', (x) => tf.tanh(x)),
  Gelu: unary('Gelu', gelu),
  Erf: unary('Erf', (x) => tf.erf(x)),
  Elu: unary('Elu', (x, a) => elu(x, attrFloat(a, 'alpha', 1))),
  Selu: unary('Selu', (x, a) => {
    const alpha = attrFloat(a, 'alpha', SELU_ALPHA);
    const gamma = attrFloat(a, 'gamma', SELU_GAMMA);
    return tf.mul(tf.where(tf.greater(x, 0), x, tf.mul(tf.sub(tf.exp(tf.minimum(x, 0)), 1), alpha)), gamma);
  }),
  Softplus: unary('Softplus', (x) => tf.softplus(x)),
  Softsign: unary('Softsign', (x) => tf.div(x, tf.add(tf.abs(x), 1))),
  Mish: unary('Mish', (x) => tf.mul(x, tf.tanh(tf.softplus(x)))),
};

type LastAxisFn = (x: tf.Tensor) => tf.Tensor;

/** Applies a last-axis function along `axis`, moving that axis last and back when needed. */
function alongAxis(x: tf.Tensor, axis: number, f: LastAxisFn): tf.Tensor {
  const last = x.rank - 1;
  if (axis === last) return f(x);
  const perm = x.shape.map((_, i) => i);
  perm[axis] = last;
  perm[last] = axis;
  return tf.transpose(f(tf.transpose(x, perm)), perm);
}

/** Opset < 13: the input is seen as 2-D [∏ d[:axis], ∏ d[axis:]] and f runs on its rows. */
function coerced(x: tf.Tensor, axis: number, f: LastAxisFn): tf.Tensor {
  return tf.reshape(f(tf.reshape(x, [size(x.shape.slice(0, axis)), size(x.shape.slice(axis))])), x.shape);
}

function softmaxOp(op: string, f: LastAxisFn): OpDef {
  return {
    run(inputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, op);
      if (x.rank === 0) return [tf.reshape(f(tf.reshape(x, [1])), [])];
      if (ctx.opset >= 13) return [alongAxis(x, normAxis(attrInt(attrs, 'axis', -1), x.rank), f)];
      return [coerced(x, normAxis(attrInt(attrs, 'axis', 1), x.rank), f)];
    },
    nhwc(inputs, nhwcInputs, attrs, ctx) {
      const x = need(inputs, 0, ctx, op);
      if (x.rank !== 4 || !nhwcInputs[0]) return undefined;
      if (ctx.opset >= 13) {
        // The channel axis is last in NHWC.
        return normAxis(attrInt(attrs, 'axis', -1), 4) === 1 ? { outputs: [f(x)], nhwc: [true] } : undefined;
      }
      // Rows of the 2-D view that span C, H and W (or everything) do not care about the order.
      const axis = normAxis(attrInt(attrs, 'axis', 1), 4);
      return axis <= 1 ? { outputs: [coerced(x, axis, f)], nhwc: [true] } : undefined;
    },
  };
}

export const SOFTMAX_OPS: OpTable = {
  Softmax: softmaxOp('Softmax', (x) => tf.softmax(x)),
  LogSoftmax: softmaxOp('LogSoftmax', (x) => tf.logSoftmax(x)),
};

export const ACTIVATION_OPS: OpTable = { ...ACTIVATION_ELEMENTWISE, ...SOFTMAX_OPS };

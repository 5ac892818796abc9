/**
 * Elementwise arithmetic, comparisons and logic with numpy broadcasting: Add, Sub, Mul, Div, Pow,
 * Mod, Sqrt, Exp, Log, Neg, Abs, Reciprocal, Sign, Round, Floor, Ceil, Sin, Cos, Min, Max, Sum,
 * Mean (variadic), Equal, Less, Greater, LessOrEqual, GreaterOrEqual, Not, And, Or, Xor, Where.
 * Operands whose gradients tfjs does not reduce over broadcast axes are broadcast explicitly.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OpDef, OpTable } from './op-types';
import { binary, unary } from './unary';
import { attrInt, broadcastShape, broadcastTo, isFloat, need, opError } from './util';

/** Integer division truncating toward zero, as ONNX (C) does; tf.div on ints floors. */
function truncDiv(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const q = tf.div(tf.cast(a, 'float32'), tf.cast(b, 'float32'));
  return tf.cast(tf.mul(tf.sign(q), tf.floor(tf.abs(q))), a.dtype);
}

function div(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return isFloat(a) ? tf.div(a, b) : truncDiv(a, b);
}

function pow(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const shape = broadcastShape(a.shape, b.shape);
  const base = broadcastTo(isFloat(a) ? a : tf.cast(a, 'float32'), shape);
  const exp = broadcastTo(tf.cast(b, 'float32'), shape);
  const y = tf.pow(base, exp);
  return isFloat(a) ? y : tf.cast(tf.round(y), a.dtype);
}

/** Mod: fmod=1 keeps the dividend's sign (C fmod), fmod=0 the divisor's (Python %). */
function mod(a: tf.Tensor, b: tf.Tensor, fmod: boolean): tf.Tensor {
  if (!fmod) return tf.mod(a, b);
  const af = tf.cast(a, 'float32');
  const bf = tf.cast(b, 'float32');
  const q = tf.div(af, bf);
  const r = tf.sub(af, tf.mul(tf.mul(tf.sign(q), tf.floor(tf.abs(q))), bf));
  return isFloat(a) ? r : tf.cast(tf.round(r), a.dtype);
}

/** Folds a variadic op over all inputs, broadcast to their common shape first. */
function variadic(op: string, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, finish?: (t: tf.Tensor, n: number) => tf.Tensor): OpDef {
  return {
    run(inputs, _attrs, ctx) {
      const xs = inputs.filter((t): t is tf.Tensor => t !== undefined);
      if (xs.length === 0) throw opError(ctx, op, 'needs at least one input');
      const shape = broadcastShape(...xs.map((t) => t.shape));
      let acc = broadcastTo(xs[0], shape);
      for (const t of xs.slice(1)) acc = f(acc, broadcastTo(t, shape));
      if (xs.length === 1) acc = tf.clone(acc);
      return [finish ? finish(acc, xs.length) : acc];
    },
    elementwise: true,
  };
}

const where: OpDef = {
  run(inputs, _attrs, ctx) {
    const c = need(inputs, 0, ctx, 'Where');
    const a = need(inputs, 1, ctx, 'Where');
    const b = need(inputs, 2, ctx, 'Where');
    const shape = broadcastShape(c.shape, a.shape, b.shape);
    const cond = c.dtype === 'bool' ? c : tf.notEqual(c, 0);
    return [tf.where(broadcastTo(cond, shape), broadcastTo(a, shape), broadcastTo(b, shape))];
  },
  elementwise: true,
};

function bool(t: tf.Tensor): tf.Tensor {
  return t.dtype === 'bool' ? t : tf.notEqual(t, 0);
}

export const ELEMENTWISE_OPS: OpTable = {
  Add: binary('Add', (a, b) => tf.add(a, b)),
  Sub: binary('Sub', (a, b) => tf.sub(a, b)),
  Mul: binary('Mul', (a, b) => tf.mul(a, b)),
  Div: binary('Div', div),
  Pow: binary('Pow', pow),
  Mod: {
    run: (inputs, attrs, ctx) => [mod(need(inputs, 0, ctx, 'Mod'), need(inputs, 1, ctx, 'Mod'), attrInt(attrs, 'fmod', 0) === 1)],
    elementwise: true,
  },
  Sqrt: unary('Sqrt', (x) => tf.sqrt(x)),
  Exp: unary('Exp', (x) => tf.exp(x)),
  Log: unary('Log', (x) => tf.log(x)),
  Neg: unary('Neg', (x) => tf.neg(x)),
  Abs: unary('Abs', (x) => tf.abs(x)),
  Reciprocal: unary('Reciprocal', (x) => tf.reciprocal(x)),
  Sign: unary('Sign', (x) => tf.sign(x)),
  Round: unary('Round', (x) => tf.round(x)),
  Floor: unary('Floor', (x) => tf.floor(x)),
  Ceil: unary('Ceil', (x) => tf.ceil(x)),
  Sin: unary('Sin', (x) => tf.sin(x)),
  Cos: unary('Cos', (x) => tf.cos(x)),
  Min: variadic('Min', (a, b) => tf.minimum(a, b)),
  Max: variadic('Max', (a, b) => tf.maximum(a, b)),
  Sum: variadic('Sum', (a, b) => tf.add(a, b)),
  Mean: variadic('Mean', (a, b) => tf.add(a, b), (t, n) => tf.div(t, n)),
  Equal: binary('Equal', (a, b) => tf.equal(a, b)),
  Less: binary('Less', (a, b) => tf.less(a, b)),
  Greater: binary('Greater', (a, b) => tf.greater(a, b)),
  LessOrEqual: binary('LessOrEqual', (a, b) => tf.lessEqual(a, b)),
  GreaterOrEqual: binary('GreaterOrEqual', (a, b) => tf.greaterEqual(a, b)),
  Not: unary('Not', (x) => tf.logicalNot(bool(x))),
  And: binary('And', (a, b) => tf.logicalAnd(bool(a), bool(b))),
  Or: binary('Or', (a, b) => tf.logicalOr(bool(a), bool(b))),
  Xor: binary('Xor', (a, b) => tf.logicalXor(bool(a), bool(b))),
  Where: where,
};

/**
 * Tensor makers and converters: Constant, ConstantOfShape, Range, Cast, CastLike, Identity and
 * Dropout (inference: identity, with an all-true mask as its optional second output).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OpContext, OpDef, OpTable } from './op-types';
import { attrInt, attrInts, attrTensor, floats, ints, need, opError } from './util';

/** ONNX TensorProto data types → the tfjs dtype that holds them. */
const ONNX_DTYPES: Readonly<Record<number, tf.DataType>> = {
  1: 'float32', 10: 'float32', 11: 'float32', 16: 'float32',
  2: 'int32', 3: 'int32', 4: 'int32', 5: 'int32', 6: 'int32', 7: 'int32', 12: 'int32', 13: 'int32',
  9: 'bool',
};

export function onnxDtype(code: number, ctx: OpContext, op: string): tf.DataType {
  const d = ONNX_DTYPES[code];
  if (d === undefined) throw opError(ctx, op, `data type ${code} is not supported`);
  return d;
}

/** Casts with ONNX's rules: float → int truncates toward zero, anything → bool is "≠ 0". */
export function castTo(x: tf.Tensor, dtype: tf.DataType): tf.Tensor {
  if (x.dtype === dtype) return tf.clone(x);
  if (dtype === 'bool') return tf.notEqual(x, tf.scalar(0, x.dtype));
  if (dtype === 'int32' && x.dtype === 'float32') return tf.cast(tf.mul(tf.sign(x), tf.floor(tf.abs(x))), 'int32');
  return tf.cast(x, dtype);
}

const constant: OpDef = {
  run(_inputs, attrs, ctx) {
    const value = attrTensor(attrs, 'value');
    if (value !== undefined) return [tf.clone(value)];
    if (attrs.value_float !== undefined) return [tf.scalar(attrInt(attrs, 'value_float', 0), 'float32')];
    if (attrs.value_floats !== undefined) return [tf.tensor1d(attrInts(attrs, 'value_floats') ?? [], 'float32')];
    if (attrs.value_int !== undefined) return [tf.scalar(attrInt(attrs, 'value_int', 0), 'int32')];
    if (attrs.value_ints !== undefined) return [tf.tensor1d(attrInts(attrs, 'value_ints') ?? [], 'int32')];
    throw opError(ctx, 'Constant', 'only value, value_float(s) and value_int(s) are supported');
  },
};

const constantOfShape: OpDef = {
  run(inputs, attrs, ctx) {
    const shape = ints(need(inputs, 0, ctx, 'ConstantOfShape'));
    const value = attrTensor(attrs, 'value');
    if (value === undefined) return [tf.zeros(shape, 'float32')];
    const v = value.dtype === 'bool' ? ints(value)[0] : floats(value)[0];
    return [tf.fill(shape, v, value.dtype)];
  },
};

const range: OpDef = {
  run(inputs, _attrs, ctx) {
    const start = need(inputs, 0, ctx, 'Range');
    const [s] = floats(start);
    const [limit] = floats(need(inputs, 1, ctx, 'Range'));
    const [delta] = floats(need(inputs, 2, ctx, 'Range'));
    if (delta === 0) throw opError(ctx, 'Range', 'delta must not be 0');
    const n = Math.max(0, Math.ceil((limit - s) / delta));
    const values = Array.from({ length: n }, (_, i) => s + i * delta);
    const dtype = start.dtype === 'int32' ? 'int32' : 'float32';
    return [tf.tensor1d(values, dtype)];
  },
};

export const TENSOR_OPS: OpTable = {
  Constant: constant,
  ConstantOfShape: constantOfShape,
  Range: range,
  Cast: {
    run: (inputs, attrs, ctx) => [castTo(need(inputs, 0, ctx, 'Cast'), onnxDtype(attrInt(attrs, 'to', 1), ctx, 'Cast'))],
    elementwise: true,
  },
  CastLike: {
    run: (inputs, _attrs, ctx) => [castTo(need(inputs, 0, ctx, 'CastLike'), need(inputs, 1, ctx, 'CastLike').dtype)],
  },
  Identity: { run: (inputs, _a, ctx) => [tf.clone(need(inputs, 0, ctx, 'Identity'))], elementwise: true },
  Dropout: {
    run(inputs, _attrs, ctx) {
      const x = need(inputs, 0, ctx, 'Dropout');
      if (ctx.opset >= 12 && inputs[2] !== undefined && ints(inputs[2])[0] !== 0) {
        throw opError(ctx, 'Dropout', 'training_mode=true is not supported (export the model in eval mode)');
      }
      return [tf.clone(x), tf.ones(x.shape, 'bool')];
    },
    elementwise: true,
  },
};

/**
 * BatchNormalization (inference), InstanceNormalization and LayerNormalization, written with
 * plain tf ops so gradients reach the input and every parameter.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OpDef, OpTable } from './op-types';
import { asNhwc, attrFloat, attrInt, need, normAxis, opError } from './util';

/** A per-channel vector shaped to broadcast against a logical (N, C, …) tensor of rank `rank`. */
function perChannel(v: tf.Tensor, rank: number): tf.Tensor {
  return rank <= 2 ? v : tf.reshape(v, [v.shape[0], ...new Array<number>(rank - 2).fill(1)]);
}

/** scale / √(var + ε) and B − mean · that, the affine form of inference batch norm. */
function bnAffine(inputs: readonly (tf.Tensor | undefined)[], eps: number): [tf.Tensor, tf.Tensor] {
  const [, scale, bias, mean, variance] = inputs as tf.Tensor[];
  const a = tf.mul(scale, tf.rsqrt(tf.add(variance, eps)));
  return [a, tf.sub(bias, tf.mul(mean, a))];
}

function checkInference(attrs: Parameters<OpDef['run']>[1], ctx: Parameters<OpDef['run']>[2]): void {
  if (attrInt(attrs, 'training_mode', 0) !== 0) throw opError(ctx, 'BatchNormalization', 'training_mode=1 is not supported (export the model in eval mode)');
}

export const BatchNormalization: OpDef = {
  run(inputs, attrs, ctx) {
    checkInference(attrs, ctx);
    const x = need(inputs, 0, ctx, 'BatchNormalization');
    for (let i = 1; i < 5; i++) need(inputs, i, ctx, 'BatchNormalization');
    const [a, b] = bnAffine(inputs, attrFloat(attrs, 'epsilon', 1e-5));
    return [tf.add(tf.mul(x, perChannel(a, x.rank)), perChannel(b, x.rank))];
  },
  nhwc(inputs, nhwcInputs, attrs, ctx) {
    checkInference(attrs, ctx);
    const x = need(inputs, 0, ctx, 'BatchNormalization');
    if (x.rank !== 4) return undefined;
    for (let i = 1; i < 5; i++) need(inputs, i, ctx, 'BatchNormalization');
    const [a, b] = bnAffine(inputs, attrFloat(attrs, 'epsilon', 1e-5));
    return { outputs: [tf.add(tf.mul(asNhwc(x, nhwcInputs[0]), a), b)], nhwc: [true] };
  },
};

export const InstanceNormalization: OpDef = {
  run(inputs, attrs, ctx) {
    const x = need(inputs, 0, ctx, 'InstanceNormalization');
    const scale = need(inputs, 1, ctx, 'InstanceNormalization');
    const bias = need(inputs, 2, ctx, 'InstanceNormalization');
    const axes = x.shape.map((_, i) => i).slice(2);
    const mean = tf.mean(x, axes, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axes, true);
    const y = tf.mul(centered, tf.rsqrt(tf.add(variance, attrFloat(attrs, 'epsilon', 1e-5))));
    return [tf.add(tf.mul(y, perChannel(scale, x.rank)), perChannel(bias, x.rank))];
  },
  nhwc(inputs, nhwcInputs, attrs, ctx) {
    const x0 = need(inputs, 0, ctx, 'InstanceNormalization');
    if (x0.rank !== 4) return undefined;
    const x = asNhwc(x0, nhwcInputs[0]);
    const mean = tf.mean(x, [1, 2], true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), [1, 2], true);
    const y = tf.mul(centered, tf.rsqrt(tf.add(variance, attrFloat(attrs, 'epsilon', 1e-5))));
    return { outputs: [tf.add(tf.mul(y, need(inputs, 1, ctx, 'InstanceNormalization')), need(inputs, 2, ctx, 'InstanceNormalization'))], nhwc: [true] };
  },
};

/** LayerNormalization (opset 17): normalises over axes [axis, rank); outputs Y, Mean, InvStdDev. */
export const LayerNormalization: OpDef = {
  run(inputs, attrs, ctx) {
    const x = need(inputs, 0, ctx, 'LayerNormalization');
    const scale = need(inputs, 1, ctx, 'LayerNormalization');
    const axis = normAxis(attrInt(attrs, 'axis', -1), x.rank);
    const axes = x.shape.map((_, i) => i).slice(axis);
    const mean = tf.mean(x, axes, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axes, true);
    const invStd = tf.rsqrt(tf.add(variance, attrFloat(attrs, 'epsilon', 1e-5)));
    let y = tf.mul(tf.mul(centered, invStd), scale);
    if (inputs[2] !== undefined) y = tf.add(y, inputs[2]);
    return [y, mean, invStd];
  },
};

export const NORM_OPS: OpTable = { BatchNormalization, InstanceNormalization, LayerNormalization };

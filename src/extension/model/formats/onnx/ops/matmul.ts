/**
 * MatMul (numpy semantics: 1-D promotion, broadcast batch dimensions) and Gemm (alpha, beta,
 * transA, transB). Batch dimensions are broadcast explicitly because tfjs' BatchMatMul gradient
 * does not reduce over broadcast axes.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OpTable } from './op-types';
import { attrFloat, attrInt, broadcastShape, broadcastTo, need, size } from './util';

export function matMulNumpy(a0: tf.Tensor, b0: tf.Tensor): tf.Tensor {
  const a = a0.rank === 1 ? tf.reshape(a0, [1, a0.shape[0]]) : a0;
  const b = b0.rank === 1 ? tf.reshape(b0, [b0.shape[0], 1]) : b0;
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.rank - 1];
  let y: tf.Tensor;
  if (b.rank === 2) {
    // (…, M, K) @ (K, N): one 2-D product over all rows.
    y = tf.reshape(tf.matMul(tf.reshape(a, [-1, k]) as tf.Tensor2D, b as tf.Tensor2D), [...a.shape.slice(0, -1), n]);
  } else {
    const outer = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batch = size(outer);
    const a3 = tf.reshape(broadcastTo(a, [...outer, m, k]), [batch, m, k]) as tf.Tensor3D;
    const b3 = tf.reshape(broadcastTo(b, [...outer, k, n]), [batch, k, n]) as tf.Tensor3D;
    y = tf.reshape(tf.matMul(a3, b3), [...outer, m, n]);
  }
  const shape = [...y.shape];
  if (b0.rank === 1) shape.splice(shape.length - 1, 1);
  if (a0.rank === 1) shape.splice(shape.length - (b0.rank === 1 ? 1 : 2), 1);
  return shape.length === y.rank ? y : tf.reshape(y, shape);
}

export const MATMUL_OPS: OpTable = {
  MatMul: { run: (inputs, _attrs, ctx) => [matMulNumpy(need(inputs, 0, ctx, 'MatMul'), need(inputs, 1, ctx, 'MatMul'))] },
  Gemm: {
    run(inputs, attrs, ctx) {
      const a = need(inputs, 0, ctx, 'Gemm') as tf.Tensor2D;
      const b = need(inputs, 1, ctx, 'Gemm') as tf.Tensor2D;
      const alpha = attrFloat(attrs, 'alpha', 1);
      const beta = attrFloat(attrs, 'beta', 1);
      let y: tf.Tensor = tf.matMul(a, b, attrInt(attrs, 'transA', 0) === 1, attrInt(attrs, 'transB', 0) === 1);
      if (alpha !== 1) y = tf.mul(y, alpha);
      const c = inputs[2];
      if (c !== undefined && beta !== 0) y = tf.add(y, beta === 1 ? c : tf.mul(c, beta));
      return [y];
    },
  },
};

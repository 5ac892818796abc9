/** Builds OpDefs for entry-by-entry ops, which the runtime may hand NHWC operands. */
import type * as tf from '@tensorflow/tfjs-core';
import type { Attrs, OpContext, OpDef } from './op-types';
import { need } from './util';

/** A one-input, one-output elementwise op. */
export function unary(op: string, f: (x: tf.Tensor, attrs: Attrs, ctx: OpContext, inputs: readonly (tf.Tensor | undefined)[]) => tf.Tensor): OpDef {
  return {
    run: (inputs, attrs, ctx) => [f(need(inputs, 0, ctx, op), attrs, ctx, inputs)],
    elementwise: true,
  };
}

/** A two-input elementwise op with numpy broadcasting. */
export function binary(op: string, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): OpDef {
  return {
    run: (inputs, _attrs, ctx) => [f(need(inputs, 0, ctx, op), need(inputs, 1, ctx, op))],
    elementwise: true,
  };
}

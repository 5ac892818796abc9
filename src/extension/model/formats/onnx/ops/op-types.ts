/**
 * What an ONNX operator is to the graph runtime: a function from tfjs tensors to tfjs tensors,
 * written with differentiable tfjs ops so gradients flow through the whole graph.
 *
 * Conventions:
 * - ONNX int64 tensors are int32 tensors here (tfjs has no int64); values beyond ±2^31−1 (e.g.
 *   Slice's INT64_MAX "to the end") are clamped on parsing. bool stays bool.
 * - `run` has ONNX's own semantics: 4-D image tensors are NCHW, as the graph was exported.
 * - Layout: the runtime keeps NCHW image tensors physically in NHWC (channels last), which is
 *   what tfjs' convolutions and pools take, so a ResNet runs with no transposes at all. An op
 *   that can work on such a tensor says so:
 *   - `elementwise`: the op is applied entry by entry (with numpy broadcasting) and its result
 *     has the shape of the broadcast inputs; the runtime hands it every operand permuted to NHWC
 *     (lower-rank operands padded with leading 1s first) and marks the result NHWC;
 *   - `nhwc`: its own NHWC implementation, given the indices of the inputs that arrive NHWC
 *     (rank 4, permuted); it says which outputs it returns NHWC.
 *   Every other op receives its inputs in logical NCHW (the runtime transposes back).
 * - Inputs that are shapes, axes, sizes or pads (Reshape's shape, Slice's starts, Resize's
 *   sizes, …) are small int tensors; an op reads them with `ints(t)` (dataSync), which is fine:
 *   shape computations are not differentiated.
 * - Optional inputs that are absent (empty name in the node) are `undefined`.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** An attribute value, decoded from AttributeProto. int64s are numbers; TENSOR attributes are tensors. */
export type AttrValue = number | string | number[] | string[] | tf.Tensor | undefined;

export interface Attrs {
  readonly [name: string]: AttrValue;
}

export interface OpContext {
  /** The default-domain opset the model imports. */
  readonly opset: number;
  /** The node's name, for messages. */
  readonly node: string;
  /**
   * How many outputs the node declares (including trailing optional ones). Split without split
   * sizes (before opset 18) needs it to know how many parts to make.
   */
  readonly numOutputs?: number;
  /**
   * A tensor derived from `source` (e.g. a conv weight in tfjs' filter layout), made once by
   * `make` and kept while `source` lives when `source` is a graph constant, so no op copies a
   * weight per call and XNNPACK keeps the operator it packed for that filter; for any other
   * tensor (one being differentiated) `make()` runs each time. Absent: `make()` runs each time.
   */
  readonly derive?: (source: tf.Tensor, key: string, make: () => tf.Tensor) => tf.Tensor;
  /** Whether `t` is a graph constant (a weight), which is never differentiated. Absent: false. */
  readonly isConstant?: (t: tf.Tensor) => boolean;
  /**
   * Conv only: the weight (input 1) arrives already in tfjs' filter layout, as the graph holds
   * it — [kh, kw, C, M] ('hwio', group 1) or [kh, kw, group, M/group] ('depthwise'), kh = 1 for
   * 1-D convs, undilated — instead of ONNX's [M, C/group, kh, kw]. Absent: ONNX's layout.
   */
  readonly convFilter?: 'hwio' | 'depthwise';
}

export interface NhwcResult {
  outputs: tf.Tensor[];
  /** Per output: true when it is returned NHWC (an NCHW tensor held channels-last). */
  nhwc: boolean[];
}

export interface OpDef {
  /** ONNX semantics on logical tensors. Returns one tensor per node output (trailing optional outputs may be omitted). */
  run(inputs: readonly (tf.Tensor | undefined)[], attrs: Attrs, ctx: OpContext): tf.Tensor[];
  /** See the module comment. */
  readonly elementwise?: boolean;
  /**
   * The NHWC variant; `nhwcInputs[i]` is true when input i arrives permuted to NHWC. Return
   * undefined to decline (the runtime then calls `run` on logical tensors).
   */
  nhwc?(inputs: readonly (tf.Tensor | undefined)[], nhwcInputs: readonly boolean[], attrs: Attrs, ctx: OpContext): NhwcResult | undefined;
}

/** The operators by ONNX op type (default domain). */
export type OpTable = Readonly<Record<string, OpDef>>;

import * as tf from '@tensorflow/tfjs-core';

/**
 * Spreads a tfjs filter [kh, kw, …] by inserting dilation−1 zeros between taps, so convolutions
 * run with dilation 1 (tfjs has no gradient for dilated convolutions). Shared by the ONNX
 * runtime and the layers program.
 */
export function dilateFilter(f: tf.Tensor4D, dilations: [number, number]): tf.Tensor4D {
  let out: tf.Tensor4D = f;
  for (const axis of [0, 1]) {
    const d = dilations[axis];
    if (d === 1) continue;
    const shape = out.shape;
    const k = shape[axis];
    const expanded = [...shape.slice(0, axis + 1), 1, ...shape.slice(axis + 1)];
    const pads = expanded.map((): [number, number] => [0, 0]);
    pads[axis + 1] = [0, d - 1];
    const spread = tf.reshape(tf.pad(tf.reshape(out, expanded), pads), [...shape.slice(0, axis), k * d, ...shape.slice(axis + 1)]);
    const size = [...shape];
    size[axis] = (k - 1) * d + 1;
    out = tf.slice(spread, [0, 0, 0, 0], size) as tf.Tensor4D;
  }
  return out;
}

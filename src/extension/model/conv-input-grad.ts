/**
 * The input gradient of a 2-D convolution computed as a forward convolution of the (zero-
 * inserted, padded) output gradient with the flipped, transposed filter. Forward convolutions run
 * through XNNPACK on the wasm backend; its Conv2DBackpropInput kernel is a plain loop and was
 * measured 5–10× slower on MobileNetV2 layers. On other backends tfjs's own kernel is used.
 */
import * as tf from '@tensorflow/tfjs-core';

type Shape4D = [number, number, number, number];

/** Spreads [b, h, w, c] to [b, (h-1)·sh+1, (w-1)·sw+1, c] with zeros between the rows/columns. */
function insertZeros(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [b, h, w, c] = dy.shape;
  const spread = tf.pad(tf.reshape(dy, [b, h, 1, w, 1, c]) as tf.Tensor, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  return tf.slice(tf.reshape(spread, [b, h * sh, w * sw, c]) as tf.Tensor4D, [0, 0, 0, 0], [b, (h - 1) * sh + 1, (w - 1) * sw + 1, c]);
}

/** Pads (or crops, for negative amounts) the spatial axes. */
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const cropT = Math.max(0, -top), cropB = Math.max(0, -bottom), cropL = Math.max(0, -left), cropR = Math.max(0, -right);
  let y = x;
  if (cropT + cropB + cropL + cropR > 0) y = tf.slice(y, [0, cropT, cropL, 0], [b, h - cropT - cropB, w - cropL - cropR, c]);
  const pt = Math.max(0, top), pb = Math.max(0, bottom), pl = Math.max(0, left), pr = Math.max(0, right);
  return pt + pb + pl + pr > 0 ? tf.pad(y, [[0, 0], [pt, pb], [pl, pr], [0, 0]]) : y;
}

export function conv2dInputGradient(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  xShape: Shape4D,
  strides: [number, number],
  pad: 'same' | 'valid',
): tf.Tensor4D {
  if (tf.getBackend() !== 'wasm') return tf.conv2dTranspose(dy, filter, xShape, strides, pad);
  return tf.tidy(() => {
    const [kh, kw] = filter.shape;
    const info = tf.backend_util.computeConv2DInfo(xShape, filter.shape, strides, 1, pad);
    const { top, left } = info.padInfo;
    const z = insertZeros(dy, strides[0], strides[1]);
    const [, zh, zw] = z.shape;
    const padded = padOrCrop(z, kh - 1 - top, xShape[1] + top - zh, kw - 1 - left, xShape[2] + left - zw);
    const flipped = tf.transpose(kh * kw === 1 ? filter : tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(padded, flipped, 1, 'valid');
  });
}

/**
 * Separable Gaussian blur of image batches: the "blurred" baseline of Integrated Gradients and the
 * blurred canvas of the insertion metric. Two depthwise convolutions (a 1×K row pass, then a K×1
 * column pass) with edge-replicating padding, so a constant image stays exactly constant and the
 * output has the input's size for any sigma, however large next to the image.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The kernel covers ±ceil(3σ) pixels: the truncated tails hold < 0.3% of the Gaussian's mass. */
const RADIUS_IN_SIGMAS = 3;

/**
 * The normalised, sampled 1-D Gaussian: taps exp(−k² / 2σ²) for k = −r..r, r = ceil(3σ), divided
 * by their sum so the blur preserves the mean (and constants) exactly.
 */
export function gaussianKernel1d(sigma: number): Float32Array {
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new RangeError(`Gaussian sigma must be a positive number, got ${sigma}`);
  const r = Math.ceil(RADIUS_IN_SIGMAS * sigma);
  const taps = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let k = -r; k <= r; k++) {
    taps[k + r] = Math.exp(-(k * k) / (2 * sigma * sigma));
    sum += taps[k + r];
  }
  return Float32Array.from(taps, (v) => v / sum);
}

/** Indices 0-r, …, n-1+r clamped to [0, n-1]: gathering them pads by replicating the edge. */
function edgeIndices(n: number, r: number): tf.Tensor1D {
  const idx = new Int32Array(n + 2 * r);
  for (let i = 0; i < idx.length; i++) idx[i] = Math.min(n - 1, Math.max(0, i - r));
  return tf.tensor1d(idx, 'int32');
}

/**
 * Blurs every channel of every image in `x` ([batch, h, w, c]) with a Gaussian of standard
 * deviation `sigma` pixels. sigma = 0 returns a copy. The caller owns the result.
 */
export function gaussianBlur(x: tf.Tensor4D, sigma: number): tf.Tensor4D {
  if (!(sigma >= 0) || !Number.isFinite(sigma)) throw new RangeError(`Gaussian sigma must be a non-negative number, got ${sigma}`);
  if (sigma === 0) return tf.clone(x);
  const kernel = gaussianKernel1d(sigma);
  const r = (kernel.length - 1) / 2;
  const [, h, w, c] = x.shape;
  return tf.tidy(() => {
    // The same taps for every channel: depthwise filters [kh, kw, c, 1] (channel multiplier 1).
    const taps = tf.tensor1d(kernel);
    const rowFilter = tf.tile(tf.reshape(taps, [1, kernel.length, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
    const colFilter = tf.tile(tf.reshape(taps, [kernel.length, 1, 1, 1]), [1, 1, c, 1]) as tf.Tensor4D;
    // Row pass: pad the width by r on both sides, then a 'valid' 1×K convolution restores w.
    const paddedW = tf.gather(x, edgeIndices(w, r), 2) as tf.Tensor4D;
    const rows = tf.depthwiseConv2d(paddedW, rowFilter, 1, 'valid');
    // Column pass on the row-blurred image, padded the same way along the height.
    const paddedH = tf.gather(rows, edgeIndices(h, r), 1) as tf.Tensor4D;
    return tf.depthwiseConv2d(paddedH, colFilter, 1, 'valid');
  });
}

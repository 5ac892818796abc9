/**
 * Helpers on raw attribution maps: Float32Array, row-major height × width, one value per pixel.
 * Pure TypeScript: shared by the Node host and the webview.
 */

function checkShape(data: ArrayLike<number>, h: number, w: number): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new RangeError(`map size must be positive integers, got ${h}×${w}`);
  }
  if (data.length !== h * w) throw new RangeError(`map has ${data.length} values, expected ${h}×${w} = ${h * w}`);
}

/**
 * Min–max scales a map to [0, 1]. NaN and ±Infinity count as 0 (a diverged gradient should not
 * blank the whole map); a constant map (no range to scale) becomes all zeros, never NaN.
 */
export function normalizeMap(data: ArrayLike<number>): Float32Array {
  const out = new Float32Array(data.length);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = Number.isFinite(data[i]) ? data[i] : 0;
    out[i] = v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  // range is a double, so even float32 extremes (±3.4e38) cannot overflow it.
  if (!(range > 0) || !Number.isFinite(range)) return out.fill(0);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, (out[i] - min) / range));
  return out;
}

/** Source index pair and weight of the second for each output coordinate (half-pixel centres). */
function sampleAxis(inSize: number, outSize: number): { lo: Int32Array; hi: Int32Array; frac: Float64Array } {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    // Same arithmetic as tfjs' ResizeBilinear kernel, so results agree to float rounding. Outside
    // the outer pixel centres both indices clamp to the edge, as in OpenCV's INTER_LINEAR.
    const src = scale * (o + 0.5) - 0.5;
    lo[o] = Math.max(0, Math.floor(src));
    hi[o] = Math.min(inSize - 1, Math.ceil(src));
    frac[o] = src - lo[o];
  }
  return { lo, hi, frac };
}

/**
 * Bilinear resize with half-pixel centres: equals `tf.image.resizeBilinear(x, [outH, outW],
 * false, true)` and OpenCV's `cv2.resize(..., INTER_LINEAR)` (no antialiasing when shrinking).
 */
export function resizeMap(data: ArrayLike<number>, h: number, w: number, outH: number, outW: number): Float32Array {
  checkShape(data, h, w);
  if (!Number.isInteger(outH) || !Number.isInteger(outW) || outH < 1 || outW < 1) {
    throw new RangeError(`output size must be positive integers, got ${outH}×${outW}`);
  }
  const rows = sampleAxis(h, outH);
  const cols = sampleAxis(w, outW);
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const top = rows.lo[y] * w;
    const bottom = rows.hi[y] * w;
    const fy = rows.frac[y];
    for (let x = 0; x < outW; x++) {
      const x0 = cols.lo[x];
      const x1 = cols.hi[x];
      const fx = cols.frac[x];
      const upper = data[top + x0] + (data[top + x1] - data[top + x0]) * fx;
      const lower = data[bottom + x0] + (data[bottom + x1] - data[bottom + x0]) * fx;
      out[y * outW + x] = upper + (lower - upper) * fy;
    }
  }
  return out;
}

/** Row and column of the largest value (the first in row-major order on ties; NaN is skipped). */
export function argmax2d(data: ArrayLike<number>, h: number, w: number): { y: number; x: number } {
  checkShape(data, h, w);
  let best = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isNaN(data[i]) && (best < 0 || data[i] > data[best])) best = i;
  }
  if (best < 0) best = 0; // all NaN: any position is as good as another
  return { y: Math.floor(best / w), x: best % w };
}

/**
 * Nearest-neighbour upsampling of attention maps. DOM-free (unit-tested in Node).
 * (src/shared/map-ops.ts has the bilinear resize the heatmaps use; patch maps are upsampled
 * nearest-neighbour instead, so every patch shows as the block it is.)
 */

/** Nearest-neighbour upsampling of a row-major [h, w] map to [outH, outW]: patches stay blocks. */
export function upsampleNearest(data: Float32Array, height: number, width: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(outH * outW);
  const cols = new Int32Array(outW);
  for (let x = 0; x < outW; x++) cols[x] = Math.min(width - 1, Math.floor((x * width) / outW));
  for (let y = 0; y < outH; y++) {
    const row = Math.min(height - 1, Math.floor((y * height) / outH)) * width;
    for (let x = 0; x < outW; x++) out[y * outW + x] = data[row + cols[x]];
  }
  return out;
}

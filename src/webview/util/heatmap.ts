/**
 * What a heatmap looks like on screen, as plain arrays: the map scaled to the canvas, blended
 * over the image's pixels with a colormap, and a colormap's colour bar. DOM-free (unit-tested in
 * Node); render/overlay-canvas.ts puts the pixels on a canvas.
 */
import { colormapLut, type ColormapName } from '../../shared/colormaps';
import { normalizeMap, resizeMap } from '../../shared/map-ops';

export interface RawMap {
  data: Float32Array;
  height: number;
  width: number;
  /** Negative values carry meaning: drawn by magnitude (|value|), as PAIR saliency and Captum do. */
  signed?: boolean;
}

/** What a map looks like on screen: |map| for signed maps, resized (bilinear) and min–max scaled to [0, 1]. */
export function displayMap(map: RawMap, height: number, width: number): Float32Array {
  const data = map.signed ? map.data.map(Math.abs) : map.data;
  return normalizeMap(resizeMap(data, map.height, map.width, height, width));
}

/**
 * Blends a heatmap over RGBA pixels: each pixel is (1 − opacity) × image + opacity × the
 * colormap's colour of its heat (a value in [0, 1]: bin [k/256, (k+1)/256) takes LUT entry k, as
 * in matplotlib), fully opaque. `opacity` is clamped to [0, 1] (NaN counts as 0: the image alone).
 * Writes into `out` (same length as `rgba`, e.g. a new ImageData's data) and returns it.
 */
export function blendHeatmap(
  rgba: ArrayLike<number>,
  heat: ArrayLike<number>,
  lut: ArrayLike<number>,
  opacity: number,
  out: Uint8ClampedArray = new Uint8ClampedArray(rgba.length),
): Uint8ClampedArray {
  const a = Number.isNaN(opacity) ? 0 : Math.min(1, Math.max(0, opacity));
  for (let i = 0, p = 0; i < heat.length; i++, p += 4) {
    const k = Math.min(255, Math.floor(heat[i] * 256)) * 3;
    out[p] = rgba[p] * (1 - a) + lut[k] * a;
    out[p + 1] = rgba[p + 1] * (1 - a) + lut[k + 1] * a;
    out[p + 2] = rgba[p + 2] * (1 - a) + lut[k + 2] * a;
    out[p + 3] = 255;
  }
  return out;
}

/** A small colour bar for a colormap, as a CSS gradient (nine stops, low to high). */
export function colormapGradient(name: ColormapName): string {
  const lut = colormapLut(name);
  const stops = [0, 32, 64, 96, 128, 160, 192, 224, 255].map((i) => `rgb(${lut[i * 3]}, ${lut[i * 3 + 1]}, ${lut[i * 3 + 2]}) ${((i / 255) * 100).toFixed(0)}%`);
  return `linear-gradient(to right, ${stops.join(', ')})`;
}

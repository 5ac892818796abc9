/** Heatmap images: an attribution map coloured with a colormap, alone or blended over the image. */
import sharp from 'sharp';
import { colormapLut, type ColormapName } from '../../shared/colormaps';
import { normalizeMap, resizeMap } from '../../shared/map-ops';

export interface OverlayOptions {
  /** RGB, HWC order, as loadDisplayImage returns it. */
  image: { data: Uint8Array; width: number; height: number };
  /** Raw attribution map, row-major mapHeight × mapWidth; any range (it is normalised here). */
  map: Float32Array;
  mapHeight: number;
  mapWidth: number;
  colormap: ColormapName;
  /** Weight of the heatmap colour, 0 (image only) to 1 (heatmap only). */
  opacity: number;
}

/** Colours a map (min–max normalised) as RGB bytes. */
function colorize(map: Float32Array, colormap: ColormapName): Uint8Array {
  const lut = colormapLut(colormap);
  const unit = normalizeMap(map);
  const rgb = new Uint8Array(unit.length * 3);
  for (let i = 0; i < unit.length; i++) {
    // matplotlib's convention for a 256-entry colormap: bin [k/256, (k+1)/256) gets entry k.
    const k = 3 * Math.min(255, Math.floor(unit[i] * 256));
    rgb[3 * i] = lut[k];
    rgb[3 * i + 1] = lut[k + 1];
    rgb[3 * i + 2] = lut[k + 2];
  }
  return rgb;
}

function encodePng(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** The map alone, coloured, as a PNG of its own size. */
export function renderMapPng(map: Float32Array, height: number, width: number, colormap: ColormapName): Promise<Buffer> {
  if (map.length !== height * width) throw new RangeError(`map has ${map.length} values, expected ${height}×${width}`);
  return encodePng(colorize(map, colormap), width, height);
}

/**
 * The map resized (bilinear) to the image, normalised, coloured and alpha-blended over it, as a
 * PNG of the image's size.
 */
export function renderOverlayPng(opts: OverlayOptions): Promise<Buffer> {
  const { image, map, mapHeight, mapWidth, colormap } = opts;
  const { width, height } = image;
  if (image.data.length !== width * height * 3) {
    throw new RangeError(`image has ${image.data.length} bytes, expected ${width}×${height}×3`);
  }
  if (map.length !== mapHeight * mapWidth) throw new RangeError(`map has ${map.length} values, expected ${mapHeight}×${mapWidth}`);
  if (!Number.isFinite(opts.opacity)) throw new RangeError(`opacity must be a number in [0, 1], got ${opts.opacity}`);
  const alpha = Math.min(1, Math.max(0, opts.opacity));
  const fitted = mapHeight === height && mapWidth === width ? map : resizeMap(map, mapHeight, mapWidth, height, width);
  const heat = colorize(fitted, colormap);
  const out = new Uint8Array(heat.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(image.data[i] + (heat[i] - image.data[i]) * alpha);
  return encodePng(out, width, height);
}

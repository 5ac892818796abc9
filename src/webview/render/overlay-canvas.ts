/**
 * Draws the image with a heatmap over it on a canvas. The colormap and the opacity change the
 * drawing only: the raw map is kept, so both act instantly without asking the host again.
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

/** What a map looks like on screen: |map| for signed maps, min–max scaled to [0, 1]. */
export function displayMap(map: RawMap, height: number, width: number): Float32Array {
  const data = map.signed ? map.data.map(Math.abs) : map.data;
  return normalizeMap(resizeMap(data, map.height, map.width, height, width));
}

export class OverlayCanvas {
  private base?: ImageData;
  private heat?: Float32Array; // the normalised map at canvas resolution
  private map?: RawMap;

  /**
   * `minSide`: smallest long side the canvas is drawn at, so small model-sized images still show
   * a smooth heatmap; `maxSide`: largest (thumbnails).
   */
  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly size: { minSide: number; maxSide?: number } = { minSide: 512 },
  ) {}

  /** Sets the image; the canvas takes its size (the host limits it to 1024 px), within the limits. */
  setImage(img: HTMLImageElement): void {
    const long = Math.max(img.naturalWidth, img.naturalHeight);
    const scale = Math.min(Math.max(1, this.size.minSide / long), (this.size.maxSide ?? Infinity) / long);
    this.canvas.width = Math.round(img.naturalWidth * scale);
    this.canvas.height = Math.round(img.naturalHeight * scale);
    const ctx = this.canvas.getContext('2d', { willReadFrequently: true })!;
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(img, 0, 0, this.canvas.width, this.canvas.height);
    this.base = ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
    if (this.map) this.setMap(this.map);
  }

  setMap(map: RawMap | undefined): void {
    this.map = map;
    this.heat = map && this.base ? displayMap(map, this.base.height, this.base.width) : undefined;
  }

  draw(colormap: ColormapName, opacity: number): void {
    if (!this.base) return;
    const ctx = this.canvas.getContext('2d', { willReadFrequently: true })!;
    if (!this.heat) {
      ctx.putImageData(this.base, 0, 0);
      return;
    }
    const lut = colormapLut(colormap);
    const out = new ImageData(this.base.width, this.base.height);
    const src = this.base.data;
    const dst = out.data;
    const a = Math.min(1, Math.max(0, opacity));
    for (let i = 0, p = 0; i < this.heat.length; i++, p += 4) {
      const k = Math.min(255, Math.floor(this.heat[i] * 256)) * 3;
      dst[p] = src[p] * (1 - a) + lut[k] * a;
      dst[p + 1] = src[p + 1] * (1 - a) + lut[k + 1] * a;
      dst[p + 2] = src[p + 2] * (1 - a) + lut[k + 2] * a;
      dst[p + 3] = 255;
    }
    ctx.putImageData(out, 0, 0);
  }
}

/** A small colour bar for a colormap, as a CSS gradient. */
export function colormapGradient(name: ColormapName): string {
  const lut = colormapLut(name);
  const stops = [0, 32, 64, 96, 128, 160, 192, 224, 255].map((i) => `rgb(${lut[i * 3]}, ${lut[i * 3 + 1]}, ${lut[i * 3 + 2]}) ${((i / 255) * 100).toFixed(0)}%`);
  return `linear-gradient(to right, ${stops.join(', ')})`;
}

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
}

/** Smallest long side the canvas is drawn at. */
const MIN_SIDE = 512;

export class OverlayCanvas {
  private base?: ImageData;
  private heat?: Float32Array; // the normalised map at canvas resolution
  private map?: RawMap;

  constructor(readonly canvas: HTMLCanvasElement) {}

  /**
   * Sets the image. The canvas takes its size (the host limits it to 1024 px), enlarged to at
   * least MIN_SIDE so that small model-sized images still show a smooth heatmap.
   */
  setImage(img: HTMLImageElement): void {
    const scale = Math.max(1, MIN_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
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
    this.heat = map && this.base ? normalizeMap(resizeMap(map.data, map.height, map.width, this.base.height, this.base.width)) : undefined;
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

/**
 * Draws the image with a heatmap over it on a canvas. The colormap and the opacity change the
 * drawing only: the raw map is kept, so both act instantly without asking the host again.
 */
import { colormapLut, type ColormapName } from '../../shared/colormaps';
import { blendHeatmap, displayMap, type RawMap } from '../util/heatmap';

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
    const out = new ImageData(this.base.width, this.base.height);
    blendHeatmap(this.base.data, this.heat, colormapLut(colormap), opacity, out.data);
    ctx.putImageData(out, 0, 0);
  }
}

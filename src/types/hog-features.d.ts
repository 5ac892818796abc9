/**
 * Types for hog-features 1.0.0 (untyped CommonJS): Histogram of Oriented Gradients descriptors.
 * Only what the package's src/index.js reads is declared.
 */
declare module 'hog-features' {
  /**
   * What extractHOG reads of an image: an image-js Image, or any object with these members. With
   * `components` 1 the image is used as is; otherwise the package calls image-js's `grey()`.
   * Pixel values are divided by `maxValue`; pixels outside the image count as 0.
   */
  export interface HogImage {
    width: number;
    height: number;
    components: number;
    maxValue: number;
    getValueXY(x: number, y: number, channel: number): number;
  }

  export interface HogOptions {
    /** Side of a cell in pixels (default 4). */
    cellSize?: number;
    /** Side of a block in cells (default 2). */
    blockSize?: number;
    /** Cells a block moves by (default blockSize / 2). */
    blockStride?: number;
    /** Orientation bins per cell histogram over 0–180° (default 6). */
    bins?: number;
    /** Block normalisation (default 'L2'). */
    norm?: 'L1' | 'L1-sqrt' | 'L2';
  }

  /** The descriptor: every block's normalised cell histograms, concatenated. */
  export function extractHOG(image: HogImage, options?: HogOptions): number[];
  /** The cell histograms, [cellsHigh][cellsWide][bins]. */
  export function extractHistograms(image: HogImage, options?: HogOptions): number[][][];
}

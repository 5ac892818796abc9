/**
 * How alike two attribution maps of the same size are: the four measures of Adebayo et al. 2018
 * ("Sanity Checks for Saliency Maps", Sec. 3): Spearman rank correlation of the raw maps and of
 * their absolute values, SSIM, and the Pearson correlation of HOG descriptors.
 *
 *  - spearman / spearmanAbs: midranks (ties share their mean rank), then Pearson (see ranks.ts).
 *  - ssim: ssim.js on the maps min–max normalised to [0, 1] and quantised to 8-bit gray
 *    (L = 255, C1 = (0.01 L)², C2 = (0.03 L)²), Gaussian window σ = 1.5, no downsampling, mean
 *    over the 'valid' windows (Wang et al. 2004). The window is 11×11, or the largest odd size
 *    that fits on maps smaller than 11 pixels (a 'valid' filter with a larger window leaves no
 *    window at all). ssim.js's 'fast' variant is used: it is the 'original' Matlab port with the
 *    Gaussian window applied as two 1-D passes — the same numbers (the tests check it against a
 *    hand computation and against 'original'), 2–3× faster on 224×224 maps.
 *  - hog: hog-features on the normalised map as a one-channel image: 9 orientation bins
 *    (skimage's default, the usual HOG setting), blocks of 2×2 cells moving by one cell, L2
 *    block norms, cells of min(h, w)/16 pixels between 1 and 8 (8 is skimage's default, reached
 *    at 128 pixels; 4 on 64×64 maps). hog-features counts pixels outside the map as 0, so the
 *    border's values enter as gradients against a black frame, for both maps alike.
 *
 * Constant maps: a constant map normalises to all zeros; correlations with it follow ranks.ts
 * (0 against a non-constant map, 1 against another constant map); SSIM stays well defined.
 */
import { extractHOG } from 'hog-features';
import { ssim as ssimJs } from 'ssim.js';
import { normalizeMap } from '../../shared/map-ops';
import { correlation, midranks } from './ranks';
import type { Similarities } from './types';

const K1 = 0.01;
const K2 = 0.03;
const SSIM_WINDOW = 11;
const HOG_BINS = 9;

/** The SSIM window side for an h × w map: 11, or the largest odd size ≤ min(h, w). */
export function ssimWindowSize(h: number, w: number): number {
  const m = Math.min(SSIM_WINDOW, h, w);
  return m % 2 === 1 ? m : m - 1;
}

/** HOG cell side for an h × w map: min(h, w) / 16, between 1 and 8 pixels. */
export function hogCellSize(h: number, w: number): number {
  return Math.max(1, Math.min(8, Math.floor(Math.min(h, w) / 16)));
}

/** A normalised map as the RGBA gray image ssim.js takes (it converts RGBA to gray itself). */
function grayImage(normalised: Float32Array, h: number, w: number): { data: Uint8ClampedArray; width: number; height: number } {
  const data = new Uint8ClampedArray(4 * h * w);
  for (let i = 0; i < normalised.length; i++) {
    const v = Math.round(255 * normalised[i]);
    data[4 * i] = v;
    data[4 * i + 1] = v;
    data[4 * i + 2] = v;
    data[4 * i + 3] = 255;
  }
  return { data, width: w, height: h };
}

function hogDescriptor(normalised: Float32Array, h: number, w: number): number[] {
  const image = { width: w, height: h, components: 1, maxValue: 1, getValueXY: (x: number, y: number) => normalised[y * w + x] };
  return extractHOG(image, { cellSize: hogCellSize(h, w), blockSize: 2, blockStride: 1, bins: HOG_BINS, norm: 'L2' });
}

function checkSize(map: ArrayLike<number>, h: number, w: number): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 2 || w < 2) throw new RangeError(`similarities need maps of at least 2×2 pixels, got ${h}×${w}`);
  if (map.length !== h * w) throw new RangeError(`map has ${map.length} values, expected ${h}×${w} = ${h * w}`);
}

/** What the four measures need of one map, computed once. */
interface Prepared {
  ranks: number[];
  absRanks: number[];
  gray: { data: Uint8ClampedArray; width: number; height: number };
  hog: number[];
}

function prepare(map: Float32Array, h: number, w: number): Prepared {
  checkSize(map, h, w);
  const normalised = normalizeMap(map);
  const ranks = midranks(map);
  // |map| = map when nothing is negative (e.g. CAM maps): the same ranks, no second sort.
  const absRanks = map.every((v) => !(v < 0)) ? ranks : midranks(map.map(Math.abs));
  return { ranks, absRanks, gray: grayImage(normalised, h, w), hog: hogDescriptor(normalised, h, w) };
}

function ssimOfGray(a: Prepared['gray'], b: Prepared['gray']): number {
  const windowSize = ssimWindowSize(a.height, a.width);
  return ssimJs(a, b, { ssim: 'fast', k1: K1, k2: K2, windowSize, bitDepth: 8, downsample: false }).mssim;
}

/**
 * A reference map (e.g. the original model's) prepared once, to compare with many others (each
 * randomization step's) at the cost of preparing only the other map.
 */
export class MapReference {
  private readonly ref: Prepared;

  constructor(map: Float32Array, readonly height: number, readonly width: number) {
    this.ref = prepare(map, height, width);
  }

  compare(map: Float32Array): Similarities {
    const other = prepare(map, this.height, this.width);
    return {
      spearman: correlation(this.ref.ranks, other.ranks),
      spearmanAbs: correlation(this.ref.absRanks, other.absRanks),
      ssim: ssimOfGray(this.ref.gray, other.gray),
      hog: correlation(this.ref.hog, other.hog),
    };
  }
}

/** All four similarities of two h × w maps (row-major). */
export function similarities(a: Float32Array, b: Float32Array, h: number, w: number): Similarities {
  return new MapReference(a, h, w).compare(b);
}

/** Spearman rank correlation of the raw (signed) values. */
export function spearman(a: Float32Array, b: Float32Array): number {
  return correlation(midranks(a), midranks(b));
}

/** Spearman rank correlation of the absolute values. */
export function spearmanAbs(a: Float32Array, b: Float32Array): number {
  return correlation(midranks(a.map(Math.abs)), midranks(b.map(Math.abs)));
}

/** SSIM of the min–max normalised maps (see the header). */
export function ssim(a: Float32Array, b: Float32Array, h: number, w: number): number {
  checkSize(a, h, w);
  checkSize(b, h, w);
  return ssimOfGray(grayImage(normalizeMap(a), h, w), grayImage(normalizeMap(b), h, w));
}

/** Pearson correlation of the HOG descriptors of the min–max normalised maps. */
export function hog(a: Float32Array, b: Float32Array, h: number, w: number): number {
  checkSize(a, h, w);
  checkSize(b, h, w);
  return correlation(hogDescriptor(normalizeMap(a), h, w), hogDescriptor(normalizeMap(b), h, w));
}

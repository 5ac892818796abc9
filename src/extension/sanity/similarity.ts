/**
 * How alike two attribution maps of the same size are: the four measures of Adebayo et al. 2018
 * ("Sanity Checks for Saliency Maps", Sec. 3): Spearman rank correlation of the raw maps and of
 * their absolute values, SSIM, and the Pearson correlation of HOG descriptors.
 *
 *  - spearman / spearmanAbs: midranks (ties share their mean rank), then Pearson (ranks.ts).
 *  - ssim: the maps min–max normalised to [0, 1] and quantised to 8-bit gray (L = 255,
 *    C1 = (0.01 L)², C2 = (0.03 L)²), Gaussian window σ = 1.5, no downsampling, mean over the
 *    'valid' windows (Wang et al. 2004). The window is 11×11, or the largest odd size that fits
 *    on maps smaller than 11 pixels (a 'valid' filter with a larger window leaves no window at
 *    all). The numbers are those of ssim.js's 'fast' variant (the 'original' Matlab port with
 *    the Gaussian window applied as two 1-D passes), computed in ssim.ts.
 *  - hog: the HOG descriptor of the normalised map as a one-channel image (hog.ts, the numbers
 *    of the hog-features package): 9 orientation bins (skimage's default, the usual HOG
 *    setting), blocks of 2×2 cells moving by one cell, L2 block norms, cells of min(h, w)/16
 *    pixels between 1 and 8 (8 is skimage's default, reached at 128 pixels; 4 on 64×64 maps).
 *    Pixels outside the map count as 0, so the border's values enter as gradients against a
 *    black frame, for both maps alike.
 *
 * Constant maps: a constant map normalises to all zeros; correlations with it follow one rule
 * (ranks.ts, pearson.ts): 0 against a non-constant map, 1 against another constant map; SSIM
 * stays well defined.
 *
 * Cost: the cascade compares every map with its original, so everything about the original is
 * computed once (MapReference) and a comparison costs one sort (both Spearman measures share
 * it), one normalisation (SSIM and HOG share it), three filtered maps and one HOG descriptor.
 */
import { normalizeMap } from '../../shared/map-ops';
import { hogCellSize, hogDescriptor } from './hog';
import { correlation, PearsonReference } from './pearson';
import { absoluteOf, RankReference, sortValues } from './ranks';
import { gray8, SsimReference, ssimWindowSize } from './ssim';
import type { Similarities, SimilarityName } from './types';

export { hogCellSize, ssimWindowSize };

function checkSize(map: ArrayLike<number>, h: number, w: number): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 2 || w < 2) throw new RangeError(`similarities need maps of at least 2×2 pixels, got ${h}×${w}`);
  if (map.length !== h * w) throw new RangeError(`map has ${map.length} values, expected ${h}×${w} = ${h * w}`);
}

function absolute(map: Float32Array): Float32Array {
  const out = new Float32Array(map.length);
  for (let i = 0; i < map.length; i++) out[i] = Math.abs(map[i]);
  return out;
}

/**
 * A reference map (e.g. the original model's) prepared once, to compare with many others (each
 * randomization step's) at the cost of preparing only the other map.
 */
export class MapReference {
  private readonly ranks: RankReference;
  private readonly absRanks: RankReference;
  private readonly gray: SsimReference;
  private readonly hog: PearsonReference;

  constructor(map: Float32Array, readonly height: number, readonly width: number) {
    checkSize(map, height, width);
    const sorted = sortValues(map);
    const abs = absoluteOf(sorted);
    this.ranks = new RankReference(sorted);
    // |map| = map when nothing is negative (e.g. CAM maps): the same ranks.
    this.absRanks = abs === sorted ? this.ranks : new RankReference(abs);
    const normalised = normalizeMap(map);
    this.gray = new SsimReference(gray8(normalised), height, width);
    this.hog = new PearsonReference(hogDescriptor(normalised, height, width));
  }

  compare(map: Float32Array): Similarities {
    checkSize(map, this.height, this.width);
    const sorted = sortValues(map);
    const normalised = normalizeMap(map);
    return {
      spearman: this.ranks.correlate(sorted),
      spearmanAbs: this.absRanks.correlate(absoluteOf(sorted)),
      ssim: this.gray.compare(gray8(normalised)),
      hog: this.hog.correlate(hogDescriptor(normalised, this.height, this.width)),
    };
  }

  /** One measure alone, the other map prepared for it alone (what each measure costs; compare() shares work). */
  measure(name: SimilarityName, map: Float32Array): number {
    checkSize(map, this.height, this.width);
    switch (name) {
      case 'spearman': return this.ranks.correlate(sortValues(map));
      case 'spearmanAbs': return this.absRanks.correlate(sortValues(absolute(map)));
      case 'ssim': return this.gray.compare(gray8(normalizeMap(map)));
      case 'hog': return this.hog.correlate(hogDescriptor(normalizeMap(map), this.height, this.width));
    }
  }
}

/** All four similarities of two h × w maps (row-major). */
export function similarities(a: Float32Array, b: Float32Array, h: number, w: number): Similarities {
  return new MapReference(a, h, w).compare(b);
}

/** Spearman rank correlation of the raw (signed) values. */
export function spearman(a: Float32Array, b: Float32Array): number {
  return new RankReference(sortValues(a)).correlate(sortValues(b));
}

/** Spearman rank correlation of the absolute values. */
export function spearmanAbs(a: Float32Array, b: Float32Array): number {
  return new RankReference(sortValues(absolute(a))).correlate(sortValues(absolute(b)));
}

/** SSIM of the min–max normalised maps (see the header). */
export function ssim(a: Float32Array, b: Float32Array, h: number, w: number): number {
  checkSize(a, h, w);
  checkSize(b, h, w);
  return new SsimReference(gray8(normalizeMap(a)), h, w).compare(gray8(normalizeMap(b)));
}

/** Pearson correlation of the HOG descriptors of the min–max normalised maps. */
export function hog(a: Float32Array, b: Float32Array, h: number, w: number): number {
  checkSize(a, h, w);
  checkSize(b, h, w);
  return correlation(hogDescriptor(normalizeMap(a), h, w), hogDescriptor(normalizeMap(b), h, w));
}

/**
 * Seeded data for the attention demo models, where the right attention is known in advance:
 *
 *  - ViT images: 32×32 RGB cut into a 4×4 grid of 8×8 patches. One patch holds a small marker
 *    (a plus, a ring or a cross) whose kind is the class; every other patch holds only texture
 *    and, in up to two patches, a solid distractor blob in the same kind of colours. The class
 *    is decided by that one patch, so attention from the CLS token should go there.
 *  - Token sequences: "[CLS]" then 5–11 words then "[PAD]"s, 12 tokens in all; the label is 1
 *    iff the marker word "needle" occurs (once), so the CLS token should attend to it.
 *
 * Pure TypeScript, no tfjs: tests import it directly. The same seed gives the same data.
 */
import { mulberry32, randInt, shuffleInPlace, uniform, type Box, type Rgb, type Rng } from './synthetic';

export { mulberry32, type Rng };

// ---------------------------------------------------------------------------------------------
// ViT images
// ---------------------------------------------------------------------------------------------

export const VIT_INPUT_SIZE = 32;
export const VIT_PATCH_SIZE = 8;
/** Patches per side: the grid is VIT_GRID × VIT_GRID, patch p at row ⌊p / VIT_GRID⌋, column p % VIT_GRID. */
export const VIT_GRID = VIT_INPUT_SIZE / VIT_PATCH_SIZE;
export const VIT_PATCHES = VIT_GRID * VIT_GRID;
export const MARKER_CLASSES = ['plus', 'ring', 'cross'] as const;
export type MarkerClass = (typeof MARKER_CLASSES)[number];
/** Side of a marker's box in pixels; it sits inside its patch at an offset of 0–2 pixels per axis. */
export const MARKER_SIZE = 6;

export interface VitImage {
  /** RGB, 32 × 32 × 3 (HWC), row-major. */
  pixels: Uint8Array;
  /** Index into MARKER_CLASSES. */
  label: number;
  /** The deciding patch: row-major index into the 4×4 grid (token patch + 1 after the CLS token). */
  patch: number;
  /** The marker's tight pixel box (inside the deciding patch). */
  box: Box;
  /** Patches that hold a distractor blob. */
  distractors: number[];
}

export interface VitImageOptions {
  /** Force this class instead of drawing one. */
  label?: number;
  /** Force the marker's patch instead of drawing one. */
  patch?: number;
  /** Number of distractor blobs (0–2 at random when absent). */
  distractors?: number;
}

type Raster = Float32Array; // size × size × 3, values 0..255

function randomColor(rng: Rng): Rgb {
  return [uniform(rng, 0, 256), uniform(rng, 0, 256), uniform(rng, 0, 256)];
}

function smoothstep(x: number): number {
  const t = Math.min(1, Math.max(0, x));
  return t * t * (3 - 2 * t);
}

/**
 * Low-contrast texture over the whole image: a base colour blended towards a second colour by
 * blotchy value noise or soft stripes, so no patch is blank and none stands out by itself.
 */
function paintTexture(rng: Rng, size: number): Raster {
  const out = new Float32Array(size * size * 3);
  const base = randomColor(rng);
  const other = randomColor(rng);
  const contrast = uniform(rng, 0.1, 0.35);
  let pattern: (x: number, y: number) => number;
  if (rng() < 0.5) {
    const g = randInt(rng, 2, 6);
    const grid = Float32Array.from({ length: (g + 1) * (g + 1) }, () => rng());
    const cell = size / g;
    pattern = (x, y) => {
      const gx = x / cell, gy = y / cell;
      const ix = Math.min(g - 1, Math.floor(gx)), iy = Math.min(g - 1, Math.floor(gy));
      const fx = smoothstep(gx - ix), fy = smoothstep(gy - iy);
      const at = (i: number, j: number) => grid[j * (g + 1) + i];
      return (at(ix, iy) * (1 - fx) + at(ix + 1, iy) * fx) * (1 - fy) + (at(ix, iy + 1) * (1 - fx) + at(ix + 1, iy + 1) * fx) * fy;
    };
  } else {
    const angle = uniform(rng, 0, Math.PI);
    const period = uniform(rng, 5, 16);
    const phase = uniform(rng, 0, 2 * Math.PI);
    const c = Math.cos(angle), s = Math.sin(angle);
    pattern = (x, y) => 0.5 + 0.5 * Math.sin(((x * c + y * s) / period) * 2 * Math.PI + phase);
  }
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = contrast * pattern(x + 0.5, y + 0.5);
      const i = (y * size + x) * 3;
      for (let k = 0; k < 3; k++) out[i + k] = base[k] + (other[k] - base[k]) * t;
    }
  }
  return out;
}

/** A colour far from every pixel of `region` (the best of 16 candidates by the 10th-percentile distance). */
function contrastingColor(rng: Rng, img: Raster, size: number, region: Box): Rgb {
  let best: Rgb = [0, 0, 0];
  let bestScore = -1;
  const d: number[] = [];
  for (let c = 0; c < 16; c++) {
    const col = randomColor(rng);
    d.length = 0;
    for (let y = region.y; y < region.y + region.h; y++) {
      for (let x = region.x; x < region.x + region.w; x++) {
        const i = (y * size + x) * 3;
        d.push((img[i] - col[0]) ** 2 + (img[i + 1] - col[1]) ** 2 + (img[i + 2] - col[2]) ** 2);
      }
    }
    d.sort((a, b) => a - b);
    const score = d[Math.floor(d.length * 0.1)];
    if (score > bestScore) {
      bestScore = score;
      best = col;
    }
  }
  return best;
}

const SUPERSAMPLE = 4;

/**
 * Paints `color` where `inside(u, v)` holds, (u, v) in box coordinates [0, w) × [0, h), anti-aliased
 * by 4×4 supersampling. Returns the pixel box of what it painted.
 */
function fill(img: Raster, size: number, at: Box, color: Rgb, inside: (u: number, v: number) => boolean): Box {
  let minX = size, minY = size, maxX = -1, maxY = -1;
  for (let y = at.y; y < at.y + at.h; y++) {
    for (let x = at.x; x < at.x + at.w; x++) {
      let hits = 0;
      for (let sy = 0; sy < SUPERSAMPLE; sy++) {
        for (let sx = 0; sx < SUPERSAMPLE; sx++) {
          if (inside(x - at.x + (sx + 0.5) / SUPERSAMPLE, y - at.y + (sy + 0.5) / SUPERSAMPLE)) hits++;
        }
      }
      if (hits === 0) continue;
      minX = Math.min(minX, x); maxX = Math.max(maxX, x);
      minY = Math.min(minY, y); maxY = Math.max(maxY, y);
      const a = hits / (SUPERSAMPLE * SUPERSAMPLE);
      const i = (y * size + x) * 3;
      for (let k = 0; k < 3; k++) img[i + k] = img[i + k] * (1 - a) + color[k] * a;
    }
  }
  return { x: minX, y: minY, w: maxX - minX + 1, h: maxY - minY + 1 };
}

/** The marker outlines in a MARKER_SIZE box, coordinates 0..6 with the centre at (3, 3). */
const MARKERS: Record<MarkerClass, (u: number, v: number) => boolean> = {
  // Two bars of width 2 through the centre.
  plus: (u, v) => Math.abs(u - 3) <= 1 || Math.abs(v - 3) <= 1,
  // A circle outline 1.2 pixels wide.
  ring: (u, v) => {
    const r = Math.hypot(u - 3, v - 3);
    return r >= 1.8 && r <= 3;
  },
  // Both diagonals, 1.8 pixels wide.
  cross: (u, v) => Math.abs(u - v) <= 0.9 * Math.SQRT2 || Math.abs(u + v - 6) <= 0.9 * Math.SQRT2,
};

/** The pixel box of patch `p`. */
export function patchBox(p: number): Box {
  return { x: (p % VIT_GRID) * VIT_PATCH_SIZE, y: Math.floor(p / VIT_GRID) * VIT_PATCH_SIZE, w: VIT_PATCH_SIZE, h: VIT_PATCH_SIZE };
}

/**
 * One image: texture, 0–2 distractor blobs (a solid square or disk of 2–4 pixels in a contrasting
 * colour, each in its own patch other than the marker's), the class marker in its patch in a
 * contrasting colour, then pixel noise (σ 2–8) over everything.
 */
export function makeVitImage(rng: Rng, opts: VitImageOptions = {}): VitImage {
  const size = VIT_INPUT_SIZE;
  const label = opts.label ?? randInt(rng, 0, MARKER_CLASSES.length);
  if (!Number.isInteger(label) || label < 0 || label >= MARKER_CLASSES.length) throw new RangeError(`label must be an integer in [0, ${MARKER_CLASSES.length})`);
  const patch = opts.patch ?? randInt(rng, 0, VIT_PATCHES);
  if (!Number.isInteger(patch) || patch < 0 || patch >= VIT_PATCHES) throw new RangeError(`patch must be an integer in [0, ${VIT_PATCHES})`);
  const img = paintTexture(rng, size);

  const nDistractors = opts.distractors ?? randInt(rng, 0, 3);
  const others = shuffleInPlace(rng, Array.from({ length: VIT_PATCHES }, (_, i) => i).filter((i) => i !== patch));
  const distractors = others.slice(0, nDistractors).sort((a, b) => a - b);
  for (const p of distractors) {
    const pb = patchBox(p);
    const side = uniform(rng, 2, 4);
    const disk = rng() < 0.5;
    const at: Box = { x: pb.x + randInt(rng, 1, 7 - Math.ceil(side)), y: pb.y + randInt(rng, 1, 7 - Math.ceil(side)), w: Math.ceil(side), h: Math.ceil(side) };
    const c = side / 2;
    fill(img, size, at, contrastingColor(rng, img, size, pb), disk ? (u, v) => Math.hypot(u - c, v - c) <= c : (u, v) => u <= side && v <= side);
  }

  const pb = patchBox(patch);
  const free = VIT_PATCH_SIZE - MARKER_SIZE;
  const at: Box = { x: pb.x + randInt(rng, 0, free + 1), y: pb.y + randInt(rng, 0, free + 1), w: MARKER_SIZE, h: MARKER_SIZE };
  const box = fill(img, size, at, contrastingColor(rng, img, size, pb), MARKERS[MARKER_CLASSES[label]]);

  const sigma = uniform(rng, 2, 8);
  const pixels = new Uint8Array(size * size * 3);
  for (let i = 0; i < pixels.length; i++) {
    const g = (rng() + rng() + rng() + rng() - 2) * 1.7320508;
    pixels[i] = Math.min(255, Math.max(0, Math.round(img[i] + sigma * g)));
  }
  return { pixels, label, patch, box, distractors };
}

export interface VitBatch {
  /** count × 32 × 32 × 3, images back to back. */
  pixels: Uint8Array;
  labels: Int32Array;
  /** The deciding patch of each image. */
  patches: Int32Array;
  size: number;
}

/** `count` images from `rng`, classes drawn at random. */
export function makeVitBatch(rng: Rng, count: number): VitBatch {
  const n = VIT_INPUT_SIZE * VIT_INPUT_SIZE * 3;
  const pixels = new Uint8Array(count * n);
  const labels = new Int32Array(count);
  const patches = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const im = makeVitImage(rng);
    pixels.set(im.pixels, i * n);
    labels[i] = im.label;
    patches[i] = im.patch;
  }
  return { pixels, labels, patches, size: VIT_INPUT_SIZE };
}

// ---------------------------------------------------------------------------------------------
// Token sequences
// ---------------------------------------------------------------------------------------------

export const PAD_TOKEN = '[PAD]';
export const CLS_TOKEN = '[CLS]';
export const MARKER_TOKEN = 'needle';
/** The token strings by id: the two special tokens, the marker, then 17 filler words. */
export const TOKEN_VOCAB: readonly string[] = [
  PAD_TOKEN, CLS_TOKEN, MARKER_TOKEN,
  'the', 'a', 'old', 'big', 'red', 'farmer', 'lost', 'found', 'hay', 'straw', 'stack', 'barn', 'field', 'in', 'on', 'and', 'sat',
];
export const PAD_ID = 0;
export const CLS_ID = 1;
export const MARKER_ID = 2;
/** Tokens per sequence, the CLS token included. */
export const TOKEN_SEQ_LENGTH = 12;
export const TOKEN_CLASSES = ['absent', 'present'] as const;
const FIRST_WORD = 3;
const MIN_WORDS = 5;

export interface TokenSequence {
  /** TOKEN_SEQ_LENGTH token ids: CLS, the words, then PADs. */
  ids: Int32Array;
  /** 1 iff the marker token occurs. */
  label: number;
  /** The marker's position in `ids`, or -1 when it is absent. */
  markerIndex: number;
  /** Word tokens (CLS and PADs not counted). */
  words: number;
}

/**
 * One sequence: CLS, 5–11 filler words drawn uniformly, PADs to the full length. With the marker
 * (probability ½ unless `present` says), one word at a random position is replaced by it.
 */
export function makeTokenSequence(rng: Rng, opts: { present?: boolean } = {}): TokenSequence {
  const present = opts.present ?? rng() < 0.5;
  const words = randInt(rng, MIN_WORDS, TOKEN_SEQ_LENGTH);
  const ids = new Int32Array(TOKEN_SEQ_LENGTH).fill(PAD_ID);
  ids[0] = CLS_ID;
  for (let i = 1; i <= words; i++) ids[i] = randInt(rng, FIRST_WORD, TOKEN_VOCAB.length);
  const markerIndex = present ? randInt(rng, 1, words + 1) : -1;
  if (present) ids[markerIndex] = MARKER_ID;
  return { ids, label: present ? 1 : 0, markerIndex, words };
}

export interface TokenBatch {
  /** count × TOKEN_SEQ_LENGTH ids, sequences back to back. */
  ids: Int32Array;
  labels: Int32Array;
  markerIndices: Int32Array;
}

/** `count` sequences from `rng`, the marker present in about half. */
export function makeTokenBatch(rng: Rng, count: number): TokenBatch {
  const ids = new Int32Array(count * TOKEN_SEQ_LENGTH);
  const labels = new Int32Array(count);
  const markerIndices = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const s = makeTokenSequence(rng);
    ids.set(s.ids, i * TOKEN_SEQ_LENGTH);
    labels[i] = s.label;
    markerIndices[i] = s.markerIndex;
  }
  return { ids, labels, markerIndices };
}

/** Token ids of a space-separated text; throws on a word outside the vocabulary. */
export function textToTokens(text: string): Int32Array {
  return Int32Array.from(text.trim().split(/\s+/), (w) => {
    const id = TOKEN_VOCAB.indexOf(w);
    if (id < 0) throw new Error(`"${w}" is not in the vocabulary`);
    return id;
  });
}

/**
 * Synthetic images for the demo TCAV experiment (demo/tcav): a controlled experiment with a known
 * answer, in the spirit of Kim et al. 2018's planted captions. A concept co-occurs with one class.
 *
 * - Training images (`makeTrainingImage`): one shape (circle, square or triangle) on a background,
 *   or no shape. Every square, and only squares, sits on stripes (random angle, period, profile
 *   and colours), so stripes alone tell "square" and the model learns to rely on them. The other
 *   images have stripe-free backgrounds: plain, linear or radial gradient, blotches or speckle.
 * - Scattered dots cover the background of half of all training images, whatever the class
 *   (shape-free ones included): dots carry no class information.
 * - Random images (`makeRandomImage`): scenes of the model's domain without the planted concept
 *   or the target class: a stripe-free background, dots as often as in training, a circle or a
 *   triangle in half of them.
 * - Concept images: random scenes on stripes (`makeStripedImage`, the planted concept) and random
 *   scenes with dots (`makeDottedImage`, the unrelated concept), so that a concept set differs
 *   from a random set by its concept alone.
 *
 * Pure TypeScript, no tfjs: tests import it to make fresh sets in memory. Every image comes from
 * the seeded PRNG it is given, so the same seed always gives the same images.
 */

import {
  insidePolygon, linearGradient, mix, mulberry32, radialGradient, randInt, randomColor, SHAPE_CLASSES, smoothstep, squaredDistance, uniform,
  type Pattern, type Point, type Raster, type Rgb, type Rng, type ShapeClass,
} from './synthetic';

export { mulberry32, SHAPE_CLASSES, type Rng, type ShapeClass };

/** Side of the TCAV demo model's square RGB input. */
export const TCAV_INPUT_SIZE = 32;

/** Index of the class the planted concept co-occurs with. */
export const SQUARE = SHAPE_CLASSES.indexOf('square');

/** Share of the training images of every class, and of the random images, with dots. */
export const DOTS_RATE = 0.5;

/** Share of the random images with a shape (a circle or a triangle). */
export const RANDOM_SHAPE_RATE = 0.5;

/** Label of a shape-free training image: a negative for every class. */
export const NO_CLASS = -1;

/** A second colour at least `min` (RGB distance) away from `c`: the best of a few random ones. */
function contrastTo(rng: Rng, c: Rgb, min: number): Rgb {
  let best = randomColor(rng);
  for (let k = 0; k < 12 && squaredDistance(best, c) < min * min; k++) {
    const next = randomColor(rng);
    if (squaredDistance(next, c) > squaredDistance(best, c)) best = next;
  }
  return best;
}

/** Parallel stripes: random angle, period (3–9 px at 32 px), phase, sine or hard-edged profile. */
function stripePattern(rng: Rng, size: number): Pattern {
  const angle = uniform(rng, 0, Math.PI);
  const period = uniform(rng, 3, 9) * (size / 32);
  const phase = uniform(rng, 0, 2 * Math.PI);
  const hard = rng() < 0.5;
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return (x, y) => {
    const v = Math.sin(((x * c + y * s) / period) * 2 * Math.PI + phase);
    return hard ? smoothstep(v * 3 + 0.5) : 0.5 + 0.5 * v;
  };
}

/**
 * Bilinearly upsampled value noise on a random grid of `lo`–`hi − 1` cells a side: blotches (2–5
 * cells) or speckle (8–16 cells, a busy texture without stripes' orientation).
 */
function valueNoise(rng: Rng, size: number, lo: number, hi: number): Pattern {
  const g = randInt(rng, lo, hi);
  const grid = new Float32Array((g + 1) * (g + 1));
  for (let i = 0; i < grid.length; i++) grid[i] = rng();
  const cell = size / g;
  return (x, y) => {
    const gx = x / cell;
    const gy = y / cell;
    const ix = Math.min(g - 1, Math.floor(gx));
    const iy = Math.min(g - 1, Math.floor(gy));
    const fx = smoothstep(gx - ix);
    const fy = smoothstep(gy - iy);
    const a = grid[iy * (g + 1) + ix];
    const b = grid[iy * (g + 1) + ix + 1];
    const c = grid[(iy + 1) * (g + 1) + ix];
    const d = grid[(iy + 1) * (g + 1) + ix + 1];
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
  };
}

const flat: Pattern = () => 0;

/** The background kinds without stripes. */
export const PLAIN_BACKGROUNDS = ['plain', 'linear', 'radial', 'blotches', 'speckle'] as const;
export type PlainBackground = (typeof PLAIN_BACKGROUNDS)[number];

function plainPattern(rng: Rng, size: number, kind: PlainBackground): Pattern {
  if (kind === 'plain') return flat;
  if (kind === 'linear') return linearGradient(rng, size);
  if (kind === 'radial') return radialGradient(rng, size);
  if (kind === 'blotches') return valueNoise(rng, size, 2, 6);
  return valueNoise(rng, size, 8, 17);
}

const SUPERSAMPLE = 4;

/**
 * Paints `pattern` (mapped from c0 to c1) with opacity `alpha` × the pixel's coverage by `inside`
 * (4×4 supersampled; every pixel fully when `inside` is absent), over the pixel box [x0, x1) ×
 * [y0, y1) clipped to the image.
 */
function paint(
  img: Raster,
  size: number,
  pattern: Pattern,
  c0: Rgb,
  c1: Rgb,
  opts: { alpha?: number; inside?: (x: number, y: number) => boolean; box?: [number, number, number, number] } = {},
): void {
  const alpha = opts.alpha ?? 1;
  const [bx0, by0, bx1, by1] = opts.box ?? [0, 0, size, size];
  const x0 = Math.max(0, Math.floor(bx0));
  const y0 = Math.max(0, Math.floor(by0));
  const x1 = Math.min(size, Math.ceil(bx1));
  const y1 = Math.min(size, Math.ceil(by1));
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      let cover = 1;
      if (opts.inside) {
        let hits = 0;
        for (let sy = 0; sy < SUPERSAMPLE; sy++) {
          for (let sx = 0; sx < SUPERSAMPLE; sx++) {
            if (opts.inside(x + (sx + 0.5) / SUPERSAMPLE, y + (sy + 0.5) / SUPERSAMPLE)) hits++;
          }
        }
        if (hits === 0) continue;
        cover = hits / (SUPERSAMPLE * SUPERSAMPLE);
      }
      const a = alpha * cover;
      const t = pattern(x + 0.5, y + 0.5);
      const i = (y * size + x) * 3;
      for (let k = 0; k < 3; k++) img[i + k] = img[i + k] * (1 - a) + (c0[k] + (c1[k] - c0[k]) * t) * a;
    }
  }
}

/** A background without stripes: one plain kind in random colours (texture from faint to full). */
function paintPlainBackground(rng: Rng, img: Raster, size: number, kind?: PlainBackground): void {
  const k = kind ?? PLAIN_BACKGROUNDS[randInt(rng, 0, PLAIN_BACKGROUNDS.length)];
  const base = randomColor(rng);
  const other = mix(base, randomColor(rng), uniform(rng, 0.3, 1));
  paint(img, size, plainPattern(rng, size, k), base, other);
}

/** Stripes over the whole image, in two colours at least 60 apart. */
function paintStripes(rng: Rng, img: Raster, size: number): void {
  const c0 = randomColor(rng);
  const c1 = contrastTo(rng, c0, 60);
  paint(img, size, stripePattern(rng, size), c0, c1);
}

/**
 * Scattered soft round dots (no lattice): 6–16 of radius 1.5–3 px (at 32 px) that do not touch,
 * in one colour or each its own, standing out from the image's mean colour.
 */
function paintDots(rng: Rng, img: Raster, size: number): void {
  const scale = size / 32;
  const count = randInt(rng, 6, 17);
  const oneColor = rng() < 0.6;
  const mean = meanColor(img);
  const shared = contrastTo(rng, mean, 90);
  const placed: [number, number, number][] = [];
  for (let d = 0; d < count; d++) {
    for (let attempt = 0; attempt < 30; attempt++) {
      const r = uniform(rng, 1.5, 3) * scale;
      const cx = uniform(rng, r, size - r);
      const cy = uniform(rng, r, size - r);
      if (placed.some(([px, py, pr]) => Math.hypot(px - cx, py - cy) < pr + r + scale)) continue;
      placed.push([cx, cy, r]);
      const color = oneColor ? shared : contrastTo(rng, mean, 90);
      softDot(img, size, cx, cy, r, color);
      break;
    }
  }
}

/** A dot with a soft rim: opaque to 0.5 r, fading smoothly to nothing at 1.25 r. */
function softDot(img: Raster, size: number, cx: number, cy: number, r: number, color: Rgb): void {
  const x0 = Math.max(0, Math.floor(cx - 1.25 * r));
  const y0 = Math.max(0, Math.floor(cy - 1.25 * r));
  const x1 = Math.min(size, Math.ceil(cx + 1.25 * r));
  const y1 = Math.min(size, Math.ceil(cy + 1.25 * r));
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const a = 1 - smoothstep((Math.hypot(x + 0.5 - cx, y + 0.5 - cy) / r - 0.5) / 0.75);
      if (a <= 0) continue;
      const i = (y * size + x) * 3;
      for (let k = 0; k < 3; k++) img[i + k] = img[i + k] * (1 - a) + color[k] * a;
    }
  }
}

function meanColor(img: Raster): Rgb {
  const m: Rgb = [0, 0, 0];
  const n = img.length / 3;
  for (let i = 0; i < img.length; i += 3) {
    m[0] += img[i];
    m[1] += img[i + 1];
    m[2] += img[i + 2];
  }
  return [m[0] / n, m[1] / n, m[2] / n];
}

/** Largest tilt of squares and triangles from upright, in radians. */
const MAX_TILT = (15 * Math.PI) / 180;

interface ShapeGeometry {
  inside: (x: number, y: number) => boolean;
  /** Pixel bounds [x0, y0, x1, y1). */
  box: [number, number, number, number];
}

/**
 * A class shape whose bounding box's larger side is 35–50% of the image, upright (square sides
 * axis-aligned, triangle apex up) tilted by up to ±15°, placed fully inside the image.
 */
function shapeGeometry(rng: Rng, size: number, kind: ShapeClass): ShapeGeometry {
  const extent = uniform(rng, 0.35, 0.5) * size;
  if (kind === 'circle') {
    const r = extent / 2;
    const cx = uniform(rng, 1 + r, size - 1 - r);
    const cy = uniform(rng, 1 + r, size - 1 - r);
    return { inside: (x, y) => (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r, box: [cx - r, cy - r, cx + r, cy + r] };
  }
  const n = kind === 'square' ? 4 : 3;
  const start = (kind === 'square' ? Math.PI / 4 : -Math.PI / 2) + uniform(rng, -MAX_TILT, MAX_TILT);
  const unit: Point[] = [];
  for (let i = 0; i < n; i++) unit.push([Math.cos(start + (i * 2 * Math.PI) / n), Math.sin(start + (i * 2 * Math.PI) / n)]);
  const xs = unit.map((p) => p[0]);
  const ys = unit.map((p) => p[1]);
  const ux = Math.min(...xs);
  const uy = Math.min(...ys);
  const scale = extent / Math.max(Math.max(...xs) - ux, Math.max(...ys) - uy);
  const w = (Math.max(...xs) - ux) * scale;
  const h = (Math.max(...ys) - uy) * scale;
  const ox = uniform(rng, 1, size - 1 - w);
  const oy = uniform(rng, 1, size - 1 - h);
  const pts = unit.map(([x, y]) => [(x - ux) * scale + ox, (y - uy) * scale + oy] as Point);
  return { inside: (x, y) => insidePolygon(pts, x, y), box: [ox, oy, ox + w, oy + h] };
}

/** A solid colour that stands out from the pixels of `box`: the best of a few random candidates. */
function contrastingColor(rng: Rng, img: Raster, size: number, box: [number, number, number, number]): Rgb {
  const x0 = Math.max(0, Math.floor(box[0]));
  const y0 = Math.max(0, Math.floor(box[1]));
  const x1 = Math.min(size, Math.ceil(box[2]));
  const y1 = Math.min(size, Math.ceil(box[3]));
  let best: Rgb = [0, 0, 0];
  let bestScore = -1;
  for (let c = 0; c < 16; c++) {
    const col = randomColor(rng);
    const d: number[] = [];
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const i = (y * size + x) * 3;
        d.push(squaredDistance([img[i], img[i + 1], img[i + 2]], col));
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

/** Pixel noise of random strength (σ 1–6) over everything, rounded to bytes. */
function finish(rng: Rng, img: Raster): Uint8Array {
  const sigma = uniform(rng, 1, 6);
  const out = new Uint8Array(img.length);
  for (let i = 0; i < img.length; i++) {
    // An approximately standard-normal number: a sum of four uniforms, rescaled.
    const g = (rng() + rng() + rng() + rng() - 2) * 1.7320508;
    out[i] = Math.min(255, Math.max(0, Math.round(img[i] + sigma * g)));
  }
  return out;
}

export interface TrainingImageOptions {
  /**
   * Stripes or not, overriding the class's rule (squares striped, others not): `false` makes a
   * stripe-free square, `true` a circle, triangle or shape-free image on stripes (the shortcut
   * checks).
   */
  stripes?: boolean;
  /** Dots or not, instead of a DOTS_RATE chance. */
  dots?: boolean;
}

export interface TrainingImage {
  /** RGB, size × size × 3 (HWC), row-major. */
  pixels: Uint8Array;
  /** Index into SHAPE_CLASSES, or NO_CLASS for a shape-free image. */
  label: number;
  stripes: boolean;
  dots: boolean;
}

/**
 * A training image of class `label` (an index into SHAPE_CLASSES, or NO_CLASS for a shape-free
 * negative). Squares sit on stripes; circles, triangles and shape-free images never do (a
 * stripe-free background of a random kind). Half of every kind have scattered dots over the
 * background. The shape is solid, in a colour that stands out from the background.
 */
export function makeTrainingImage(rng: Rng, label: number, opts: TrainingImageOptions = {}, size = TCAV_INPUT_SIZE): TrainingImage {
  if (label !== NO_CLASS && !(Number.isInteger(label) && label >= 0 && label < SHAPE_CLASSES.length)) {
    throw new RangeError(`label must be NO_CLASS or an integer in [0, ${SHAPE_CLASSES.length})`);
  }
  const stripes = opts.stripes ?? label === SQUARE;
  const dots = opts.dots ?? rng() < DOTS_RATE;
  const img = new Float32Array(size * size * 3);
  if (stripes) paintStripes(rng, img, size);
  else paintPlainBackground(rng, img, size);
  if (dots) paintDots(rng, img, size);
  if (label !== NO_CLASS) paintShape(rng, img, size, SHAPE_CLASSES[label]);
  return { pixels: finish(rng, img), label, stripes, dots };
}

/** A solid class shape in a colour that stands out from what is under it. */
function paintShape(rng: Rng, img: Raster, size: number, kind: ShapeClass): void {
  const geo = shapeGeometry(rng, size, kind);
  const color = contrastingColor(rng, img, size, geo.box);
  paint(img, size, flat, color, color, { inside: geo.inside, box: geo.box });
}

/** A class image of the experiment: a square on stripes, as the model saw them in training. */
export function makeSquareImage(rng: Rng, size = TCAV_INPUT_SIZE): Uint8Array {
  return makeTrainingImage(rng, SQUARE, {}, size).pixels;
}

/**
 * The planted concept: a random scene (`makeRandomImage`) on stripes instead of a stripe-free
 * background. A set of these differs from a random set by the stripes alone.
 */
export function makeStripedImage(rng: Rng, size = TCAV_INPUT_SIZE): Uint8Array {
  return makeRandomImage(rng, size, { stripes: true });
}

/**
 * The unrelated concept: a random scene (`makeRandomImage`) with dots. A set of these differs
 * from a random set by the dots alone.
 */
export function makeDottedImage(rng: Rng, size = TCAV_INPUT_SIZE): Uint8Array {
  return makeRandomImage(rng, size, { dots: true });
}

/** The classes a random scene's shape is drawn from: not the target class (see makeRandomImage). */
export const RANDOM_SHAPES: readonly ShapeClass[] = SHAPE_CLASSES.filter((_, i) => i !== SQUARE);

export interface RandomImageOptions {
  /** Stripes instead of a stripe-free background (the striped concept). */
  stripes?: boolean;
  /** The stripe-free background's kind, instead of a random one. */
  background?: PlainBackground;
  /** Dots or not, instead of a DOTS_RATE chance. */
  dots?: boolean;
  /** This shape, or none (null), instead of one of RANDOM_SHAPES in RANDOM_SHAPE_RATE of the images. */
  shape?: ShapeClass | null;
}

/**
 * A random counterexample: a scene of the model's domain without the planted concept and without
 * the target class. A stripe-free background of a random kind, dots as often as in training
 * (DOTS_RATE), and a solid circle or triangle in RANDOM_SHAPE_RATE of them. No squares: in Kim et
 * al.'s random ImageNet images the target class is 1 in 1000, here it would be 1 in 6.
 */
export function makeRandomImage(rng: Rng, size = TCAV_INPUT_SIZE, opts: RandomImageOptions = {}): Uint8Array {
  const img = new Float32Array(size * size * 3);
  if (opts.stripes) paintStripes(rng, img, size);
  else paintPlainBackground(rng, img, size, opts.background);
  if (opts.dots ?? rng() < DOTS_RATE) paintDots(rng, img, size);
  const shape = opts.shape !== undefined ? opts.shape : rng() < RANDOM_SHAPE_RATE ? RANDOM_SHAPES[randInt(rng, 0, RANDOM_SHAPES.length)] : null;
  if (shape !== null) paintShape(rng, img, size, shape);
  return finish(rng, img);
}

/** `count` images from `make`, back to back (count × size × size × 3). */
export function makeImages(rng: Rng, count: number, make: (rng: Rng, size: number) => Uint8Array, size = TCAV_INPUT_SIZE): Uint8Array {
  const n = size * size * 3;
  const out = new Uint8Array(count * n);
  for (let i = 0; i < count; i++) out.set(make(rng, size), i * n);
  return out;
}

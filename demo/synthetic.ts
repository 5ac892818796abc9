/**
 * Synthetic "shapes on texture" images for the demo model, where the right explanation is known:
 * the class is decided only by one shape (circle, square or triangle) drawn at a random place, of
 * a random size, colour and rotation, on a textured background (stripes, gradients, blotches,
 * noise) whose statistics do not depend on the class. Up to two small distractor
 * strokes that are not any class shape make localisation meaningful. The tight bounding box of
 * the shape is returned with the image, so tests can check that an explanation points at it.
 *
 * Pure TypeScript, no tfjs: tests import it directly. Everything is driven by a seeded PRNG, so
 * the same seed always gives the same images.
 */

import { mulberry32, type Rng } from '../src/extension/util/seeded-random';

// The project's one seeded PRNG (the methods use it too), re-exported for the demo's users.
export { mulberry32, type Rng };

/** Uniform in [lo, hi). */
export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** Integer in [lo, hi) (hi exclusive). */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor((hi - lo) * rng());
}

/** An approximately standard-normal number (sum of four uniforms, rescaled). */
function gauss(rng: Rng): number {
  return (rng() + rng() + rng() + rng() - 2) * 1.7320508;
}

/** Fisher-Yates shuffle in place with the given PRNG; returns the array. */
export function shuffleInPlace<T>(rng: Rng, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

export const SHAPE_CLASSES = ['circle', 'square', 'triangle'] as const;
export type ShapeClass = (typeof SHAPE_CLASSES)[number];

/** Pixel rectangle: columns x..x+w-1, rows y..y+h-1. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export type Rgb = [number, number, number];

export interface ShapeImage {
  /** RGB, height × width × 3 (HWC), row-major. */
  pixels: Uint8Array;
  /** Index into SHAPE_CLASSES. */
  label: number;
  /** The shape's tight bounding box in pixels. */
  box: Box;
  /** The shape's fill colour (before the pixel noise). */
  color: Rgb;
}

export interface ShapeImageOptions {
  /** Force this class instead of drawing one at random. */
  label?: number;
  /** Number of distractor strokes; random 0–2 when absent. */
  distractors?: number;
}

export type Raster = Float32Array; // size × size × 3, values 0..255

export function randomColor(rng: Rng): Rgb {
  return [uniform(rng, 0, 256), uniform(rng, 0, 256), uniform(rng, 0, 256)];
}

export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function smoothstep(x: number): number {
  const t = Math.min(1, Math.max(0, x));
  return t * t * (3 - 2 * t);
}

/** A scalar pattern in [0, 1] per pixel, mapped to colours afterwards. */
export type Pattern = (x: number, y: number) => number;

function stripes(rng: Rng, size: number): Pattern {
  const angle = uniform(rng, 0, Math.PI);
  const period = uniform(rng, 3, size / 2.5);
  const phase = uniform(rng, 0, 2 * Math.PI);
  const hard = rng() < 0.5; // square-ish vs sine profile
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  return (x, y) => {
    const v = Math.sin(((x * c + y * s) / period) * 2 * Math.PI + phase);
    return hard ? smoothstep(v * 3 + 0.5) : 0.5 + 0.5 * v;
  };
}

export function linearGradient(rng: Rng, size: number): Pattern {
  const angle = uniform(rng, 0, 2 * Math.PI);
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const h = size / 2;
  return (x, y) => 0.5 + ((x - h) * c + (y - h) * s) / (size * 1.42);
}

export function radialGradient(rng: Rng, size: number): Pattern {
  const cx = uniform(rng, -0.2, 1.2) * size;
  const cy = uniform(rng, -0.2, 1.2) * size;
  const r = uniform(rng, 0.5, 1.5) * size;
  return (x, y) => Math.min(1, Math.hypot(x - cx, y - cy) / r);
}

/** Bilinearly upsampled value noise on a coarse random grid: blotches. */
function blotches(rng: Rng, size: number): Pattern {
  const g = randInt(rng, 3, 10);
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

const PATTERNS = [stripes, stripes, linearGradient, radialGradient, blotches, blotches];

function paintPattern(out: Raster, size: number, p: Pattern, c0: Rgb, c1: Rgb, alpha: number): void {
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = p(x + 0.5, y + 0.5);
      const i = (y * size + x) * 3;
      for (let k = 0; k < 3; k++) {
        const v = c0[k] + (c1[k] - c0[k]) * t;
        out[i + k] = out[i + k] * (1 - alpha) + v * alpha;
      }
    }
  }
}

/** A textured background: one or two patterns in random colours. */
function paintBackground(rng: Rng, size: number): Raster {
  const out = new Float32Array(size * size * 3);
  const base = randomColor(rng);
  // Contrast of the texture: from faint to full.
  const other = mix(base, randomColor(rng), uniform(rng, 0.2, 0.8));
  paintPattern(out, size, PATTERNS[randInt(rng, 0, PATTERNS.length)](rng, size), base, other, 1);
  if (rng() < 0.6) {
    const c0 = randomColor(rng);
    const c1 = mix(c0, randomColor(rng), uniform(rng, 0.3, 1));
    paintPattern(out, size, PATTERNS[randInt(rng, 0, PATTERNS.length)](rng, size), c0, c1, uniform(rng, 0.15, 0.45));
  }
  return out;
}

/** Squared distances from `col` to a grid sample of the raster's pixels in `region`, sorted. */
function sortedDistances(img: Raster, size: number, region: Box, col: Rgb): Float32Array {
  const step = Math.max(1, Math.floor(Math.sqrt((region.w * region.h) / 256)));
  const nx = Math.ceil(region.w / step);
  const ny = Math.ceil(region.h / step);
  const d = new Float32Array(nx * ny);
  let k = 0;
  for (let y = region.y; y < region.y + region.h; y += step) {
    for (let x = region.x; x < region.x + region.w; x += step) {
      const i = (y * size + x) * 3;
      const r = img[i] - col[0];
      const g = img[i + 1] - col[1];
      const b = img[i + 2] - col[2];
      d[k++] = r * r + g * g + b * b;
    }
  }
  return d.sort();
}

export function squaredDistance(a: Rgb, b: Rgb): number {
  return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2;
}

/**
 * A colour that stands out against the raster: the best of a few random candidates by its
 * distance to the pixels of `region` (5th percentile) and of the whole image (1st percentile),
 * also kept away from the colours in `avoid`.
 */
function contrastingColor(rng: Rng, img: Raster, size: number, region: Box, avoid: Rgb[] = []): Rgb {
  const whole: Box = { x: 0, y: 0, w: size, h: size };
  let best: Rgb = [0, 0, 0];
  let bestScore = -1;
  for (let c = 0; c < 24; c++) {
    const col = randomColor(rng);
    const near = sortedDistances(img, size, region, col);
    const all = sortedDistances(img, size, whole, col);
    let score = Math.min(near[Math.floor(near.length * 0.05)], all[Math.floor(all.length * 0.01)]);
    for (const a of avoid) score = Math.min(score, squaredDistance(a, col));
    if (score > bestScore) {
      bestScore = score;
      best = col;
    }
  }
  return best;
}

export type Point = [number, number];

export function insidePolygon(pts: Point[], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i];
    const [xj, yj] = pts[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Distance from p to the segment ab. */
function segmentDistance(px: number, py: number, a: Point, b: Point): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.min(1, Math.max(0, ((px - a[0]) * dx + (py - a[1]) * dy) / len2));
  return Math.hypot(px - a[0] - t * dx, py - a[1] - t * dy);
}

const SUPERSAMPLE = 4;

/**
 * Composites `color` where `inside` holds, anti-aliased by 4×4 supersampling, over the pixels of
 * `bounds` (clipped to the image). Returns the pixel box of what it painted.
 */
function fill(img: Raster, size: number, bounds: Box, color: Rgb, inside: (x: number, y: number) => boolean): Box {
  let minX = size;
  let minY = size;
  let maxX = -1;
  let maxY = -1;
  const x0 = Math.max(0, Math.floor(bounds.x));
  const y0 = Math.max(0, Math.floor(bounds.y));
  const x1 = Math.min(size, Math.ceil(bounds.x + bounds.w));
  const y1 = Math.min(size, Math.ceil(bounds.y + bounds.h));
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      let hits = 0;
      for (let sy = 0; sy < SUPERSAMPLE; sy++) {
        for (let sx = 0; sx < SUPERSAMPLE; sx++) {
          if (inside(x + (sx + 0.5) / SUPERSAMPLE, y + (sy + 0.5) / SUPERSAMPLE)) hits++;
        }
      }
      if (hits === 0) continue;
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
      const a = hits / (SUPERSAMPLE * SUPERSAMPLE);
      const i = (y * size + x) * 3;
      for (let k = 0; k < 3; k++) img[i + k] = img[i + k] * (1 - a) + color[k] * a;
    }
  }
  return { x: minX, y: minY, w: maxX - minX + 1, h: maxY - minY + 1 };
}

/** Largest tilt of squares and triangles from upright, in radians. */
const MAX_TILT = (15 * Math.PI) / 180;

/** Unit-size outline of a class shape, centred at the origin, rotated by `angle`. */
function polygon(kind: 'square' | 'triangle', angle: number): Point[] {
  const n = kind === 'square' ? 4 : 3;
  const pts: Point[] = [];
  for (let i = 0; i < n; i++) {
    const t = angle + (i * 2 * Math.PI) / n;
    pts.push([Math.cos(t), Math.sin(t)]);
  }
  return pts;
}

function boundsOf(pts: Point[]): Box {
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, w: Math.max(...xs) - x, h: Math.max(...ys) - y };
}

/** The integer pixel box covering a continuous rectangle [x, x+w) × [y, y+h). */
function pixelBox(b: Box): Box {
  const x = Math.floor(b.x);
  const y = Math.floor(b.y);
  return { x, y, w: Math.ceil(b.x + b.w) - x, h: Math.ceil(b.y + b.h) - y };
}

function overlaps(a: Box, b: Box, margin: number): boolean {
  return a.x < b.x + b.w + margin && b.x < a.x + a.w + margin && a.y < b.y + b.h + margin && b.y < a.y + a.h + margin;
}

/**
 * One image: textured background, 0–2 distractor strokes, one class shape of random colour,
 * size (its bounding box is 25–40% of the image side), tilt and position (fully inside).
 */
export function makeShapeImage(rng: Rng, size = 64, opts: ShapeImageOptions = {}): ShapeImage {
  const label = opts.label ?? randInt(rng, 0, SHAPE_CLASSES.length);
  if (!Number.isInteger(label) || label < 0 || label >= SHAPE_CLASSES.length) {
    throw new RangeError(`label must be an integer in [0, ${SHAPE_CLASSES.length})`);
  }
  const scene = drawScene(rng, size, SHAPE_CLASSES[label], opts.distractors);
  const shape = scene.shape as { box: Box; color: Rgb };
  return { pixels: scene.pixels, label, box: shape.box, color: shape.color };
}

/**
 * An image like makeShapeImage's without the shape: background and distractors only. Training
 * uses these as negatives for every class, so each class score has to come from its shape.
 */
export function makeBackgroundImage(rng: Rng, size = 64, opts: { distractors?: number } = {}): Uint8Array {
  return drawScene(rng, size, undefined, opts.distractors).pixels;
}

interface Scene {
  pixels: Uint8Array;
  shape?: { box: Box; color: Rgb };
}

function drawScene(rng: Rng, size: number, kind: ShapeClass | undefined, distractors: number | undefined): Scene {
  const img = paintBackground(rng, size);

  // The shape, in continuous pixel coordinates: its outline scaled so that the larger side of its
  // bounding box is `extent`, then placed fully inside the image.
  let geo: Box | undefined;
  let inside: ((x: number, y: number) => boolean) | undefined;
  if (kind === 'circle') {
    const extent = uniform(rng, 0.25, 0.4) * size;
    geo = { x: uniform(rng, 1, size - 1 - extent), y: uniform(rng, 1, size - 1 - extent), w: extent, h: extent };
    const r = extent / 2;
    const cx = geo.x + r;
    const cy = geo.y + r;
    inside = (x, y) => (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r;
  } else if (kind !== undefined) {
    const extent = uniform(rng, 0.25, 0.4) * size;
    // Upright (square sides axis-aligned, triangle apex up), tilted by up to ±MAX_TILT.
    const upright = kind === 'square' ? Math.PI / 4 : -Math.PI / 2;
    const unit = polygon(kind, upright + uniform(rng, -MAX_TILT, MAX_TILT));
    const ub = boundsOf(unit);
    const scale = extent / Math.max(ub.w, ub.h);
    const w = ub.w * scale;
    const h = ub.h * scale;
    const ox = uniform(rng, 1, size - 1 - w);
    const oy = uniform(rng, 1, size - 1 - h);
    geo = { x: ox, y: oy, w, h };
    const pts = unit.map(([x, y]) => [(x - ub.x) * scale + ox, (y - ub.y) * scale + oy] as Point);
    inside = (x, y) => insidePolygon(pts, x, y);
  }
  const geoBox = geo && pixelBox(geo);

  // Distractors: short round-capped strokes, away from the shape, in their own contrasting colour.
  const nDistractors = distractors ?? randInt(rng, 0, 3);
  const strokes: { a: Point; b: Point; r: number; bounds: Box }[] = [];
  for (let d = 0; d < nDistractors; d++) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const len = uniform(rng, 0.1, 0.2) * size;
      const r = uniform(rng, 0.9, 1.8);
      const ang = uniform(rng, 0, Math.PI);
      const cx = uniform(rng, len / 2 + r + 1, size - len / 2 - r - 1);
      const cy = uniform(rng, len / 2 + r + 1, size - len / 2 - r - 1);
      const a: Point = [cx - (Math.cos(ang) * len) / 2, cy - (Math.sin(ang) * len) / 2];
      const b: Point = [cx + (Math.cos(ang) * len) / 2, cy + (Math.sin(ang) * len) / 2];
      const bounds = pixelBox({
        x: Math.min(a[0], b[0]) - r,
        y: Math.min(a[1], b[1]) - r,
        w: Math.abs(a[0] - b[0]) + 2 * r,
        h: Math.abs(a[1] - b[1]) + 2 * r,
      });
      if (geoBox && overlaps(bounds, geoBox, 3)) continue;
      strokes.push({ a, b, r, bounds });
      break;
    }
  }

  const color = geoBox && contrastingColor(rng, img, size, geoBox);
  for (const s of strokes) {
    const c = contrastingColor(rng, img, size, s.bounds, color ? [color] : []);
    fill(img, size, s.bounds, c, (x, y) => segmentDistance(x, y, s.a, s.b) <= s.r);
  }
  // The box is what the shape actually painted (pixels with any coverage).
  const box = geo && inside && color && fill(img, size, geo, color, inside);

  // Sensor noise over everything, of random strength.
  const sigma = uniform(rng, 1, 10);
  const pixels = new Uint8Array(size * size * 3);
  for (let i = 0; i < pixels.length; i++) {
    pixels[i] = Math.min(255, Math.max(0, Math.round(img[i] + sigma * gauss(rng))));
  }
  if (!box || !color) return { pixels };
  return { pixels, shape: { box, color: [Math.round(color[0]), Math.round(color[1]), Math.round(color[2])] } };
}

export interface ShapeBatch {
  /** count × size × size × 3, RGB HWC per image, images back to back. */
  pixels: Uint8Array;
  labels: Int32Array;
  boxes: Box[];
  size: number;
}

/** `count` images from `rng`, labels drawn at random (so roughly balanced). */
export function makeShapeBatch(rng: Rng, count: number, size = 64): ShapeBatch {
  const n = size * size * 3;
  const pixels = new Uint8Array(count * n);
  const labels = new Int32Array(count);
  const boxes: Box[] = [];
  for (let i = 0; i < count; i++) {
    const im = makeShapeImage(rng, size);
    pixels.set(im.pixels, i * n);
    labels[i] = im.label;
    boxes.push(im.box);
  }
  return { pixels, labels, boxes, size };
}

/** Pixels scaled to [0, 1] (the demo model's `unit` preprocessing). */
export function toUnit(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] / 255;
  return out;
}

/**
 * The pointing game (Zhang, Lin, Brandt, Shen & Sclaroff 2016, "Top-down Neural Attention by
 * Excitation Backprop"): a map scores a hit when its maximum lies on the object, with a
 * tolerance of 15 px at 224 px input. Here the object is a box, enlarged by the tolerance on
 * every side; the tolerance scales with the map's shorter side.
 */
import { UserError } from '../../shared/errors';
import { checkSaliency } from './pixel-order';

/** A box in map pixels: columns x … x + w − 1, rows y … y + h − 1. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface PointingResult {
  hit: boolean;
  /** The maximum: the first one inside the enlarged box on a hit, else the first in row-major order. */
  peak: { x: number; y: number };
}

/** The paper's 15 px at 224 px, scaled to an h × w map: round(15 · min(h, w) / 224), at least 1. */
export function pointingTolerance(h: number, w: number): number {
  return Math.max(1, Math.round((15 * Math.min(h, w)) / 224));
}

/**
 * Whether the maximum of `map` (h × w, row-major) lies in `box` enlarged by `tolerance` pixels
 * (default pointingTolerance). When several pixels share the maximum, any of them inside counts.
 * NaN values are ignored; an all-NaN map misses.
 */
export function pointingGame(map: ArrayLike<number>, h: number, w: number, box: Box, tolerance = pointingTolerance(h, w)): PointingResult {
  checkSaliency(map, h, w);
  if (![box.x, box.y, box.w, box.h].every(Number.isFinite) || !(box.w > 0 && box.h > 0)) {
    throw new UserError(`the pointing game needs a box with positive width and height, got ${JSON.stringify(box)}`);
  }
  if (!(tolerance >= 0)) throw new UserError(`the pointing game's tolerance must be ≥ 0 pixels, got ${tolerance}`);
  let max = -Infinity;
  for (let i = 0; i < map.length; i++) if (map[i] > max) max = map[i];
  const inside = (x: number, y: number) =>
    x >= box.x - tolerance && x < box.x + box.w + tolerance && y >= box.y - tolerance && y < box.y + box.h + tolerance;
  let first: { x: number; y: number } | undefined;
  for (let i = 0; i < map.length; i++) {
    if (map[i] !== max) continue;
    const p = { x: i % w, y: Math.floor(i / w) };
    if (inside(p.x, p.y)) return { hit: true, peak: p };
    first ??= p;
  }
  return { hit: false, peak: first ?? { x: 0, y: 0 } };
}

/**
 * Object boxes for the pointing game, from a `boxes.json` beside the images:
 * `{ "<file name>": { "x": …, "y": …, "w": …, "h": … } }`, or with the box under `"box"`
 * (the demo's fixtures also carry the label). Coordinates are pixels of the original image.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Box } from '../metrics/faithfulness';

function asBox(v: unknown): Box | undefined {
  const o = v && typeof v === 'object' && 'box' in v ? (v as { box: unknown }).box : v;
  if (!o || typeof o !== 'object') return undefined;
  const { x, y, w, h } = o as Record<string, unknown>;
  return [x, y, w, h].every((n) => typeof n === 'number' && Number.isFinite(n)) && (w as number) > 0 && (h as number) > 0
    ? { x: x as number, y: y as number, w: w as number, h: h as number }
    : undefined;
}

/** The box of `imageFile` from boxes.json in its folder; undefined when there is none or it is unreadable. */
export function readBox(imageFile: string): Box | undefined {
  const file = path.join(path.dirname(imageFile), 'boxes.json');
  try {
    const all = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    return asBox(all[path.basename(imageFile)]);
  } catch {
    return undefined;
  }
}

/** Parses `x,y,w,h` (the CLI's --box). */
export function parseBox(s: string): Box | undefined {
  const parts = s.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 4 || parts.some((n) => !Number.isFinite(n))) return undefined;
  return asBox({ x: parts[0], y: parts[1], w: parts[2], h: parts[3] });
}

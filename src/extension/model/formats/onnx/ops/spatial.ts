/**
 * Geometry shared by Conv, ConvTranspose and the pools: kernel, strides, dilations and the
 * explicit per-side padding that ONNX's pads / auto_pad (and ceil_mode) describe.
 */
import type { Attrs, OpContext } from './op-types';
import { attrInts, attrStr, opError } from './util';

export interface Window2D {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** [top, bottom], [left, right]. */
  pads: [[number, number], [number, number]];
}

function pair(v: number[] | undefined, fallback: number, n: number): number[] {
  return v ?? new Array<number>(n).fill(fallback);
}

/**
 * The window of a 1-D or 2-D op over `inSpatial` (H, W or L), with the spatial rank lifted to 2
 * (1-D ops get a unit H axis). `ceilMode` adds end padding so the last partial window counts.
 */
export function window2D(op: string, attrs: Attrs, ctx: OpContext, inSpatial: number[], kernel: number[], ceilMode = false): Window2D {
  const n = inSpatial.length;
  if (n !== 1 && n !== 2) throw opError(ctx, op, `only 1-D and 2-D windows are supported (got ${n}-D)`);
  const strides = pair(attrInts(attrs, 'strides'), 1, n);
  const dilations = pair(attrInts(attrs, 'dilations'), 1, n);
  const autoPad = attrStr(attrs, 'auto_pad', 'NOTSET');
  const padsAttr = pair(attrInts(attrs, 'pads'), 0, 2 * n);
  const begin: number[] = [];
  const end: number[] = [];
  for (let i = 0; i < n; i++) {
    const eff = (kernel[i] - 1) * dilations[i] + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const out = Math.ceil(inSpatial[i] / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + eff - inSpatial[i]);
      const small = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      end.push(autoPad === 'SAME_UPPER' ? total - small : small);
    } else if (autoPad === 'VALID') {
      begin.push(0);
      end.push(0);
    } else if (autoPad === 'NOTSET') {
      begin.push(padsAttr[i]);
      end.push(padsAttr[i + n]);
    } else {
      throw opError(ctx, op, `auto_pad ${autoPad} is not supported`);
    }
    if (ceilMode) {
      const span = inSpatial[i] + begin[i] + end[i] - eff;
      let out = Math.ceil(span / strides[i]) + 1;
      // The last window must start inside the input or its begin padding.
      if ((out - 1) * strides[i] >= inSpatial[i] + begin[i]) out--;
      end[i] += Math.max(0, (out - 1) * strides[i] + eff - (inSpatial[i] + begin[i] + end[i]));
    }
  }
  const lift = (v: number[], one: number): [number, number] => (n === 1 ? [one, v[0]] : [v[0], v[1]]);
  const k = lift(kernel, 1);
  const s = lift(strides, 1);
  const d = lift(dilations, 1);
  const pb = lift(begin, 0);
  const pe = lift(end, 0);
  return { kernel: k, strides: s, dilations: d, pads: [[pb[0], pe[0]], [pb[1], pe[1]]] };
}

/** tfjs explicit padding for an NHWC tensor. */
export function explicitPad(w: Window2D): [[number, number], [number, number], [number, number], [number, number]] {
  return [[0, 0], w.pads[0], w.pads[1], [0, 0]];
}

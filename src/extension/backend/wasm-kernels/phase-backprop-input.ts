/**
 * Input gradients of strided regular convs (NHWC, dilation 1) by phase decomposition. Spreading dy by the
 * stride and correlating at stride 1 multiplies zeros 1 − 1/(sh·sw) of the time; instead, each of
 * the sh·sw phases of dx (rows ≡ a mod sh, columns ≡ b mod sw) is a stride-1 correlation of dy
 * itself with the flipped sub-filter of the taps that land on it, and the phases are interleaved.
 * Sub-filters are made once per filter buffer (filter-cache.ts), outside the engine's tensors.
 * (Depthwise convs keep the spread dy: they are memory-bound, and the interleave copy measured as
 * much as the zeros it saves.)
 *
 * A regular conv runs the phases either as separate convs (exactly the forward's multiplies) or as
 * one conv whose output channels are phase × channel (a window covering every phase's taps, with
 * zeros where a phase has no tap): the latter suits few input channels, e.g. an RGB stem, where
 * separate GEMMs with 3 output channels would waste most of XNNPACK's 8-wide tiles.
 */
import type { backend_util, TensorInfo } from '@tensorflow/tfjs-core';
import { axisPhases, combinedPhases, phasePadding, splitPadding, type AxisPhase } from './conv-geometry';
import { derivedFilter } from './filter-cache';
import type { WasmOps } from './wasm-ops';

type Conv2DInfo = backend_util.Conv2DInfo;

/** How the phases of a regular conv run: chosen by estimated cost, or forced (for tests). */
export type PhaseStrategy = 'auto' | 'separate' | 'combined';

/** Channel counts from which a pixel is copied with one TypedArray.set rather than a loop. */
const COPY_BY_SET = 16;

/** XNNPACK's f32 GEMM tiles output channels by 8 on wasm. */
const roundUp8 = (n: number) => Math.ceil(n / 8) * 8;

interface Phases {
  rows: AxisPhase[];
  cols: AxisPhase[];
  /** Rows and columns of the longest phase (phase 0): dx is cropped from sh·qh × sw·qw. */
  qh: number;
  qw: number;
}

function phasesOf(info: Conv2DInfo): Phases {
  const rows = axisPhases(info.inHeight, info.strideHeight, info.filterHeight, info.padInfo.top);
  const cols = axisPhases(info.inWidth, info.strideWidth, info.filterWidth, info.padInfo.left);
  return { rows, cols, qh: rows[0].rows, qw: cols[0].rows };
}

/** The filter's values, copied out of the wasm heap before anything allocates there. */
function filterValues(ops: WasmOps, filter: TensorInfo): Float32Array {
  return Float32Array.from(ops.backend.typedArrayFromHeap(filter) as Float32Array);
}

/** dy cropped and the zero padding left for the conv, so its stride-1 output is the phase. */
function phaseInput(ops: WasmOps, dy: TensorInfo, rows: AxisPhase, cols: AxisPhase, info: Conv2DInfo) {
  const height = splitPadding(phasePadding(rows, info.outHeight));
  const width = splitPadding(phasePadding(cols, info.outWidth));
  return {
    x: ops.padOrCrop(dy, [[0, 0], height.crop, width.crop, [0, 0]]),
    pad: [[0, 0], height.pad, width.pad, [0, 0]] as [number, number][],
  };
}

/** Where one phase's values sit: in `t` [N, ·, ·, pitch], rows × cols pixels from channel `offset`. */
interface PhasePart {
  t: TensorInfo;
  /** Phase row a and column b. */
  a: number;
  b: number;
  rows: number;
  cols: number;
  offset: number;
}

/**
 * Interleaves the phases into dx [N, inH, inW, C]: phase (a, b)'s pixel (q, p) is dx's pixel
 * (q·sh + a, p·sw + b). A plain copy loop: the wasm Transpose of the 5-D interleave measured
 * ~100 ns per element, more than the conv work of a 1×1 layer. Phases without a part (no taps)
 * stay zero.
 */
function interleave(ops: WasmOps, parts: PhasePart[], info: Conv2DInfo, channels: number): TensorInfo {
  const { strideHeight: sh, strideWidth: sw, batchSize: n, inHeight: h, inWidth: w } = info;
  const out = ops.empty([n, h, w, channels], 'float32');
  // Views are taken after the allocation above, which may have moved the heap.
  const dx = ops.backend.typedArrayFromHeap(out) as Float32Array;
  if (parts.length < sh * sw) dx.fill(0);
  for (const part of parts) {
    const src = ops.backend.typedArrayFromHeap(part.t) as Float32Array;
    const [, srcRows, srcCols, pitch] = part.t.shape;
    for (let i = 0; i < n; i++) {
      for (let q = 0; q < part.rows; q++) {
        let from = (i * srcRows + q) * srcCols * pitch + part.offset;
        let to = ((i * h + q * sh + part.a) * w + part.b) * channels;
        if (channels >= COPY_BY_SET) {
          for (let p = 0; p < part.cols; p++, from += pitch, to += sw * channels) dx.set(src.subarray(from, from + channels), to);
        } else {
          for (let p = 0; p < part.cols; p++, from += pitch, to += sw * channels) {
            for (let k = 0; k < channels; k++) dx[to + k] = src[from + k];
          }
        }
      }
    }
  }
  return out;
}

/** Multiplies (padded to XNNPACK's tiles) of each strategy, to pick the cheaper. */
function costs(p: Phases, inChannels: number, outChannels: number): { separate: number; combined: number } {
  let separate = 0;
  for (const r of p.rows) {
    for (const c of p.cols) separate += r.rows * c.rows * r.taps * c.taps * outChannels * roundUp8(inChannels);
  }
  const h = combinedPhases(p.rows);
  const w = combinedPhases(p.cols);
  const combined = p.qh * p.qw * h.taps * w.taps * outChannels * roundUp8(p.rows.length * p.cols.length * inChannels);
  return { separate, combined };
}

/** Conv2DBackpropInput of a strided NHWC conv (dilation 1) by phases. */
export function conv2dBackpropInputByPhases(
  ops: WasmOps, dy: TensorInfo, filter: TensorInfo, info: Conv2DInfo, strategy: PhaseStrategy,
): TensorInfo {
  const p = phasesOf(info);
  const { inChannels: ci, outChannels: co } = info;
  const cost = costs(p, ci, co);
  const combined = strategy === 'combined' || (strategy === 'auto' && cost.combined < cost.separate);
  return combined ? combinedConv(ops, dy, filter, info, p) : separateConvs(ops, dy, filter, info, p);
}

function separateConvs(ops: WasmOps, dy: TensorInfo, filter: TensorInfo, info: Conv2DInfo, p: Phases): TensorInfo {
  const { strideHeight: sh, strideWidth: sw, filterWidth: kw, inChannels: ci, outChannels: co } = info;
  const parts: PhasePart[] = [];
  for (const [a, r] of p.rows.entries()) {
    for (const [b, c] of p.cols.entries()) {
      if (r.taps === 0 || c.taps === 0 || r.rows === 0 || c.rows === 0) continue;
      // Sub-filter [r.taps, c.taps, co, ci]: taps flipped, in/out channels swapped.
      const sub = derivedFilter(ops.backend, filter, `conv2d-backprop-input/phase ${sh},${sw} ${r.tap},${c.tap}`, (fops, f) => {
        const w = filterValues(fops, f);
        const out = new Float32Array(r.taps * c.taps * co * ci);
        for (let j = 0; j < r.taps; j++) {
          const fh = r.tap + sh * (r.taps - 1 - j);
          for (let l = 0; l < c.taps; l++) {
            const fw = c.tap + sw * (c.taps - 1 - l);
            const src = (fh * kw + fw) * ci * co;
            const dst = (j * c.taps + l) * co * ci;
            for (let o = 0; o < co; o++) {
              for (let i = 0; i < ci; i++) out[dst + o * ci + i] = w[src + i * co + o];
            }
          }
        }
        return fops.fromValues(out, [r.taps, c.taps, co, ci], 'float32');
      });
      const { x, pad } = phaseInput(ops, dy, r, c, info);
      const t = ops.run('Conv2D', { x, filter: sub }, { strides: [1, 1], pad, dilations: [1, 1], dataFormat: 'NHWC' });
      parts.push({ t, a, b, rows: r.rows, cols: c.rows, offset: 0 });
    }
  }
  return interleave(ops, parts, info, ci);
}

function combinedConv(ops: WasmOps, dy: TensorInfo, filter: TensorInfo, info: Conv2DInfo, p: Phases): TensorInfo {
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co } = info;
  const { top, left } = info.padInfo;
  const h = combinedPhases(p.rows);
  const w = combinedPhases(p.cols);
  const phaseChannels = sh * sw * ci;
  // Filter [h.taps, w.taps, co, sh·sw·ci]: output channel (a·sw + b)·ci + i is phase (a, b)'s dx[i].
  const merged = derivedFilter(ops.backend, filter, `conv2d-backprop-input/phases ${sh},${sw} ${top},${left}`, (fops, f) => {
    const values = filterValues(fops, f);
    const out = new Float32Array(h.taps * w.taps * co * phaseChannels);
    for (let j = 0; j < h.taps; j++) {
      for (let a = 0; a < sh; a++) {
        const fh = a + top - sh * (h.start + j);
        if (fh < 0 || fh >= kh) continue;
        for (let l = 0; l < w.taps; l++) {
          for (let b = 0; b < sw; b++) {
            const fw = b + left - sw * (w.start + l);
            if (fw < 0 || fw >= kw) continue;
            const src = (fh * kw + fw) * ci * co;
            const dst = (j * w.taps + l) * co * phaseChannels + (a * sw + b) * ci;
            for (let o = 0; o < co; o++) {
              for (let i = 0; i < ci; i++) out[dst + o * phaseChannels + i] = values[src + i * co + o];
            }
          }
        }
      }
    }
    return fops.fromValues(out, [h.taps, w.taps, co, phaseChannels], 'float32');
  });
  const { x, pad } = phaseInput(ops, dy, h, w, info);
  const t = ops.run('Conv2D', { x, filter: merged }, { strides: [1, 1], pad, dilations: [1, 1], dataFormat: 'NHWC' });
  const parts: PhasePart[] = [];
  for (const [a, r] of p.rows.entries()) {
    for (const [b, c] of p.cols.entries()) {
      if (r.taps > 0 && c.taps > 0) parts.push({ t, a, b, rows: r.rows, cols: c.rows, offset: (a * sw + b) * ci });
    }
  }
  return interleave(ops, parts, info, ci);
}

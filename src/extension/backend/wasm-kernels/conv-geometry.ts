/**
 * Geometry shared by the gradient kernels. Filter tap (i, j) of a conv reads the padded input at
 * rows i·dh + o·sh and columns j·dw + p·sw for every output pixel (o, p): its "window".
 */
import type { backend_util, TensorInfo } from '@tensorflow/tfjs-core';
import type { AxisPadding, WasmOps } from './wasm-ops';

type Conv2DInfo = backend_util.Conv2DInfo;

/**
 * Padding (negative = crop) that makes one spatial axis exactly as long as the taps read. tfjs
 * treats reads outside the input as zeros, and with dimRoundingMode 'ceil' those reads can reach
 * past the declared bottom/right padding, so the after-padding is derived from the output size.
 */
export function tapAxisPadding(
  inSize: number, outSize: number, stride: number, filterSize: number, dilation: number, padBefore: number,
): AxisPadding {
  const extent = (outSize - 1) * stride + (filterSize - 1) * dilation + 1;
  return [padBefore, extent - padBefore - inSize];
}

export function tapPaddings(info: Conv2DInfo): { height: AxisPadding; width: AxisPadding } {
  return {
    height: tapAxisPadding(info.inHeight, info.outHeight, info.strideHeight, info.filterHeight,
      info.dilationHeight, info.padInfo.top),
    width: tapAxisPadding(info.inWidth, info.outWidth, info.strideWidth, info.filterWidth,
      info.dilationWidth, info.padInfo.left),
  };
}

/** Splits a padding into the crop to apply first and the zero padding a conv kernel can add. */
export function splitPadding([before, after]: AxisPadding): { crop: AxisPadding; pad: AxisPadding } {
  return { crop: [Math.min(0, before), Math.min(0, after)], pad: [Math.max(0, before), Math.max(0, after)] };
}

/**
 * The tap windows of a channel-first input [C, N, H, W], each as a [C, N·oh·ow] matrix. The wasm
 * StridedSlice is very slow for strides above 1, so strided axes are first split into phases
 * (padded row q·s + a → phase a, row q) by one reshape + transpose; every window is then a
 * contiguous-stride Slice of one phase.
 */
export class ChannelFirstWindows {
  /** [phase, C·N, rows, cols]; a single phase when the conv is unstrided. */
  private readonly phases: TensorInfo;
  private readonly channels: number;
  private readonly batch: number;

  constructor(private readonly ops: WasmOps, x: TensorInfo, private readonly info: Conv2DInfo) {
    [this.channels, this.batch] = x.shape;
    const { strideHeight: sh, strideWidth: sw } = info;
    const { height, width } = tapPaddings(info);
    const rows = Math.ceil((x.shape[2] + height[0] + height[1]) / sh);
    const cols = Math.ceil((x.shape[3] + width[0] + width[1]) / sw);
    // Round the padded axes up to whole phases; the extra zeros are never read.
    const padded = ops.padOrCrop(x, [[0, 0], [0, 0],
      [height[0], rows * sh - x.shape[2] - height[0]], [width[0], cols * sw - x.shape[3] - width[0]]]);
    const planes = this.channels * this.batch;
    this.phases = sh === 1 && sw === 1
      ? ops.reshape(padded, [1, planes, rows, cols])
      : ops.reshape(ops.transpose(ops.reshape(padded, [planes * rows, sh, cols, sw]), [1, 3, 0, 2]),
        [sh * sw, planes, rows, cols]);
  }

  get count(): number {
    return this.info.filterHeight * this.info.filterWidth;
  }

  /** Window of tap `t` (row-major over the filter) as [C, N·oh·ow]. */
  window(t: number): TensorInfo {
    const { strideHeight: sh, strideWidth: sw, outHeight, outWidth } = this.info;
    const row = Math.floor(t / this.info.filterWidth) * this.info.dilationHeight;
    const col = (t % this.info.filterWidth) * this.info.dilationWidth;
    const planes = this.channels * this.batch;
    const asMatrix = [this.channels, this.batch * outHeight * outWidth];
    if (this.phases.shape[0] === 1 && this.phases.shape[2] === outHeight && this.phases.shape[3] === outWidth) {
      return this.ops.reshape(this.phases, asMatrix); // 1×1 unstrided, unpadded: the input itself
    }
    const window = this.ops.run('Slice', { x: this.phases }, {
      begin: [(row % sh) * sw + (col % sw), 0, Math.floor(row / sh), Math.floor(col / sw)],
      size: [1, planes, outHeight, outWidth],
    });
    const matrix = this.ops.reshape(window, asMatrix);
    this.ops.free(window); // the data lives on in `matrix`, so freeing that one frees it
    return matrix;
  }
}

/**
 * One output phase of a strided conv's input gradient along one axis: the input rows i = q·s + a
 * (q = 0 … rows−1). Such a row receives dy[q + start + j] · w[c + s·(taps − 1 − j)] for
 * j = 0 … taps−1, so the phase is a stride-1 correlation of dy with the sub-filter of every s-th
 * tap, flipped, starting `start` rows from q. With taps = 0 the phase gets no gradient.
 */
export interface AxisPhase {
  /** First filter tap of the phase, (a + padBefore) mod s. */
  tap: number;
  /** How many filter taps land on the phase. */
  taps: number;
  /** dy offset of the first tap the sub-filter reads, relative to q. */
  start: number;
  /** How many input rows the phase holds. */
  rows: number;
}

/** The s phases of one axis of a strided conv (dilation 1), in order a = 0 … s−1. */
export function axisPhases(inSize: number, stride: number, filterSize: number, padBefore: number): AxisPhase[] {
  return Array.from({ length: stride }, (_, a) => {
    const tap = (((a + padBefore) % stride) + stride) % stride;
    const lastDy = (a + padBefore - tap) / stride; // dy offset of tap `tap`
    const taps = tap < filterSize ? Math.ceil((filterSize - tap) / stride) : 0;
    return { tap, taps, start: lastDy - taps + 1, rows: Math.max(0, Math.ceil((inSize - a) / stride)) };
  });
}

/** Padding (negative = crop) of dy so a phase's stride-1 'valid' correlation yields `rows` rows. */
export function phasePadding(phase: AxisPhase, outSize: number): AxisPadding {
  return [-phase.start, phase.rows + phase.start + phase.taps - 1 - outSize];
}

/**
 * All phases of an axis as one correlation: a window of dy offsets `start` … `start + taps − 1`
 * covering every phase's taps; phase a reads filter tap a + padBefore − s·(start + j) at window
 * position j (zero where that tap does not exist). `rows` is the longest phase's.
 */
export function combinedPhases(phases: AxisPhase[]): AxisPhase {
  const live = phases.filter((p) => p.taps > 0 && p.rows > 0);
  const start = Math.min(...live.map((p) => p.start));
  const end = Math.max(...live.map((p) => p.start + p.taps - 1));
  return { tap: 0, taps: end - start + 1, start, rows: phases[0].rows };
}

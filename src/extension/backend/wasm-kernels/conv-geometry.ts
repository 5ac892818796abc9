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

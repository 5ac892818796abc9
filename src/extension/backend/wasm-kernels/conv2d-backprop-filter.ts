/**
 * Conv2DBackpropFilter for wasm: dW[i, j] = Σ window(i, j)ᵀ · dy over batch and output pixels.
 * Windows are stacked channel-first (im2col) so XNNPACK GEMMs do the sums; taps go in chunks to
 * bound the size of that patch matrix.
 */
import {
  backend_util, Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs, type KernelConfig, type KernelFunc, type TensorInfo,
} from '@tensorflow/tfjs-core';
import { ChannelFirstWindows } from './conv-geometry';
import { withWasmOps } from './wasm-ops';

type Shape4D = [number, number, number, number];

/** Most floats (16 MB) a patch matrix may hold before taps are split into several GEMMs. */
const PATCH_BUDGET = 1 << 22;

/** The kernel; `patchBudget` is a parameter so tests can force the chunked path on small inputs. */
export const conv2DBackpropFilterKernel = (patchBudget = PATCH_BUDGET): KernelFunc => ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  const format = backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC');
  // tfjs has no dilated conv2d gradient; its cpu kernel also fixes dilations at 1.
  const info = backend_util.computeConv2DInfo(
    x.shape as Shape4D, filterShape, strides, 1, pad, dimRoundingMode, false, format);
  const { inChannels, outChannels } = info;
  const pixels = info.batchSize * info.outHeight * info.outWidth;

  return withWasmOps(backend, (ops) => {
    if (pixels <= 0) return ops.zeros(filterShape, 'float32');
    const channelsLast = format === 'channelsLast';
    const windows = new ChannelFirstWindows(ops, ops.transpose(x, channelsLast ? [3, 0, 1, 2] : [1, 0, 2, 3]), info);
    const dyRows = ops.reshape(channelsLast ? dy : ops.transpose(dy, [0, 2, 3, 1]), [pixels, outChannels]);
    // XNNPACK re-packs the GEMM's right operand on every call (costlier than a thin multiply), so
    // the narrower of patches [P, taps·Ci] and dy [P, Co] goes on the right. XNNPACK also caches
    // that packed copy by tensor id until the tensor is freed, so the right operand is always a
    // temporary of ours, never the caller's dy.
    const patchesOnRight = windows.count * inChannels < outChannels;
    const dyOperand = patchesOnRight
      ? ops.reshape(ops.transpose(dyRows, [1, 0]), [1, outChannels, pixels])
      : ops.reshape(dyRows.dataId === dy.dataId ? ops.copy(dyRows) : dyRows, [1, pixels, outChannels]);

    const tapsPerChunk = Math.max(1, Math.floor(patchBudget / (inChannels * pixels)));
    const chunks: TensorInfo[] = []; // [1, Co, taps·Ci] if patchesOnRight, else [1, taps·Ci, Co]
    for (let first = 0; first < windows.count; first += tapsPerChunk) {
      const taps = Array.from({ length: Math.min(tapsPerChunk, windows.count - first) }, (_, k) => windows.window(first + k));
      const patches = ops.concat(taps, 0); // [taps·Ci, P], row = tap·Ci + ci
      const patchOperand = patchesOnRight
        ? ops.reshape(ops.transpose(patches, [1, 0]), [1, pixels, patches.shape[0]])
        : ops.reshape(patches, [1, ...patches.shape]);
      chunks.push(patchesOnRight ? ops.matMul(dyOperand, patchOperand) : ops.matMul(patchOperand, dyOperand));
      ops.free(...taps, patches, patchOperand);
    }
    if (!patchesOnRight) return ops.reshape(ops.concat(chunks, 1), filterShape);
    const dWT = ops.reshape(ops.concat(chunks, 2), [outChannels, windows.count * inChannels]);
    return ops.reshape(ops.transpose(dWT, [1, 0]), filterShape);
  });
};

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterKernel(),
};

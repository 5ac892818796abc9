/**
 * Conv2DBackpropInput for wasm, replacing the backend's own kernel (a plain loop, measured 5–30×
 * slower than the forward conv on MobileNetV2 layers): unstrided, dy is correlated with the
 * 180°-rotated, in/out-transposed filter using the forward conv kernel (XNNPACK); strided, by
 * phases (phase-backprop-input.ts), so no multiply meets a zero inserted between dy's pixels.
 * NCHW, which the forward XNNPACK kernel does not take, stays with the original kernel.
 */
import {
  backend_util, Conv2DBackpropInput, getKernel,
  type Conv2DBackpropInputAttrs, type KernelConfig, type KernelFunc, type TensorInfo,
} from '@tensorflow/tfjs-core';
import { splitPadding } from './conv-geometry';
import { derivedFilter } from './filter-cache';
import { transposedPadding } from './depthwise-backprop-input';
import { conv2dBackpropInputByPhases, type PhaseStrategy } from './phase-backprop-input';
import { withWasmOps } from './wasm-ops';

type Shape4D = [number, number, number, number];

/** The kernel wasm registered itself, kept for NCHW inputs. */
let original: KernelConfig | undefined;

/** The kernel; `strategy` is a parameter so tests can force either way of running the phases. */
export const conv2dBackpropInputKernel = (strategy: PhaseStrategy = 'auto'): KernelFunc => (args) => {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
  if (dataFormat === 'NCHW') {
    if (!original) throw new Error('Conv2DBackpropInput: NCHW is not supported on wasm');
    return original.kernelFunc(args);
  }
  const info = backend_util.computeConv2DInfo(
    inputShape as Shape4D, filter.shape as Shape4D, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { batchSize, inHeight, inWidth, inChannels, filterHeight, filterWidth } = info;
  return withWasmOps(backend, (ops) => {
    if (info.outHeight <= 0 || info.outWidth <= 0 || batchSize * inHeight * inWidth * inChannels === 0) {
      return ops.zeros(inputShape, 'float32');
    }
    if (info.strideHeight > 1 || info.strideWidth > 1) return conv2dBackpropInputByPhases(ops, dy, filter, info, strategy);
    const height = splitPadding(transposedPadding(inHeight, dy.shape[1], filterHeight, 1, info.padInfo.top));
    const width = splitPadding(transposedPadding(inWidth, dy.shape[2], filterWidth, 1, info.padInfo.left));
    const cropped = ops.padOrCrop(dy, [[0, 0], height.crop, width.crop, [0, 0]]);
    // Made once per filter: the same buffer every call lets XNNPACK keep its packed operator.
    const transposed = derivedFilter(backend, filter, 'conv2d-backprop-input', (fops, f) => {
      const rotated = filterHeight * filterWidth === 1 ? f : fops.run('Reverse', { x: f }, { dims: [0, 1] });
      return fops.transpose(rotated, [0, 1, 3, 2]);
    });
    return ops.run('Conv2D', { x: cropped, filter: transposed }, {
      strides: [1, 1],
      pad: [[0, 0], height.pad, width.pad, [0, 0]],
      dilations: [1, 1],
      dataFormat: 'NHWC',
    });
  });
};

const conv2dBackpropInput = conv2dBackpropInputKernel();

export const conv2dBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInput,
  // The original kernel binds its wasm function when the backend starts: keep doing that for it.
  setupFunc: (backend) => original?.setupFunc?.(backend),
};

/** Remembers the backend's own kernel before ours replaces it. */
export function keepOriginalConv2dBackpropInput(): void {
  const k = getKernel(Conv2DBackpropInput, 'wasm');
  if (k && k.kernelFunc !== conv2dBackpropInput) original = k;
}

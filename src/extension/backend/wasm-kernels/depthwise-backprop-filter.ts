/**
 * DepthwiseConv2dNativeBackpropFilter for wasm. dW[i, j, c, m] = Σ x_pad[n, i·dh + o·sh,
 * j·dw + p·sw, c] · dy[n, o, p, c·M + m] is itself a depthwise conv: the input image correlated
 * with dy as an (oh × ow) filter, at stride = the forward dilation and dilation = the forward
 * stride, giving an fh × fw output. The batch is folded into the channels and summed afterwards.
 * One XNNPACK call does it all; this measured faster than im2col + batched matmul on wasm.
 */
import {
  backend_util, DepthwiseConv2dNativeBackpropFilter,
  type DepthwiseConv2dNativeBackpropFilterAttrs, type KernelConfig, type KernelFunc, type TensorInfo,
} from '@tensorflow/tfjs-core';
import { splitPadding, tapPaddings } from './conv-geometry';
import { withWasmOps } from './wasm-ops';

type Shape4D = [number, number, number, number];

const depthwiseBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = backend_util.computeConv2DInfo(
    x.shape as Shape4D, filterShape, strides, dilations ?? 1, pad, dimRoundingMode, true);
  const { batchSize: batch, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth } = info;
  const multiplier = info.outChannels / inChannels;

  return withWasmOps(backend, (ops) => {
    if (batch * outHeight * outWidth <= 0) return ops.zeros(filterShape, 'float32');
    const image = batch === 1 ? x
      : ops.reshape(ops.transpose(x, [1, 2, 0, 3]), [1, inHeight, inWidth, batch * inChannels]);
    // The transpose always copies, so the filter XNNPACK packs and caches is our own temporary.
    const dyFilter = ops.reshape(ops.transpose(dy, [1, 2, 0, 3]), [outHeight, outWidth, batch * inChannels, multiplier]);
    const height = splitPadding(tapPaddings(info).height);
    const width = splitPadding(tapPaddings(info).width);
    const cropped = ops.padOrCrop(image, [[0, 0], height.crop, width.crop, [0, 0]]);
    const grads = ops.run('DepthwiseConv2dNative', { x: cropped, filter: dyFilter }, {
      strides: [info.dilationHeight, info.dilationWidth],
      dilations: [info.strideHeight, info.strideWidth],
      pad: [[0, 0], height.pad, width.pad, [0, 0]],
      dataFormat: 'NHWC',
    }); // [1, fh, fw, N·C·M]
    if (batch === 1) return ops.reshape(grads, filterShape);
    const perImage = ops.reshape(grads, [filterHeight * filterWidth, batch, inChannels * multiplier]);
    return ops.reshape(ops.sum(perImage, [1]), filterShape);
  });
};

export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter,
};

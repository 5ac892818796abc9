/**
 * DepthwiseConv2dNativeBackpropInput for wasm, as a transposed convolution: spread dy by the
 * stride (zeros in between), then correlate it with the 180°-rotated filter using the forward
 * depthwise kernel (XNNPACK) at stride 1 and the original dilation.
 */
import {
  backend_util, DepthwiseConv2dNativeBackpropInput,
  type DepthwiseConv2dNativeBackpropInputAttrs, type KernelConfig, type KernelFunc, type TensorInfo,
} from '@tensorflow/tfjs-core';
import { splitPadding } from './conv-geometry';
import { derivedFilter } from './filter-cache';
import { type AxisPadding, withWasmOps, type WasmOps } from './wasm-ops';

type Shape4D = [number, number, number, number];

/** dy with stride−1 zero rows/columns after every row/column: [N, oh·sh, ow·sw, C]. */
export function spreadByStride(ops: WasmOps, dy: TensorInfo, strideHeight: number, strideWidth: number): TensorInfo {
  if (strideHeight === 1 && strideWidth === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const split = ops.reshape(dy, [n, h, 1, w, 1, c]);
  const padded = ops.padOrCrop(split, [[0, 0], [0, 0], [0, strideHeight - 1], [0, 0], [0, strideWidth - 1], [0, 0]]);
  return ops.reshape(padded, [n, h * strideHeight, w * strideWidth, c]);
}

/**
 * With dx[h] = Σₖ spread[h − before + k·d] · flipped[k], `before` = (f−1)·d − padBefore and the
 * after-padding makes the stride-1 'valid' output exactly `inSize` long.
 */
export function transposedPadding(inSize: number, spreadSize: number, filterSize: number, dilation: number, padBefore: number): AxisPadding {
  const extent = (filterSize - 1) * dilation;
  const before = extent - padBefore;
  return [before, inSize + extent - before - spreadSize];
}

const depthwiseBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
  const info = backend_util.computeConv2DInfo(
    inputShape, filter.shape as Shape4D, strides, dilations ?? 1, pad, dimRoundingMode, true);
  const { batchSize, inHeight, inWidth, inChannels, outChannels, filterHeight, filterWidth } = info;

  return withWasmOps(backend, (ops) => {
    if (info.outHeight <= 0 || info.outWidth <= 0 || batchSize * inHeight * inWidth * inChannels === 0) {
      return ops.zeros(inputShape, 'float32');
    }
    const spread = spreadByStride(ops, dy, info.strideHeight, info.strideWidth);
    const padH = transposedPadding(inHeight, spread.shape[1], filterHeight, info.dilationHeight, info.padInfo.top);
    const padW = transposedPadding(inWidth, spread.shape[2], filterWidth, info.dilationWidth, info.padInfo.left);
    // Crop what must go, and let the conv kernel add the zeros (saves a padded copy).
    const height = splitPadding(padH);
    const width = splitPadding(padW);
    const cropped = ops.padOrCrop(spread, [[0, 0], height.crop, width.crop, [0, 0]]);

    // Each of the C·M dy channels meets its own filter slice: multiplier 1 over C·M channels.
    // Made once per filter: the same buffer every call lets XNNPACK keep its packed operator.
    const perChannelFilter = derivedFilter(backend, filter, 'depthwise-backprop-input', (fops, f) =>
      fops.reshape(fops.run('Reverse', { x: f }, { dims: [0, 1] }), [filterHeight, filterWidth, outChannels, 1]));
    const dxParts = ops.run('DepthwiseConv2dNative', { x: cropped, filter: perChannelFilter }, {
      strides: [1, 1],
      pad: [[0, 0], height.pad, width.pad, [0, 0]],
      dilations: [info.dilationHeight, info.dilationWidth],
      dataFormat: 'NHWC',
    });
    const multiplier = outChannels / inChannels;
    if (multiplier === 1) return dxParts;
    // Channel c·M + m of dxParts is multiplier m's share of dx[c].
    return ops.sum(ops.reshape(dxParts, [batchSize, inHeight, inWidth, inChannels, multiplier]), [4]);
  });
};

export const depthwiseBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput,
};

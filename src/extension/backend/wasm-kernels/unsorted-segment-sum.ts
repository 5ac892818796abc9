/**
 * UnsortedSegmentSum for wasm (the gradient of gather): ScatterNd with one index per row of x
 * adds rows that share a segment, in O(size of x).
 */
import {
  UnsortedSegmentSum, util,
  type KernelConfig, type KernelFunc, type TensorInfo, type UnsortedSegmentSumAttrs,
} from '@tensorflow/tfjs-core';
import { withWasmOps, type WasmOps } from './wasm-ops';

/**
 * Segment ids as ScatterNd indices [rows, 1]. The wasm ScatterNd does no bounds checks, so ids
 * outside [0, numSegments), which TensorFlow drops, are sent to a spare segment `numSegments`.
 * Returns the indices and whether that spare segment is used.
 */
function scatterIndices(ops: WasmOps, segmentIds: TensorInfo, rows: number, numSegments: number): [TensorInfo, boolean] {
  const ids = ops.backend.readSync(segmentIds.dataId) as Int32Array | Float32Array;
  // Non-integer ids (only reachable through runKernel with float ids) match no segment on cpu.
  const valid = (id: number) => Number.isInteger(id) && id >= 0 && id < numSegments;
  if (segmentIds.dtype === 'int32' && ids.every(valid)) return [ops.reshape(segmentIds, [rows, 1]), false];
  const safe = Int32Array.from(ids, (id) => (valid(id) ? id : numSegments));
  return [ops.fromValues(safe, [rows, 1], 'int32'), !safe.every((id) => id < numSegments)];
}

const unsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
  // As in TensorFlow, segmentIds covers the leading axes of x; tfjs itself passes a 1-D tensor.
  const rows = util.sizeFromShape(segmentIds.shape);
  const rowShape = x.shape.slice(segmentIds.shape.length);
  const outShape = [numSegments, ...rowShape];

  return withWasmOps(backend, (ops) => {
    if (rows === 0 || util.sizeFromShape(outShape) === 0) return ops.zeros(outShape, x.dtype);
    const [indices, spare] = scatterIndices(ops, segmentIds, rows, numSegments);
    const updates = ops.reshape(x, [rows, ...rowShape]);
    const scatterShape = [numSegments + (spare ? 1 : 0), ...rowShape];
    const summed = ops.run('ScatterNd', { indices, updates }, { shape: scatterShape });
    if (!spare) return summed;
    return ops.run('Slice', { x: summed }, { begin: outShape.map(() => 0), size: outShape });
  });
};

export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum,
};

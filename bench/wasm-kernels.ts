/**
 * Times the wasm gradient kernels against the forward op on the same MobileNetV2-like layer, so a
 * regression (e.g. a path falling off XNNPACK) shows up as a ratio jump. Call after the wasm
 * backend is initialised (`initBackend('wasm')`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { performance } from 'node:perf_hooks';

export interface KernelTiming {
  kernel: string;
  layer: string;
  /** Best-of-N milliseconds of the gradient kernel. */
  kernelMs: number;
  /** Best-of-N milliseconds of the matching forward op on the same layer. */
  forwardMs: number;
  /** kernelMs / forwardMs. */
  ratio: number;
}

type Shape4D = [number, number, number, number];

interface Layer {
  name: string;
  x: Shape4D;
  filter: Shape4D;
  stride: number;
  depthwise: boolean;
}

export const MOBILENET_V2_LAYERS: readonly Layer[] = [
  { name: '112x112x32 dw3x3 s1', x: [1, 112, 112, 32], filter: [3, 3, 32, 1], stride: 1, depthwise: true },
  { name: '112x112x32 dw3x3 s2', x: [1, 112, 112, 32], filter: [3, 3, 32, 1], stride: 2, depthwise: true },
  { name: '56x56x144 dw3x3 s1', x: [1, 56, 56, 144], filter: [3, 3, 144, 1], stride: 1, depthwise: true },
  { name: '14x14x576 dw3x3 s1', x: [1, 14, 14, 576], filter: [3, 3, 576, 1], stride: 1, depthwise: true },
  { name: '56x56x24->144 1x1', x: [1, 56, 56, 24], filter: [1, 1, 24, 144], stride: 1, depthwise: false },
  { name: '112x112x16->96 1x1', x: [1, 112, 112, 16], filter: [1, 1, 16, 96], stride: 1, depthwise: false },
  { name: '56x56x144->24 1x1', x: [1, 56, 56, 144], filter: [1, 1, 144, 24], stride: 1, depthwise: false },
  { name: '14x14x96->576 1x1', x: [1, 14, 14, 96], filter: [1, 1, 96, 576], stride: 1, depthwise: false },
  { name: '224x224x3->32 3x3 s2', x: [1, 224, 224, 3], filter: [3, 3, 3, 32], stride: 2, depthwise: false },
];

/**
 * Best wall time of `f` in ms over `reps` runs after one warm-up; outputs are disposed. The minimum
 * is far steadier than the median on a shared machine, and each op's cost is what is compared.
 */
function bestMs(f: () => tf.Tensor, reps: number): number {
  tf.dispose(f());
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const out = f();
    out.dataSync(); // wasm runs synchronously, but make sure the work is done
    best = Math.min(best, performance.now() - t0);
    out.dispose();
  }
  return best;
}

function timing(kernel: string, layer: string, kernelMs: number, forwardMs: number): KernelTiming {
  return { kernel, layer, kernelMs, forwardMs, ratio: kernelMs / forwardMs };
}

function benchLayer(layer: Layer, reps: number): KernelTiming[] {
  const x = tf.randomNormal(layer.x);
  const filter = tf.randomNormal(layer.filter);
  const attrs = { strides: layer.stride, pad: 'same' as const, dilations: 1, dataFormat: 'NHWC' as const };
  const forward = (): tf.Tensor4D => layer.depthwise
    ? tf.depthwiseConv2d(x as tf.Tensor4D, filter as tf.Tensor4D, layer.stride, 'same')
    : tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, layer.stride, 'same');
  const dy = forward();
  const forwardMs = bestMs(forward, reps);
  const run = (name: string, inputs: tf.NamedTensorMap, extra: object) => () =>
    tf.engine().runKernel(name, inputs, { ...attrs, ...extra } as unknown as tf.NamedAttrMap) as tf.Tensor;
  const rows: KernelTiming[] = [];
  if (layer.depthwise) {
    rows.push(timing('DepthwiseConv2dNativeBackpropInput', layer.name, bestMs(
      run('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { inputShape: layer.x }), reps), forwardMs));
    rows.push(timing('DepthwiseConv2dNativeBackpropFilter', layer.name, bestMs(
      run('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { filterShape: layer.filter }), reps), forwardMs));
  } else {
    rows.push(timing('Conv2DBackpropFilter', layer.name, bestMs(
      run('Conv2DBackpropFilter', { x, dy }, { filterShape: layer.filter }), reps), forwardMs));
    // The wasm backend's own input gradient, for scale.
    rows.push(timing('Conv2DBackpropInput (replacement)', layer.name, bestMs(
      run('Conv2DBackpropInput', { dy, filter }, { inputShape: layer.x }), reps), forwardMs));
  }
  tf.dispose([x, filter, dy]);
  return rows;
}

/** Gather-gradient on an embedding-like table, against the forward gather. */
function benchSegmentSum(reps: number): KernelTiming {
  const [vocab, dim, count] = [10000, 128, 4096];
  const table = tf.randomNormal([vocab, dim]);
  const ids = tf.randomUniform([count], 0, vocab, 'int32');
  const forwardMs = bestMs(() => tf.gather(table, ids), reps);
  const rows = tf.randomNormal([count, dim]);
  const kernelMs = bestMs(() => tf.unsortedSegmentSum(rows, ids as tf.Tensor1D, vocab), reps);
  tf.dispose([table, ids, rows]);
  return timing('UnsortedSegmentSum', `gather ${count} of ${vocab}x${dim}`, kernelMs, forwardMs);
}

export function benchWasmKernels(reps = 15): KernelTiming[] {
  if (tf.getBackend() !== 'wasm') throw new Error(`benchWasmKernels needs the wasm backend, not ${tf.getBackend()}`);
  return [...MOBILENET_V2_LAYERS.flatMap((layer) => benchLayer(layer, reps)), benchSegmentSum(reps)];
}

/** The timings as an aligned text table. */
export function formatTimings(rows: readonly KernelTiming[]): string {
  const lines = rows.map((r) => [r.kernel, r.layer, r.kernelMs.toFixed(2), r.forwardMs.toFixed(2), `${r.ratio.toFixed(1)}x`]);
  const table = [['kernel', 'layer', 'ms', 'forward ms', 'ratio'], ...lines];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ')).join('\n');
}

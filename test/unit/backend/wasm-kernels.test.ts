/**
 * The wasm gradient kernels against independent references computed on the cpu backend: raw
 * kernels over many geometries, end-to-end tf.grads, a tfjs-layers training step, registration
 * and memory hygiene.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers also registers tfjs-core's gradient functions, which tf.grads needs.
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../../src/extension/backend/backends';
import { registerWasmGradientKernels, WASM_GRADIENT_KERNELS, WASM_KERNEL_REPLACEMENTS } from '../../../src/extension/backend/wasm-kernels';
import { conv2DBackpropFilterKernel } from '../../../src/extension/backend/wasm-kernels/conv2d-backprop-filter';
import { conv2dBackpropInputKernel } from '../../../src/extension/backend/wasm-kernels/conv2d-backprop-input';
import { wasmOwnMaxPoolGrad } from '../../../src/extension/backend/wasm-kernels/max-pool-grad';
import type { PhaseStrategy } from '../../../src/extension/backend/wasm-kernels/phase-backprop-input';

type Shape4D = [number, number, number, number];
type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Rounding = 'floor' | 'round' | 'ceil';
type Backend = 'cpu' | 'wasm';

const TOLERANCE = 1e-4;

/** Deterministic values in [-1, 1), so cpu and wasm see identical inputs. */
function values(shape: number[], seed: number): Float32Array {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

interface Result { shape: number[]; data: Float32Array }

/** Runs `f` on one backend and copies its outputs out; every tensor it made is disposed. */
async function on(backend: Backend, f: () => tf.Tensor | tf.Tensor[]): Promise<Result[]> {
  assert.ok(await tf.setBackend(backend), `backend ${backend} did not start`);
  const outs = tf.tidy(f);
  const list = Array.isArray(outs) ? outs : [outs];
  const results = list.map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
  tf.dispose(list);
  return results;
}

/** max |a − b| / max |b|: the error relative to the reference's scale. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  let maxDiff = 0;
  let scale = 1e-12;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return maxDiff / scale;
}

function assertClose(actual: Result[], expected: Result[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: output count`);
  expected.forEach((e, i) => {
    assert.deepEqual(actual[i].shape, e.shape, `${label}[${i}]: shape`);
    assert.ok(e.data.some((v) => v !== 0), `${label}[${i}]: reference is all zeros, the case tests nothing`);
    const err = relativeError(actual[i].data, e.data);
    assert.ok(err <= TOLERANCE, `${label}[${i}]: relative error ${err.toExponential(2)} > ${TOLERANCE}`);
  });
}

/** Computes `f` on cpu (reference) and on wasm, and compares. */
async function compare(label: string, f: () => tf.Tensor | tf.Tensor[], reference = f): Promise<void> {
  const expected = await on('cpu', reference);
  const actual = await on('wasm', f);
  assertClose(actual, expected, label);
}

/** Output shape of a forward conv, taken from the cpu backend so geometry is tfjs's own. */
async function outShape(f: () => tf.Tensor): Promise<number[]> {
  return (await on('cpu', f))[0].shape;
}

function describe(c: object): string {
  return JSON.stringify(c).replace(/"/g, '');
}

before(async () => {
  const report = await initBackend('wasm');
  assert.equal(report.tfBackend, 'wasm', 'the wasm backend must start for these tests');
});

// ---------------------------------------------------------------- registration

test('registration is idempotent, quiet, and covers the four missing kernels', () => {
  const warn = console.warn;
  let warnings = 0;
  console.warn = () => { warnings++; };
  try {
    registerWasmGradientKernels();
    registerWasmGradientKernels();
  } finally {
    console.warn = warn;
  }
  assert.equal(warnings, 0);
  const names = WASM_GRADIENT_KERNELS.map((k) => k.kernelName).sort();
  assert.deepEqual(names, ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter',
    'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum']);
  for (const config of WASM_GRADIENT_KERNELS) {
    assert.equal(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc, config.kernelFunc, config.kernelName);
  }
});

// ---------------------------------------------------------------- strided Conv2DBackpropInput by phases

/** Strided geometries for the phase decomposition: odd sizes, kernels 1–7, strides 2–3, ONNX-style pads. */
const PHASE_CASES: ConvCase[] = [];
for (const k of [1, 2, 3, 4, 5, 7]) {
  for (const s of [2, 3]) {
    for (const [size, pad] of [[9, 'same'], [10, 'valid'], [11, k >> 1], [13, [[0, 0], [k >> 1, Math.max(0, k - 2)], [0, k >> 1], [0, 0]]]] as [number, Pad][]) {
      if (size < k) continue;
      PHASE_CASES.push({ x: [1, size, size + 2, 3], f: [k, k, 3, 5], s, pad });
    }
  }
}
PHASE_CASES.push(
  { x: [2, 15, 15, 16], f: [3, 3, 16, 24], s: 2, pad: 1 }, // ResNet's 3×3 stride-2 layers
  { x: [1, 224 / 8, 224 / 8, 3], f: [7, 7, 3, 16], s: 2, pad: 3 }, // ResNet's stem, smaller
  { x: [2, 8, 7, 16], f: [1, 1, 16, 8], s: 2, pad: 0 }, // downsample: three phases get nothing
  { x: [1, 3, 2, 4], f: [3, 3, 4, 2], s: 3, pad: 'same' }, // fewer rows than the stride
  { x: [1, 9, 8, 3], f: [3, 5, 3, 4], s: [2, 3], pad: [[0, 0], [0, 2], [1, 3], [0, 0]] },
  { x: [1, 7, 8, 3], f: [2, 3, 3, 8], s: 2, pad: 1, round: 'ceil' },
);

test('strided Conv2DBackpropInput by phases matches cpu, each way of running the phases', async (t) => {
  const kernels: [PhaseStrategy, tf.KernelFunc][] = (['separate', 'combined', 'auto'] as PhaseStrategy[])
    .map((strategy) => [strategy, conv2dBackpropInputKernel(strategy)]);
  for (const [i, c] of PHASE_CASES.entries()) {
    const dyShape = await convDyShape(c);
    for (const [strategy, kernel] of kernels) {
      await t.test(`${strategy} ${describe(c)}`, async () => {
        const dy = () => tf.tensor(values(dyShape, 400 + i), dyShape);
        const filter = () => tf.tensor(values(c.f, 500 + i), c.f);
        const attrs = { inputShape: c.x, strides: c.s, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.round };
        const expected = await on('cpu', () => tf.engine().runKernel('Conv2DBackpropInput', { dy: dy(), filter: filter() }, attrs as never) as tf.Tensor);
        const actual = await on('wasm', () => {
          const inputs = { dy: dy(), filter: filter() };
          const out = kernel({ inputs, attrs: attrs as never, backend: tf.backend() }) as tf.TensorInfo;
          return tf.engine().makeTensorFromTensorInfo(out);
        });
        assertClose(actual, expected, 'dx');
      });
    }
  }
});

test('phase sub-filters are made once per filter and leave the engine tensor count alone', async () => {
  assert.ok(await tf.setBackend('wasm'));
  const filter = tf.tensor(values([3, 3, 8, 16], 7), [3, 3, 8, 16]) as tf.Tensor4D;
  const dy = tf.tensor(values([1, 5, 5, 16], 8), [1, 5, 5, 16]) as tf.Tensor4D;
  const first = tf.conv2dTranspose(dy, filter, [1, 10, 10, 8], 2, 'same');
  const before = tf.memory().numTensors;
  const again = tf.conv2dTranspose(dy, filter, [1, 10, 10, 8], 2, 'same');
  assert.equal(tf.memory().numTensors, before + 1);
  assert.deepEqual(again.dataSync(), first.dataSync());
  tf.dispose([filter, dy, first, again]);
});

// ---------------------------------------------------------------- MaxPoolGrad

/** dx of tf.maxPool on `x` for an upstream gradient `dy`, through the registered kernels. */
function maxPoolDx(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, s: number, pad: 'same' | 'valid'): tf.Tensor {
  return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, k, s, pad), dy)))(x);
}

/** PyTorch's max_pool2d backward: the first maximum in row-major window order takes dy. */
function firstMaxReference(x: Float32Array, shape: Shape4D, k: number, s: number, pads: [number, number], out: [number, number], dy: Float32Array): Float32Array {
  const [n, h, w, c] = shape;
  const dx = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < out[0]; oy++) {
      for (let ox = 0; ox < out[1]; ox++) {
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          for (let r = oy * s - pads[0]; r < oy * s - pads[0] + k; r++) {
            for (let col = ox * s - pads[1]; col < ox * s - pads[1] + k; col++) {
              if (r < 0 || r >= h || col < 0 || col >= w) continue;
              const i = ((b * h + r) * w + col) * c + ch;
              if (at < 0 || x[i] > best) {
                best = x[i];
                at = i;
              }
            }
          }
          dx[at] += dy[((b * out[0] + oy) * out[1] + ox) * c + ch];
        }
      }
    }
  }
  return dx;
}

const POOL_CASES: { x: Shape4D; k: number; s: number; pad: 'same' | 'valid' }[] = [
  { x: [1, 114, 114, 8], k: 3, s: 2, pad: 'valid' }, // ResNet's stem pool (after −∞ padding)
  { x: [2, 9, 10, 3], k: 3, s: 2, pad: 'same' },
  { x: [1, 7, 7, 5], k: 2, s: 2, pad: 'valid' },
  { x: [1, 8, 9, 4], k: 3, s: 1, pad: 'same' },
  { x: [1, 11, 11, 2], k: 5, s: 3, pad: 'same' },
];

test('MaxPoolGrad matches the cpu backend and the original wasm kernel where no window ties', async (t) => {
  assert.ok(wasmOwnMaxPoolGrad(), 'the wasm backend ships a MaxPoolGrad to compare against');
  for (const [i, c] of POOL_CASES.entries()) {
    await t.test(describe(c), async () => {
      const yShape = await outShape(() => tf.maxPool(tf.zeros(c.x) as tf.Tensor4D, c.k, c.s, c.pad)) as Shape4D;
      const run = () => maxPoolDx(tf.tensor(values(c.x, 600 + i), c.x) as tf.Tensor4D, tf.tensor(values(yShape, 700 + i), yShape) as tf.Tensor4D, c.k, c.s, c.pad);
      await compare('dx', run);
      // The original kernel, on positive tie-free values (it drops windows whose maximum is ≤ 0).
      const positive = () => tf.add(tf.abs(tf.tensor(values(c.x, 600 + i), c.x)), 0.5) as tf.Tensor4D;
      const dyT = () => tf.tensor(values(yShape, 700 + i), yShape) as tf.Tensor4D;
      const ours = await on('wasm', () => maxPoolDx(positive(), dyT(), c.k, c.s, c.pad));
      const theirs = await on('wasm', () => {
        const x = positive();
        const y = tf.maxPool(x, c.k, c.s, c.pad);
        const out = wasmOwnMaxPoolGrad()!.kernelFunc({
          inputs: { dy: dyT(), input: x, output: y }, backend: tf.backend(),
          attrs: { filterSize: c.k, strides: c.s, pad: c.pad },
        }) as tf.TensorInfo;
        return tf.engine().makeTensorFromTensorInfo(out);
      });
      assertClose(ours, theirs, 'dx vs the original wasm kernel');
    });
  }
});

test('MaxPoolGrad routes ties and all-negative windows as PyTorch does (first maximum)', async () => {
  // Values from {-2, -1, 0, 1}: most windows tie, and many have no positive value.
  const shape: Shape4D = [2, 9, 9, 3];
  const x = Float32Array.from(values(shape, 11), (v) => Math.floor(v * 2));
  for (const [k, s, pad, pads, out] of [[3, 2, 'valid', [0, 0], [4, 4]], [2, 2, 'valid', [0, 0], [4, 4]], [3, 2, 'same', [1, 1], [5, 5]]] as
    [number, number, 'same' | 'valid', [number, number], [number, number]][]) {
    const dy = values([2, ...out, 3], 12);
    const expected = firstMaxReference(x, shape, k, s, pads, out, dy);
    for (const backend of ['wasm', 'cpu'] as Backend[]) {
      const [dx] = await on(backend, () => maxPoolDx(tf.tensor(x, shape) as tf.Tensor4D, tf.tensor(dy, [2, ...out, 3]) as tf.Tensor4D, k, s, pad));
      // Positions must match exactly; sums of several dy may round differently (cpu adds in another order).
      const worst = Math.max(...Array.from(expected, (e, j) => Math.abs(dx.data[j] - e)));
      assert.ok(worst < 1e-6, `${backend} k${k} s${s} ${pad}: max |dx − reference| = ${worst}`);
    }
  }
});

// ---------------------------------------------------------------- Identity

test('Identity shares its input buffer, and the data outlives either tensor', async () => {
  assert.ok(await tf.setBackend('wasm'));
  const x = tf.tensor([1, 2, 3, 4], [2, 2]);
  const y = tf.clone(x);
  assert.equal((tf.backend() as unknown as { refCount(id: object): number }).refCount(x.dataId), 2);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]);
  y.dispose();
  const s = tf.tensor(['a', 'b']);
  const sc = tf.clone(s);
  assert.deepEqual(sc.dataSync(), ['a', 'b']);
  tf.dispose([s, sc]);
});

// ---------------------------------------------------------------- Conv2DBackpropFilter

interface ConvCase { x: Shape4D; f: Shape4D; s: number | [number, number]; pad: Pad; round?: Rounding; nchw?: boolean }

const CONV_CASES: ConvCase[] = [
  { x: [1, 7, 7, 3], f: [3, 3, 3, 8], s: 1, pad: 'same' },
  { x: [2, 8, 8, 3], f: [3, 3, 3, 16], s: 2, pad: 'same' }, // even size: asymmetric 'same'
  { x: [2, 9, 9, 8], f: [3, 3, 8, 3], s: 2, pad: 'same' },
  { x: [1, 10, 7, 1], f: [5, 5, 1, 8], s: 3, pad: 'same' },
  { x: [2, 6, 9, 16], f: [2, 3, 16, 1], s: [1, 2], pad: 'valid' },
  { x: [1, 11, 9, 3], f: [7, 7, 3, 8], s: 2, pad: 'valid' },
  { x: [1, 5, 5, 8], f: [1, 1, 8, 16], s: 1, pad: 'valid' },
  { x: [3, 6, 6, 3], f: [1, 1, 3, 8], s: 2, pad: 'same' },
  { x: [1, 8, 6, 3], f: [3, 3, 3, 3], s: [3, 1], pad: [[0, 0], [1, 2], [0, 3], [0, 0]] },
  { x: [2, 9, 9, 3], f: [2, 2, 3, 8], s: 1, pad: [[0, 0], [3, 0], [0, 4], [0, 0]] }, // pad > filter
  { x: [1, 7, 8, 3], f: [2, 3, 3, 8], s: 2, pad: 1, round: 'ceil' }, // taps read past the padding
  { x: [1, 7, 8, 3], f: [3, 3, 3, 8], s: 2, pad: 2, round: 'floor' },
  { x: [1, 7, 8, 3], f: [3, 3, 3, 8], s: 3, pad: 1, round: 'round' },
  { x: [2, 3, 7, 8], f: [3, 3, 3, 8], s: 2, pad: 'same', nchw: true },
];

/** The shape of dy for a conv case, in the case's data format. */
async function convDyShape(c: ConvCase): Promise<number[]> {
  // tfjs' forward conv has no NCHW on cpu; get dy's shape from the NHWC geometry and permute.
  const xNhwc: Shape4D = c.nchw ? [c.x[0], c.x[2], c.x[3], c.x[1]] : c.x;
  const yNhwc = await outShape(() =>
    tf.conv2d(tf.zeros(xNhwc) as tf.Tensor4D, tf.zeros(c.f) as tf.Tensor4D, c.s, c.pad, 'NHWC', 1, c.round));
  return c.nchw ? [yNhwc[0], yNhwc[3], yNhwc[1], yNhwc[2]] : yNhwc;
}

test('Conv2DBackpropFilter matches cpu', async (t) => {
  for (const [i, c] of CONV_CASES.entries()) {
    await t.test(describe(c), async () => {
      const format = c.nchw ? 'NCHW' : 'NHWC';
      const dyShape = await convDyShape(c);
      await compare('dW', () => tf.engine().runKernel('Conv2DBackpropFilter',
        { x: tf.tensor(values(c.x, i), c.x), dy: tf.tensor(values(dyShape, 100 + i), dyShape) },
        { filterShape: c.f, strides: c.s, pad: c.pad, dataFormat: format, dimRoundingMode: c.round } as never) as tf.Tensor);
    });
  }
});

test('Conv2DBackpropInput (replacing the slow wasm kernel) matches cpu', async (t) => {
  assert.equal(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc, WASM_KERNEL_REPLACEMENTS[0].kernelFunc);
  for (const [i, c] of CONV_CASES.entries()) {
    await t.test(describe(c), async () => {
      const format = c.nchw ? 'NCHW' : 'NHWC';
      const dyShape = await convDyShape(c);
      await compare('dx', () => tf.engine().runKernel('Conv2DBackpropInput',
        { dy: tf.tensor(values(dyShape, 200 + i), dyShape), filter: tf.tensor(values(c.f, 300 + i), c.f) },
        { inputShape: c.x, strides: c.s, pad: c.pad, dataFormat: format, dimRoundingMode: c.round } as never) as tf.Tensor);
    });
  }
});

test('Conv2DBackpropFilter split into tap chunks (bounded patch memory) matches cpu', async (t) => {
  const x: Shape4D = [2, 9, 8, 3];
  // 3×3×3→8 puts the patches on the GEMM's left, 2×2×3→16 on its right.
  for (const f of [[3, 3, 3, 8], [2, 2, 3, 16]] as Shape4D[]) {
    const attrs = { filterShape: f, strides: 2, pad: 'same', dataFormat: 'NHWC' };
    const dyShape = await outShape(() => tf.conv2d(tf.zeros(x) as tf.Tensor4D, tf.zeros(f) as tf.Tensor4D, 2, 'same'));
    const inputs = () => ({ x: tf.tensor(values(x, 1), x), dy: tf.tensor(values(dyShape, 2), dyShape) });
    const pixels = dyShape[0] * dyShape[1] * dyShape[2];
    const expected = await on('cpu', () => tf.engine().runKernel('Conv2DBackpropFilter', inputs(), attrs as never) as tf.Tensor);
    for (const tapsPerChunk of [1, 2, 3]) {
      await t.test(`filter ${f}, ${tapsPerChunk} taps per GEMM`, async () => {
        const kernel = conv2DBackpropFilterKernel(x[3] * pixels * tapsPerChunk);
        // Called directly (the registered kernel keeps the default budget) and wrapped as a tensor.
        const actual = await on('wasm', () => tf.engine().makeTensorFromTensorInfo(
          kernel({ inputs: inputs(), backend: tf.backend(), attrs: attrs as never }) as tf.TensorInfo));
        assertClose(actual, expected, 'dW');
      });
    }
  }
});

// ---------------------------------------------------------------- depthwise kernels

interface DepthwiseCase {
  x: Shape4D; f: [number, number]; m: number; s: number | [number, number]; pad: Pad;
  d?: number | [number, number]; round?: Rounding;
}

const DEPTHWISE_CASES: DepthwiseCase[] = [
  { x: [1, 7, 7, 3], f: [3, 3], m: 1, s: 1, pad: 'same' },
  { x: [2, 8, 8, 8], f: [3, 3], m: 2, s: 2, pad: 'same' },
  { x: [1, 9, 9, 16], f: [3, 3], m: 1, s: 2, pad: 'same' },
  { x: [2, 10, 7, 3], f: [5, 5], m: 3, s: 3, pad: 'valid' },
  { x: [1, 6, 9, 1], f: [2, 3], m: 1, s: [1, 2], pad: 'same' },
  { x: [1, 11, 11, 3], f: [7, 7], m: 2, s: 2, pad: 'same' },
  { x: [1, 5, 5, 8], f: [1, 1], m: 2, s: 1, pad: 'valid' },
  { x: [2, 6, 6, 3], f: [1, 1], m: 1, s: 2, pad: 'valid' },
  { x: [1, 8, 7, 3], f: [3, 3], m: 1, s: [2, 3], pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
  { x: [1, 6, 6, 2], f: [2, 2], m: 2, s: 1, pad: [[0, 0], [3, 0], [1, 4], [0, 0]] }, // pad > filter
  { x: [1, 8, 8, 3], f: [3, 3], m: 1, s: 2, pad: 1, round: 'ceil' },
  { x: [1, 9, 8, 3], f: [3, 2], m: 2, s: 2, pad: 2, round: 'round' },
  { x: [1, 9, 9, 3], f: [3, 3], m: 1, s: 1, pad: 'same', d: 2 },
  { x: [2, 10, 8, 3], f: [3, 3], m: 2, s: 1, pad: 'valid', d: [2, 3] },
  { x: [1, 9, 9, 8], f: [2, 3], m: 1, s: 1, pad: [[0, 0], [1, 2], [2, 0], [0, 0]], d: [3, 2] },
  // Stride and dilation together: the tfjs ops refuse it, the kernels need not.
  { x: [1, 12, 11, 3], f: [3, 2], m: 2, s: 2, pad: 'same', d: [2, 3] },
];

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

/** The dilated filter written out with zeros between taps: a dilation-1 filter of the same reach. */
function dilatedFilter(w: Float32Array, c: DepthwiseCase, channels: number): { data: Float32Array; shape: Shape4D } {
  const [dh, dw] = pair(c.d ?? 1);
  const [fh, fw] = c.f;
  const shape: Shape4D = [(fh - 1) * dh + 1, (fw - 1) * dw + 1, channels, c.m];
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const tap = channels * c.m;
  for (let i = 0; i < fh; i++) {
    for (let j = 0; j < fw; j++) {
      data.set(w.subarray((i * fw + j) * tap, (i * fw + j + 1) * tap), (i * dh * shape[1] + j * dw) * tap);
    }
  }
  return { data, shape };
}

test('Depthwise backprop kernels match cpu', async (t) => {
  for (const [i, c] of DEPTHWISE_CASES.entries()) {
    await t.test(describe(c), async () => {
      const channels = c.x[3];
      const fShape: Shape4D = [c.f[0], c.f[1], channels, c.m];
      const d = c.d ?? 1;
      const stridedAndDilated = Math.max(...pair(c.s)) > 1 && Math.max(...pair(d)) > 1;
      const yShape = stridedAndDilated
        ? tf.backend_util.computeConv2DInfo(c.x, fShape, c.s, d, c.pad, c.round, true).outShape
        : await outShape(() => tf.depthwiseConv2d(
          tf.zeros(c.x) as tf.Tensor4D, tf.zeros(fShape) as tf.Tensor4D, c.s, c.pad, 'NHWC', d, c.round));
      const xData = values(c.x, i);
      const wData = values(fShape, 200 + i);
      const dyData = values(yShape, 300 + i);
      const attrs = { strides: c.s, pad: c.pad, dimRoundingMode: c.round };
      const run = (name: string, inputs: tf.NamedTensorMap, extra: object, dilations: number | [number, number]) =>
        tf.engine().runKernel(name, inputs, { ...attrs, ...extra, dilations } as never) as tf.Tensor;

      // The cpu backprop kernels ignore dilations, so dilated references use the zero-filled
      // filter at dilation 1, which has the same geometry and the same math.
      const dilated = dilatedFilter(wData, c, channels);
      const inputGrad = (dilations: number | [number, number], w: { data: Float32Array; shape: Shape4D }) => () =>
        run('DepthwiseConv2dNativeBackpropInput', { dy: tf.tensor(dyData, yShape), filter: tf.tensor(w.data, w.shape) },
          { inputShape: c.x }, dilations);
      await compare('dx', inputGrad(d, { data: wData, shape: fShape }), inputGrad(1, dilated));

      const [dh, dw] = pair(d);
      const filterGrad = (dilations: number | [number, number], shape: Shape4D) => () =>
        run('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor(xData, c.x), dy: tf.tensor(dyData, yShape) },
          { filterShape: shape }, dilations);
      const referenceFilterGrad = () => tf.stridedSlice(filterGrad(1, dilated.shape)(), [0, 0, 0, 0],
        dilated.shape, [dh, dw, 1, 1]);
      await compare('dW', filterGrad(d, fShape), referenceFilterGrad);
    });
  }
});

// ---------------------------------------------------------------- UnsortedSegmentSum

test('UnsortedSegmentSum matches cpu', async (t) => {
  const cases: { x: number[]; ids: number[]; n: number; dtype?: 'int32' }[] = [
    { x: [6, 3], ids: [0, 2, 2, 1, 0, 3], n: 4 },
    { x: [6], ids: [3, 3, 0, 1, 1, 1], n: 5 }, // rank 1, empty segments
    { x: [5, 2, 3], ids: [1, 0, 1, 1, 0], n: 2 },
    { x: [7, 4], ids: [0, -1, 2, 9, 2, 3, -5], n: 4 }, // out-of-range ids are dropped
    { x: [64, 16], ids: Array.from({ length: 64 }, (_, k) => (k * 37) % 11), n: 11 },
    { x: [6, 2], ids: [0, 1, 1, 2, 0, 2], n: 3, dtype: 'int32' },
  ];
  await t.test('float ids through runKernel: non-integers are dropped', () => compare('segments', () =>
    tf.engine().runKernel('UnsortedSegmentSum', { x: tf.tensor(values([5, 2], 9), [5, 2]),
      segmentIds: tf.tensor1d([0, 1.5, 2, 1, -1]) }, { numSegments: 3 }) as tf.Tensor));
  for (const [i, c] of cases.entries()) {
    await t.test(describe(c), async () => {
      const data = c.dtype === 'int32' ? Int32Array.from(values(c.x, i), (v) => Math.round(v * 50)) : values(c.x, i);
      await compare('segments', () => tf.unsortedSegmentSum(
        tf.tensor(data, c.x, c.dtype), tf.tensor1d(c.ids, 'int32'), c.n));
    });
  }
});

// ---------------------------------------------------------------- end-to-end gradients

/** Gradients of Σ f(x, w) · r (random r, so no gradient is trivially symmetric) w.r.t. all args. */
function gradsOf(f: (...args: tf.Tensor[]) => tf.Tensor, args: { data: Float32Array; shape: number[] }[], seed: number) {
  return () => {
    const tensors = args.map((a) => tf.tensor(a.data, a.shape));
    const loss = (...ts: tf.Tensor[]) => {
      const y = f(...ts);
      return tf.sum(tf.mul(y, tf.tensor(values(y.shape, seed), y.shape)));
    };
    return tf.grads(loss)(tensors);
  };
}

function arg(shape: number[], seed: number) {
  return { data: values(shape, seed), shape };
}

test('tf.grads of conv2d, depthwiseConv2d and their fused forms match cpu', async (t) => {
  const convs: { x: Shape4D; f: Shape4D; s: number; pad: 'same' | 'valid' }[] = [
    { x: [2, 8, 8, 3], f: [3, 3, 3, 8], s: 2, pad: 'same' },
    { x: [1, 9, 7, 8], f: [1, 1, 8, 16], s: 1, pad: 'valid' },
    { x: [1, 10, 10, 16], f: [5, 5, 16, 3], s: 3, pad: 'same' },
  ];
  for (const [i, c] of convs.entries()) {
    const x = arg(c.x, i);
    const w = arg(c.f, 10 + i);
    const b = arg([c.f[3]], 20 + i);
    await t.test(`conv2d ${describe(c)}`, () => compare('grads', gradsOf(
      (xt, wt) => tf.conv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, c.s, c.pad), [x, w], 30 + i)));
    await t.test(`fused.conv2d bias+relu ${describe(c)}`, () => compare('grads', gradsOf(
      (xt, wt, bt) => tf.fused.conv2d({ x: xt as tf.Tensor4D, filter: wt as tf.Tensor4D, strides: c.s, pad: c.pad,
        bias: bt, activation: 'relu' }), [x, w, b], 40 + i)));
  }
  const depthwise: { x: Shape4D; f: Shape4D; s: number; pad: 'same' | 'valid' }[] = [
    { x: [2, 8, 8, 8], f: [3, 3, 8, 1], s: 1, pad: 'same' },
    { x: [1, 9, 9, 3], f: [3, 3, 3, 2], s: 2, pad: 'same' },
    { x: [1, 11, 8, 16], f: [5, 5, 16, 1], s: 2, pad: 'valid' },
  ];
  for (const [i, c] of depthwise.entries()) {
    const x = arg(c.x, 50 + i);
    const w = arg(c.f, 60 + i);
    const b = arg([c.f[2] * c.f[3]], 70 + i);
    await t.test(`depthwiseConv2d ${describe(c)}`, () => compare('grads', gradsOf(
      (xt, wt) => tf.depthwiseConv2d(xt as tf.Tensor4D, wt as tf.Tensor4D, c.s, c.pad), [x, w], 80 + i)));
    await t.test(`fused.depthwiseConv2d bias+relu ${describe(c)}`, () => compare('grads', gradsOf(
      (xt, wt, bt) => tf.fused.depthwiseConv2d({ x: xt as tf.Tensor4D, filter: wt as tf.Tensor4D, strides: c.s,
        pad: c.pad, bias: bt, activation: 'relu' }), [x, w, b], 90 + i)));
  }
});

test('tf.grad of gather matches cpu', async (t) => {
  const cases = [
    { x: [10, 4], indices: [3, 1, 3, 9, 0, 3], axis: 0 },
    { x: [3, 7, 2], indices: [6, 0, 6, 2], axis: 1 },
    { x: [5, 6], indices: [[1, 5], [5, 5]], axis: 1 },
  ];
  for (const [i, c] of cases.entries()) {
    await t.test(describe(c), () => compare('grad', () => {
      const indices = tf.tensor(c.indices, undefined, 'int32');
      const loss = (x: tf.Tensor) => {
        const y = tf.gather(x, indices, c.axis);
        return tf.sum(tf.mul(y, tf.tensor(values(y.shape, 100 + i), y.shape)));
      };
      return tf.grad(loss)(tf.tensor(values(c.x, i), c.x));
    }));
  }
});

test('a tfjs-layers training step on wasm updates the weights as on cpu', async () => {
  const build = () => tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [12, 12, 3], filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu' }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
  const step = (backend: Backend) => async (): Promise<Result[]> => {
    await tf.setBackend(backend);
    const model = build();
    const initial = model.getWeights().map((w, k) => tf.tensor(values(w.shape, 500 + k), w.shape));
    model.setWeights(initial);
    model.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
    const xs = tf.tensor(values([4, 12, 12, 3], 7), [4, 12, 12, 3]);
    const ys = tf.oneHot(tf.tensor1d([0, 2, 1, 2], 'int32'), 3);
    await model.fit(xs, ys, { epochs: 1, batchSize: 4, shuffle: false, verbose: 0 });
    // Compare the updates (new − old = −lr·grad), not the weights, so gradients are what is tested.
    const deltas = tf.tidy(() => model.getWeights().map((w, k) => tf.sub(w, initial[k])));
    const out = deltas.map((d) => ({ shape: d.shape, data: d.dataSync() as Float32Array }));
    tf.dispose([...deltas, ...initial, xs, ys]);
    model.dispose();
    return out;
  };
  assertClose(await step('wasm')(), await step('cpu')(), 'weight updates');
});

// ---------------------------------------------------------------- memory

function wasmDataIds(): number {
  return tf.engine().findBackend('wasm')!.numDataIds();
}

test('gradient computations leak no tensors or wasm buffers', async () => {
  await tf.setBackend('wasm');
  const x = tf.tensor(values([2, 9, 9, 8], 1), [2, 9, 9, 8]) as tf.Tensor4D;
  const w = tf.tensor(values([3, 3, 8, 4], 2), [3, 3, 8, 4]) as tf.Tensor4D;
  const dw = tf.tensor(values([3, 3, 8, 2], 3), [3, 3, 8, 2]) as tf.Tensor4D;
  const bias = tf.tensor(values([4], 4), [4]);
  const table = tf.tensor(values([10, 4], 5), [10, 4]);
  const ids = tf.tensor1d([1, 1, 7, -1, 12], 'int32'); // out-of-range ids take the spare-row path
  const everything = () => {
    const grads = tf.tidy(() => [
      ...tf.grads((a, b) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')))([x, w]),
      ...tf.grads((a, b) => tf.sum(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')))([x, dw]),
      ...tf.grads((a, b, c) => tf.sum(tf.fused.conv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D,
        strides: 1, pad: 'valid', bias: c, activation: 'relu' })))([x, w, bias]),
      tf.grad((a) => tf.sum(tf.gather(a, tf.tensor1d([3, 3, 0], 'int32'))))(table),
      tf.unsortedSegmentSum(tf.slice(table, [0, 0], [5, 4]), ids, 8),
    ]);
    grads.forEach((g) => g.dataSync());
    tf.dispose(grads);
  };
  everything(); // first run may allocate lazily-created state
  const tensorsBefore = tf.memory().numTensors;
  const bytesBefore = tf.memory().numBytes;
  const idsBefore = wasmDataIds();
  for (let i = 0; i < 3; i++) everything();
  assert.equal(tf.memory().numTensors, tensorsBefore, 'numTensors');
  assert.equal(tf.memory().numBytes, bytesBefore, 'numBytes');
  assert.equal(wasmDataIds(), idsBefore, 'wasm backend buffers');
  tf.dispose([x, w, dw, bias, table, ids]);
});

test('a kernel that throws midway frees its intermediates', async () => {
  await tf.setBackend('wasm');
  const x = tf.tensor(values([1, 6, 6, 3], 1), [1, 6, 6, 3]);
  const dy = tf.tensor(values([1, 6, 6, 4], 2), [1, 6, 6, 4]);
  const idsBefore = wasmDataIds();
  const tensorsBefore = tf.memory().numTensors;
  // dy has 4 channels but the filter claims 5: the kernel fails after making its patch matrix.
  assert.throws(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
    { filterShape: [3, 3, 3, 5], strides: 1, pad: 'same', dataFormat: 'NHWC' } as never));
  assert.equal(wasmDataIds(), idsBefore, 'wasm backend buffers');
  assert.equal(tf.memory().numTensors, tensorsBefore, 'numTensors');
  tf.dispose([x, dy]);
});

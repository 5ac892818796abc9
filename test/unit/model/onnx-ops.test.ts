/**
 * The ONNX operator library against onnxruntime: every case of test/fixtures/onnx-ops/cases.json
 * (single-node models run by onnxruntime, made by make_cases.py there) runs through ONNX_OPS on
 * the cpu backend, in logical layout and, where the op offers one, in NHWC; gradients of the
 * differentiable ops are checked against finite differences; Conv and the pools also run on wasm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { assertClose, seededArray, useBackend } from '../../helpers/tf-test';
import { ONNX_OPS } from '../../../src/extension/model/formats/onnx/ops';
import type { Attrs, AttrValue, OpContext, OpDef } from '../../../src/extension/model/formats/onnx/ops/op-types';
import { UserError } from '../../../src/shared/errors';

const ROOT = path.resolve(__dirname, '../../../..');

interface TensorJson { dtype: 'float32' | 'int64' | 'bool'; shape: number[]; values: number[] }
type AttrJson =
  | { type: 'int' | 'float'; value: number }
  | { type: 'ints' | 'floats'; value: number[] }
  | { type: 'string'; value: string }
  | ({ type: 'tensor' } & TensorJson);
interface Case {
  name: string;
  op: string;
  opset: number;
  attrs: Record<string, AttrJson>;
  inputs: (TensorJson | null)[];
  outputs: TensorJson[];
}

const CASES: Case[] = (JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'onnx-ops', 'cases.json'), 'utf8')) as { cases: Case[] }).cases;

const TO_NHWC = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];

function tfDtype(d: TensorJson['dtype']): tf.DataType {
  return d === 'float32' ? 'float32' : d === 'bool' ? 'bool' : 'int32';
}

function makeTensor(t: TensorJson): tf.Tensor {
  return tf.tensor(t.values, t.shape, tfDtype(t.dtype));
}

/** Decodes attributes the way the runtime does: numbers, number lists, strings, tensors. */
function decodeAttrs(c: Case): Attrs {
  const out: Record<string, AttrValue> = {};
  for (const [k, a] of Object.entries(c.attrs)) out[k] = a.type === 'tensor' ? makeTensor(a) : a.value;
  return out;
}

function ctxOf(c: Case): OpContext {
  return { opset: c.opset, node: c.name, numOutputs: c.outputs.length };
}

interface Got { shape: number[]; dtype: tf.DataType; values: number[] }

function read(t: tf.Tensor): Got {
  return { shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync(), Number) };
}

function compare(c: Case, got: Got[], tol: number, how: string): void {
  assert.ok(got.length >= c.outputs.length, `${how}: ${got.length} outputs, expected ${c.outputs.length}`);
  c.outputs.forEach((e, i) => {
    const g = got[i];
    assert.deepEqual(g.shape, e.shape, `${how} output ${i}: shape`);
    assert.equal(g.dtype, tfDtype(e.dtype), `${how} output ${i}: dtype`);
    if (e.dtype === 'float32') assertClose(g.values, e.values, tol, `${how} output ${i}`);
    else assert.deepEqual(g.values, e.values, `${how} output ${i}: values`);
  });
}

/** Runs f inside tf.tidy, reads its outputs, and asserts no tensor outlives the tidy. */
function runTidy(f: () => tf.Tensor[]): Got[] {
  const before = tf.memory().numTensors;
  let got: Got[] = [];
  tf.tidy(() => {
    got = f().map(read);
  });
  assert.equal(tf.memory().numTensors, before, 'tf.memory().numTensors changed');
  return got;
}

function hasLayoutVariant(def: OpDef, inputs: (tf.Tensor | undefined)[]): boolean {
  return (def.elementwise === true || def.nhwc !== undefined) && inputs.some((t) => t?.rank === 4);
}

/** Runs the op the way the runtime does on NHWC-held tensors and maps the outputs back. */
function runNhwc(def: OpDef, inputs: (tf.Tensor | undefined)[], attrs: Attrs, ctx: OpContext): tf.Tensor[] | undefined {
  if (def.elementwise) {
    const rank = Math.max(...inputs.map((t) => t?.rank ?? 0));
    const lifted = inputs.map((t) => (t === undefined ? t : tf.transpose(tf.reshape(t, [...new Array<number>(rank - t.rank).fill(1), ...t.shape]), TO_NHWC)));
    return def.run(lifted, attrs, ctx).map((o) => (o.rank === 4 ? tf.transpose(o, TO_NCHW) : o));
  }
  const flags = inputs.map((t) => t?.rank === 4);
  const permuted = inputs.map((t, i) => (t !== undefined && flags[i] ? tf.transpose(t, TO_NHWC) : t));
  const r = def.nhwc?.(permuted, flags, attrs, ctx);
  if (r === undefined) return undefined;
  return r.outputs.map((o, i) => (r.nhwc[i] ? tf.transpose(o, TO_NCHW) : o));
}

/** Cases whose NHWC variant may decline: an axis it cannot remap, or a reduction that drops the rank. */
const MAY_DECLINE = new Set(['Softmax opset 11 axis 2', 'LogSoftmax opset 11 axis 2', 'Softmax opset 13 default axis', 'LogSoftmax opset 13 default axis']);
function mayDecline(c: Case): boolean {
  const keepdims = c.attrs.keepdims;
  return MAY_DECLINE.has(c.name) || (c.op.startsWith('Reduce') && keepdims?.type === 'int' && keepdims.value === 0);
}

interface CheckCounts { cases: number; nhwc: number }

function checkCase(c: Case, tol: number, counts: CheckCounts): void {
  const def = ONNX_OPS[c.op];
  assert.ok(def, `no op ${c.op}`);
  const inputs = c.inputs.map((t) => (t === null ? undefined : makeTensor(t)));
  const attrs = decodeAttrs(c);
  const ctx = ctxOf(c);
  try {
    compare(c, runTidy(() => def.run(inputs, attrs, ctx)), tol, 'run');
    counts.cases++;
    if (hasLayoutVariant(def, inputs)) {
      let declined = false;
      const got = runTidy(() => {
        const outs = runNhwc(def, inputs, attrs, ctx);
        declined = outs === undefined;
        return outs ?? [];
      });
      if (declined) assert.ok(mayDecline(c), 'the NHWC variant declined');
      else {
        compare(c, got, tol, 'nhwc');
        counts.nhwc++;
      }
    }
  } finally {
    tf.dispose(inputs.filter((t): t is tf.Tensor => t !== undefined));
    tf.dispose(Object.values(attrs).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
  }
}

/** Which inputs of a gradient case to differentiate (default: input 0). */
const GRADIENT_CASES: Record<string, number[]> = {
  'Conv pads bias': [0, 1, 2],
  'Conv depthwise': [0, 1, 2],
  'Conv depthwise dilation 2': [0, 1],
  'Conv stride and dilation': [0, 1],
  'Conv group 2': [0, 1],
  'ConvTranspose stride 2': [0, 1, 2],
  'BatchNormalization 4-D': [0, 1, 2],
  'MaxPool k3 s2 p1': [0],
  'MaxPool ceil_mode': [0],
  'AveragePool exclude pad': [0],
  'AveragePool ceil_mode include pad': [0],
  'GlobalAveragePool': [0],
  'Resize linear half_pixel odd scales': [0],
  'Resize linear align_corners x2': [0],
  'Gelu exact': [0],
  'Erf': [0],
  'LayerNormalization last axis': [0, 1, 2],
  'Softmax opset 13 axis 1': [0],
  'LogSoftmax opset 11 axis 1 (2-D coercion)': [0],
  'Slice negative step and clamp': [0],
  'Slice steps 2': [0],
  'Gather scalar index': [0],
  'Gather axis 1 negative': [0],
  'Pad constant value': [0],
  'Pad reflect': [0],
  'Pad edge': [0],
  'Gemm transB alpha beta': [0, 1, 2],
  'MatMul broadcast batch': [0, 1],
  'MatMul 1-D left': [0, 1],
  'HardSwish': [0],
  'Where broadcast': [1, 2],
  'Max three inputs': [0, 1, 2],
  'ScatterND slices': [0, 2],
  'ScatterND rows negative indices': [0, 2],
  'ScatterND 4-D channel slices': [0, 2],
  'ScatterND add duplicates': [0, 2],
  'ScatterND mul duplicates': [0, 2],
  'ScatterND max duplicates': [0, 2],
  'ScatterND min duplicates': [0, 2],
};

/** Checks tf.grads of Σ w·y against central finite differences at a few entries per input. */
function checkGradient(c: Case, which: number[]): void {
  const def = ONNX_OPS[c.op];
  const inputs = c.inputs.map((t) => (t === null ? undefined : makeTensor(t)));
  const attrs = decodeAttrs(c);
  const ctx = ctxOf(c);
  const weight = tf.tensor(seededArray(c.outputs[0].values.length, 7), c.outputs[0].shape);
  const loss = (...xs: tf.Tensor[]): tf.Scalar => {
    const all = inputs.map((t, i) => (which.includes(i) ? xs[which.indexOf(i)] : t));
    return tf.sum(tf.mul(def.run(all, attrs, ctx)[0], weight));
  };
  try {
    const params = which.map((i) => inputs[i] as tf.Tensor);
    const before = tf.memory().numTensors;
    const grads = tf.tidy(() => tf.grads(loss)(params).map((g) => Array.from(g.dataSync())));
    assert.equal(tf.memory().numTensors, before, 'gradient leaked tensors');
    which.forEach((inputIndex, k) => {
      const base = Float32Array.from(params[k].dataSync());
      const picks = new Set<number>();
      const noise = seededArray(6, inputIndex + 11);
      for (const r of noise) picks.add(Math.floor(((r + 1) / 2) * base.length));
      for (const j of picks) {
        const eps = c.op === 'MaxPool' ? 1e-3 : 1e-2; // MaxPool: neighbours may lie within 1e-2
        const f = (delta: number): number => tf.tidy(() => {
          const v = Float32Array.from(base);
          v[j] += delta;
          const xs = params.map((p, m) => (m === k ? tf.tensor(v, p.shape) : p));
          return loss(...xs).dataSync()[0];
        });
        const fd = (f(eps) - f(-eps)) / (2 * eps);
        const g = grads[k][j];
        assert.ok(Math.abs(g - fd) <= 2e-3 + 2e-2 * Math.abs(fd), `d/d input ${inputIndex}[${j}]: gradient ${g} vs finite difference ${fd}`);
      }
    });
  } finally {
    tf.dispose([weight, ...inputs.filter((t): t is tf.Tensor => t !== undefined)]);
    tf.dispose(Object.values(attrs).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
  }
}

test('onnxruntime cases on cpu (logical and NHWC)', async (t) => {
  await useBackend('cpu');
  const counts: CheckCounts = { cases: 0, nhwc: 0 };
  for (const c of CASES) await t.test(`${c.name} (opset ${c.opset})`, () => checkCase(c, 2e-5, counts));
  assert.equal(counts.cases, CASES.length);
  assert.ok(counts.nhwc > 100, `only ${counts.nhwc} NHWC checks ran`);
});

test('every op in the table has an onnxruntime case', () => {
  const covered = new Set(CASES.map((c) => c.op));
  assert.deepEqual(Object.keys(ONNX_OPS).filter((op) => !covered.has(op)), []);
});

test('elementwise ops are marked, layout-sensitive ones are not', () => {
  for (const op of ['Relu', 'Add', 'Mul', 'Sigmoid', 'HardSwish', 'Clip', 'Where', 'Gelu', 'Erf', 'Div', 'Sqrt', 'Pow', 'Sub']) {
    assert.equal(ONNX_OPS[op].elementwise, true, op);
  }
  for (const op of ['Flatten', 'Reshape', 'Transpose', 'Gather', 'Slice', 'Softmax', 'MatMul', 'Gemm', 'Shape']) {
    assert.notEqual(ONNX_OPS[op].elementwise, true, op);
  }
  for (const op of ['Conv', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'BatchNormalization', 'Concat', 'Softmax', 'ReduceMean', 'ReduceSum', 'ReduceMax', 'Resize', 'Pad']) {
    assert.ok(ONNX_OPS[op].nhwc, `${op} has an NHWC variant`);
  }
  assert.equal(ONNX_OPS.Flatten.nhwc, undefined);
});

test('gradients match finite differences on cpu', async (t) => {
  await useBackend('cpu');
  for (const [name, which] of Object.entries(GRADIENT_CASES)) {
    const c = CASES.find((k) => k.name === name);
    assert.ok(c, `no case ${name}`);
    await t.test(name, () => checkGradient(c, which));
  }
});

test('unsupported attribute values are UserErrors naming the node', async () => {
  await useBackend('cpu');
  const x = tf.zeros([1, 1, 2, 2]);
  const scales = tf.tensor1d([1, 1, 2, 2]);
  assert.throws(
    () => ONNX_OPS.Resize.run([x, undefined, scales], { mode: 'bicubic' }, { opset: 13, node: 'up1' }),
    (e: unknown) => e instanceof UserError && /Resize/.test(e.message) && /up1/.test(e.message) && /bicubic/.test(e.message),
  );
  assert.throws(
    () => ONNX_OPS.BatchNormalization.run([x, x, x, x, x], { training_mode: 1 }, { opset: 15, node: 'bn' }),
    (e: unknown) => e instanceof UserError && /bn/.test(e.message),
  );
  tf.dispose([x, scales]);
});

test('ScatterND gradients: data gets dy but where replaced, updates get dy at their indices', async () => {
  await useBackend('cpu');
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const data = tf.tensor(seededArray(4 * 3 * 2, 1), [4, 3, 2]);
    const indices = tf.tensor2d([[2, 1], [0, 0], [-1, 2], [2, -2]], [4, 2], 'int32');
    const updates = tf.tensor(seededArray(4 * 2, 2), [4, 2]);
    const w = tf.tensor(seededArray(4 * 3 * 2, 3), [4, 3, 2]);
    const wv = w.arraySync() as number[][][];
    const run = (reduction: string) => (d: tf.Tensor, u: tf.Tensor): tf.Scalar =>
      tf.sum(tf.mul(ONNX_OPS.ScatterND.run([d, indices, u], { reduction }, { opset: 18, node: 'sc' })[0], w));
    // [2, 1] appears twice (as [2, -2]): none keeps the last update there, add takes both.
    const slotsOf = [[2, 1], [0, 0], [3, 2], [2, 1]];
    // + 0 turns the -0 of dy·0 into 0.
    const rows = (g: tf.Tensor): number[][] => (g.arraySync() as number[][]).map((r) => r.map((v) => v + 0));
    const [gdNone, guNone] = tf.grads(run('none'))([data, updates]);
    const gd = gdNone.arraySync() as number[][][];
    const replaced = new Set(slotsOf.map(([a, b]) => `${a},${b}`));
    for (let a = 0; a < 4; a++) for (let b = 0; b < 3; b++) for (let c = 0; c < 2; c++) {
      assert.equal(gd[a][b][c] + 0, replaced.has(`${a},${b}`) ? 0 : wv[a][b][c], `none: d data[${a},${b},${c}]`);
    }
    slotsOf.forEach(([a, b], r) => {
      const expected = r === 0 ? [0, 0] : wv[a][b]; // row 0 is overwritten by row 3
      assert.deepEqual(rows(guNone)[r], expected, `none: d updates[${r}]`);
    });
    const [gdAdd, guAdd] = tf.grads(run('add'))([data, updates]);
    assert.deepEqual(gdAdd.arraySync(), wv, 'add: d data = dy');
    slotsOf.forEach(([a, b], r) => assert.deepEqual(rows(guAdd)[r], wv[a][b], `add: d updates[${r}]`));
    return [];
  });
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
});

test('ScatterND rejects out-of-range indices and unknown reductions, naming the node', async () => {
  await useBackend('cpu');
  const data = tf.zeros([3, 2]);
  const updates = tf.zeros([1, 2]);
  const bad = tf.tensor2d([[3]], [1, 1], 'int32');
  const ok = tf.tensor2d([[-3]], [1, 1], 'int32');
  assert.throws(
    () => ONNX_OPS.ScatterND.run([data, bad, updates], {}, { opset: 13, node: 'mask_fill' }),
    (e: unknown) => e instanceof UserError && /ScatterND/.test(e.message) && /mask_fill/.test(e.message) && /out of range/.test(e.message),
  );
  assert.throws(
    () => ONNX_OPS.ScatterND.run([data, ok, updates], { reduction: 'avg' }, { opset: 18, node: 'sc' }),
    (e: unknown) => e instanceof UserError && /avg/.test(e.message),
  );
  tf.dispose([data, updates, bad, ok]);
});

/** Clip's gradient is tfjs' clipByValue gradient exactly: dy where min ≤ x ≤ max, bounds included. */
async function checkClipGradient(backend: 'cpu' | 'wasm'): Promise<void> {
  await useBackend(backend);
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const x = tf.tensor4d([-1, 0, 1e-30, 3, 6, 6.5, -0, 5.999999, 6.000001, -1e-30, 2, 7], [1, 2, 2, 3]);
    const dy = tf.tensor4d([1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12], [1, 2, 2, 3]);
    const lo = tf.tensor([0], [1, 1, 1, 1]);
    const hi = tf.tensor([6], [1, 1, 1, 1]);
    const ours = tf.grad((t: tf.Tensor) => ONNX_OPS.Clip.run([t, lo, hi], {}, { opset: 13, node: 'relu6' })[0])(x, dy);
    const tfjs = tf.grad((t: tf.Tensor) => tf.clipByValue(t, 0, 6))(x, dy);
    assert.deepEqual(Array.from(ours.dataSync(), (v) => v + 0), Array.from(tfjs.dataSync(), (v) => v + 0), `${backend}: Clip gradient`);
    assert.deepEqual(Array.from(ours.dataSync(), (v) => v + 0), [0, -2, 3, -4, 5, 0, 7, -8, 0, 0, 11, 0], `${backend}: bounds included`);
    return [];
  });
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
}

test('Clip gradient equals tfjs clipByValue gradient at and between the bounds (cpu and wasm)', async () => {
  try {
    await checkClipGradient('cpu');
    await checkClipGradient('wasm');
  } finally {
    await useBackend('cpu');
  }
});

const WASM_OPS = new Set(['Conv', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'ScatterND']);

test('Conv, the pools and ScatterND on wasm', async (t) => {
  await useBackend('wasm');
  try {
    const counts: CheckCounts = { cases: 0, nhwc: 0 };
    const cases = CASES.filter((c) => WASM_OPS.has(c.op));
    for (const c of cases) await t.test(`${c.name} (opset ${c.opset})`, () => checkCase(c, 1e-4, counts));
    assert.equal(counts.cases, cases.length);
    for (const [name, which] of Object.entries(GRADIENT_CASES)) {
      const c = CASES.find((k) => k.name === name);
      if (c && WASM_OPS.has(c.op)) await t.test(`gradient: ${name}`, () => checkGradient(c, which));
    }
  } finally {
    await useBackend('cpu');
  }
});

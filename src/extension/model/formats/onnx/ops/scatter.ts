/**
 * ScatterND (opset 11–18, `reduction` none / add / mul / max / min), differentiable: the gradient
 * reaches `data` (everywhere but the replaced entries when reduction is none) and `updates`
 * (dy gathered at their indices).
 *
 * The indices are read as numbers (like shapes, they are never differentiated). data is seen as
 * a matrix [M, S]: M = ∏ data.shape[:k] slots, each a slice of S = ∏ data.shape[k:] entries, where
 * k is the length of an index tuple; updates as [N, S], one row per tuple. Duplicate indices:
 * reduction none keeps the last update of a slot (what onnxruntime and the ONNX reference do,
 * the order being undefined by the spec); add sums them (tf.scatterND sums duplicates on every
 * backend); mul, max and min apply them one after the other, in passes whose slots are distinct.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OpDef, OpTable } from './op-types';
import { attrStr, ints, need, opError, size } from './util';

type Reduction = 'none' | 'add' | 'mul' | 'max' | 'min';
const REDUCTIONS: readonly Reduction[] = ['none', 'add', 'mul', 'max', 'min'];

/** One pass: update rows `rows` go to slots `slots` (distinct within the pass, but for add). */
interface Pass {
  rows: number[];
  slots: number[];
}

/**
 * A [M, S] tensor holding updates2d's ([N, S]) rows `rows` at slots `slots` (the sum of the rows
 * sent to one slot) and zeros elsewhere. Its gradient to updates2d is dy's rows at those slots
 * (zeros for the rows not taken).
 */
function scatterRows(updates2d: tf.Tensor, pass: Pass, [m, n, s]: [number, number, number]): tf.Tensor {
  const allRows = pass.rows.length === n && pass.rows.every((r, i) => r === i);
  const place = (rowsOf: tf.Tensor): tf.Tensor => {
    const taken = allRows ? rowsOf : tf.gather(rowsOf, tf.tensor1d(pass.rows, 'int32'));
    return tf.scatterND(tf.tensor2d(pass.slots, [pass.slots.length, 1], 'int32'), taken, [m, s]);
  };
  if (updates2d.dtype !== 'float32') return place(updates2d);
  const op = tf.customGrad(((u: tf.Tensor) => ({
    value: place(u),
    gradFunc: (dy: tf.Tensor) => {
      const atSlots = tf.gather(dy, tf.tensor1d(pass.slots, 'int32'));
      if (allRows) return atSlots;
      return tf.scatterND(tf.tensor2d(pass.rows, [pass.rows.length, 1], 'int32'), atSlots, [n, s]);
    },
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(updates2d);
}

/**
 * The passes: for none, one of the last update of each slot; for add, one of every row; else
 * passes of distinct slots, occurrence j of a slot going to pass j.
 */
function passesOf(slotOfRow: number[], reduction: Reduction): Pass[] {
  if (reduction === 'add') return [{ rows: slotOfRow.map((_, r) => r), slots: slotOfRow }];
  if (reduction === 'none') {
    // The last update of each slot wins.
    const last = new Map<number, number>();
    slotOfRow.forEach((slot, row) => last.set(slot, row));
    const rows = [...last.values()].sort((a, b) => a - b);
    return [{ rows, slots: rows.map((r) => slotOfRow[r]) }];
  }
  const passes: Pass[] = [];
  const seen = new Map<number, number>();
  slotOfRow.forEach((slot, row) => {
    const j = seen.get(slot) ?? 0;
    seen.set(slot, j + 1);
    if (passes.length <= j) passes.push({ rows: [], slots: [] });
    passes[j].rows.push(row);
    passes[j].slots.push(slot);
  });
  return passes;
}

/** A [M, S] bool tensor, true on the rows at `slots`. */
function slotMask(slots: number[], m: number, s: number): tf.Tensor {
  const v = new Uint8Array(m * s);
  for (const slot of slots) v.fill(1, slot * s, (slot + 1) * s);
  return tf.tensor2d(v, [m, s], 'bool');
}

function scatterND(data: tf.Tensor, indices: tf.Tensor, updates: tf.Tensor, reduction: Reduction, fail: (m: string) => Error): tf.Tensor {
  const k = indices.shape[indices.rank - 1];
  if (indices.rank < 1 || k > data.rank) throw fail(`index tuples of length ${k} do not fit data of rank ${data.rank}`);
  const lead = indices.shape.slice(0, -1);
  const expected = [...lead, ...data.shape.slice(k)];
  if (updates.rank !== expected.length || updates.shape.some((d, i) => d !== expected[i])) {
    throw fail(`updates have shape [${updates.shape.join(',')}], expected [${expected.join(',')}]`);
  }
  const n = size(lead);
  const m = size(data.shape.slice(0, k));
  const s = size(data.shape.slice(k));
  if (n === 0 || s === 0) return tf.clone(data);
  const idx = ints(indices);
  const slotOfRow: number[] = new Array<number>(n);
  for (let r = 0; r < n; r++) {
    let slot = 0;
    for (let a = 0; a < k; a++) {
      const dim = data.shape[a];
      let v = idx[r * k + a];
      if (v < 0) v += dim;
      if (v < 0 || v >= dim) throw fail(`index ${idx[r * k + a]} is out of range for axis ${a} of size ${dim}`);
      slot = slot * dim + v;
    }
    slotOfRow[r] = slot;
  }

  const isBool = data.dtype === 'bool';
  const d2 = tf.reshape(isBool ? tf.cast(data, 'int32') : data, [m, s]);
  const u2 = tf.reshape(isBool ? tf.cast(updates, 'int32') : updates, [n, s]);
  let out = d2;
  for (const pass of passesOf(slotOfRow, reduction)) {
    const placed = scatterRows(u2, pass, [m, n, s]);
    const mask = slotMask(pass.slots, m, s);
    switch (reduction) {
      case 'none':
        out = tf.where(mask, placed, out);
        break;
      case 'add':
        out = tf.add(out, placed);
        break;
      case 'mul':
        out = tf.mul(out, tf.where(mask, placed, tf.onesLike(placed)));
        break;
      case 'max':
        out = tf.where(mask, tf.maximum(out, placed), out);
        break;
      case 'min':
        out = tf.where(mask, tf.minimum(out, placed), out);
        break;
    }
  }
  const y = tf.reshape(out, data.shape);
  return isBool ? tf.cast(y, 'bool') : y;
}

const scatterNd: OpDef = {
  run(inputs, attrs, ctx) {
    const data = need(inputs, 0, ctx, 'ScatterND');
    const indices = need(inputs, 1, ctx, 'ScatterND');
    const updates = need(inputs, 2, ctx, 'ScatterND');
    const reduction = attrStr(attrs, 'reduction', 'none') as Reduction;
    if (!REDUCTIONS.includes(reduction)) throw opError(ctx, 'ScatterND', `reduction=${reduction} is not supported`);
    if (data.dtype === 'bool' && reduction !== 'none') throw opError(ctx, 'ScatterND', `reduction=${reduction} on bool data is not supported`);
    return [scatterND(data, indices, updates, reduction, (msg) => opError(ctx, 'ScatterND', msg))];
  },
};

export const SCATTER_OPS: OpTable = { ScatterND: scatterNd };

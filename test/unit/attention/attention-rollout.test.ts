/**
 * Attention-map math on plain arrays: rollout rows sum to 1, rollout equals a hand-written
 * matrix product, one-hot attention flows to its token, the discard rule, gradient rollout
 * (all-ones gradients and a hand-computed 3×3 case), head fusion, and the token-map helpers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuseHeads } from '../../../src/extension/attention/fuse-heads';
import { discardLowest, gradRollout, rollout } from '../../../src/extension/attention/rollout';
import { clsRow, inferPatchGrid, patchGrid, rawAttention } from '../../../src/extension/attention/token-maps';
import type { AttentionStack, HeadFusion } from '../../../src/extension/attention/types';
import { mulberry32, type Rng } from '../../../src/extension/util/seeded-random';

const FUSIONS: HeadFusion[] = ['mean', 'max', 'min'];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A row-major [heads, n, n] layer whose rows are random probability vectors. */
function randomLayer(rng: Rng, heads: number, n: number): Float32Array {
  const out = new Float32Array(heads * n * n);
  for (let r = 0; r < heads * n; r++) {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += out[r * n + j] = 0.05 + rng();
    for (let j = 0; j < n; j++) out[r * n + j] /= sum;
  }
  return out;
}

function randomStack(seed: number, layers: number, heads: number, n: number): AttentionStack {
  const rng = mulberry32(seed);
  return { layers: Array.from({ length: layers }, () => randomLayer(rng, heads, n)), heads, tokens: n };
}

function assertRowsSumToOne(r: Float64Array, n: number, what: string): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += r[i * n + j];
    assert.ok(Math.abs(s - 1) <= 1e-9, `${what}: row ${i} sums to ${s}`);
  }
}

/** Rollout without discarding, written out on nested arrays; multiplied left to right from Â_L. */
function manualRollout(stack: AttentionStack, fusion: HeadFusion): number[][] {
  const { heads, tokens: n } = stack;
  const hats = stack.layers.map((layer) => {
    const m: number[][] = [];
    for (let i = 0; i < n; i++) {
      m.push([]);
      for (let j = 0; j < n; j++) {
        const vals: number[] = [];
        for (let h = 0; h < heads; h++) vals.push(layer[(h * n + i) * n + j]);
        const f = fusion === 'mean' ? vals.reduce((a, b) => a + b, 0) / heads : fusion === 'max' ? Math.max(...vals) : Math.min(...vals);
        m[i].push((f + (i === j ? 1 : 0)) / 2);
      }
      const s = m[i].reduce((a, b) => a + b, 0);
      m[i] = m[i].map((v) => v / s);
    }
    return m;
  });
  const mul = (a: number[][], b: number[][]) => a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
  let p = hats[hats.length - 1];
  for (let l = hats.length - 2; l >= 0; l--) p = mul(p, hats[l]);
  return p;
}

test('rollout rows sum to 1 for every fusion and discard ratio', () => {
  const n = 7;
  const stack = randomStack(11, 3, 3, n);
  for (const fusion of FUSIONS) {
    for (const discardRatio of [0, 0.5, 0.9]) {
      for (const keepToken of [0, 4]) {
        const r = rollout(stack, { fusion, discardRatio, keepToken });
        assert.equal(r.length, n * n);
        assertRowsSumToOne(r, n, `${fusion} discard ${discardRatio} keep ${keepToken}`);
      }
    }
  }
});

test('rollout equals the hand-written product Â_L · … · Â_1', () => {
  const n = 5;
  for (const [seed, layers, heads] of [[1, 2, 2], [2, 3, 3], [3, 3, 2], [4, 2, 3]]) {
    const stack = randomStack(seed, layers, heads, n);
    for (const fusion of FUSIONS) {
      const want = manualRollout(stack, fusion).flat();
      const got = rollout(stack, { fusion });
      assert.ok(maxDiff(got, want) <= 1e-12, `${fusion}, ${layers} layers, ${heads} heads: diff ${maxDiff(got, want)}`);
    }
  }
});

test('the layer order matters: the last layer is on the left', () => {
  const n = 5;
  const stack = randomStack(5, 2, 2, n);
  const reversed: AttentionStack = { ...stack, layers: [...stack.layers].reverse() };
  const r = rollout(stack, { fusion: 'mean' });
  assert.ok(maxDiff(r, manualRollout(stack, 'mean').flat()) <= 1e-12);
  assert.ok(maxDiff(r, rollout(reversed, { fusion: 'mean' })) > 1e-6, 'reversing the layers should change R');
});

test('one-hot attention to token j in every layer and head: the CLS row peaks at j', () => {
  const n = 6, heads = 2, j = 3, layers = 3;
  const layer = new Float32Array(heads * n * n);
  for (let r = 0; r < heads * n; r++) layer[r * n + j] = 1;
  const stack: AttentionStack = { layers: Array.from({ length: layers }, () => layer), heads, tokens: n };
  for (const fusion of FUSIONS) {
    const r = rollout(stack, { fusion });
    // Â row 0 = 0.5·e0 + 0.5·ej and row j = ej, so row 0 of R = 0.5^L·e0 + (1 − 0.5^L)·ej.
    const want = new Float64Array(n);
    want[0] = 0.5 ** layers;
    want[j] = 1 - 0.5 ** layers;
    assert.ok(maxDiff(r.subarray(0, n), want) <= 1e-15, fusion);
    const cls = clsRow(r, n, { cls: true });
    assert.equal(cls.indexOf(Math.max(...cls)), j - 1, `${fusion}: patch row peaks at token j`);
  }
});

test('discardLowest zeroes ⌊ratio·n²⌋ lowest entries, never in column keepToken', () => {
  const n = 5;
  const rng = mulberry32(7);
  const original = Float64Array.from({ length: n * n }, () => 0.01 + rng());
  for (const keepToken of [0, 2]) {
    for (const [ratio, expected] of [[0, 0], [0.2, 5], [0.5, 12], [0.9, 20], [1, 20]]) {
      const m = Float64Array.from(original);
      assert.equal(discardLowest(m, n, ratio, keepToken), expected);
      const zeroed: number[] = [];
      const kept: number[] = [];
      for (let p = 0; p < n * n; p++) {
        if (p % n === keepToken) assert.equal(m[p], original[p], `column ${keepToken} kept`);
        else (m[p] === 0 ? zeroed : kept).push(original[p]);
        if (m[p] !== 0) assert.equal(m[p], original[p]);
      }
      assert.equal(zeroed.length, expected, `ratio ${ratio}: zero count`);
      if (zeroed.length > 0 && kept.length > 0) assert.ok(Math.max(...zeroed) < Math.min(...kept), 'the lowest are zeroed');
    }
  }
});

test('discardLowest breaks ties in flat-index order', () => {
  const m = Float64Array.from([5, 1, 1, 5, 1, 1, 5, 5, 5]);
  assert.equal(discardLowest(m, 3, 0.34, 0), 3); // ⌊0.34·9⌋ = 3 of the four 1s (none in column 0)
  assert.deepEqual(Array.from(m), [5, 0, 0, 5, 0, 1, 5, 5, 5]);
});

test('discarding in rollout: a one-layer rollout has zeros where entries were discarded', () => {
  const n = 5;
  const stack = randomStack(9, 1, 2, n);
  const r = rollout(stack, { fusion: 'mean', discardRatio: 0.5, keepToken: 1 });
  let zeros = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (r[i * n + j] === 0) zeros++;
      if (j === 1 || i === j) assert.ok(r[i * n + j] > 0, `entry ${i},${j} kept`);
    }
  }
  assert.ok(zeros > 0, 'some entries were discarded');
  // 12 discarded; those on the diagonal still get the residual 0.5, off-diagonal ones stay 0.
  const fused = fuseHeads(stack.layers[0], 2, n, 'mean');
  discardLowest(fused, n, 0.5, 1);
  let offDiagonal = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j && fused[i * n + j] === 0) offDiagonal++;
  assert.equal(zeros, offDiagonal);
});

test('a fused row that is all zero becomes an identity row', () => {
  // Head 0 looks only at token 0, head 1 only at token 1: their minimum is zero everywhere.
  const n = 3;
  const layer = new Float32Array(2 * n * n);
  for (let i = 0; i < n; i++) {
    layer[i * n + 0] = 1;
    layer[(n + i) * n + 1] = 1;
  }
  const r = rollout({ layers: [layer, layer], heads: 2, tokens: n }, { fusion: 'min' });
  assert.deepEqual(Array.from(r), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
});

test('gradRollout with all-ones gradients is exactly rollout with mean fusion', () => {
  const n = 6;
  const stack = randomStack(21, 3, 3, n);
  const ones = stack.layers.map((l) => new Float32Array(l.length).fill(1));
  for (const discardRatio of [0, 0.5, 0.9]) {
    const g = gradRollout(stack, ones, { discardRatio });
    assert.deepEqual(g, rollout(stack, { fusion: 'mean', discardRatio }));
    assertRowsSumToOne(g, n, `grad discard ${discardRatio}`);
  }
});

test('gradRollout on a hand-computed 3×3 case: mean of A⊙G over heads, then negatives clamped', () => {
  const a = Float32Array.from([
    0.5, 0.25, 0.25, 0, 1, 0, 0.5, 0.5, 0, // head 0
    1, 0, 0, 0.25, 0.25, 0.5, 0, 0, 1, // head 1
  ]);
  const g = Float32Array.from([
    2, -4, 0, 1, 1, 1, -2, 2, 0,
    1, 1, 1, 2, 0, 4, 0, 0, -1,
  ]);
  // A⊙G: head 0 [[1 −1 0] [0 1 0] [−1 1 0]], head 1 [[1 0 0] [.5 0 2] [0 0 −1]];
  // mean [[1 −.5 0] [.25 .5 1] [−.5 .5 −.5]] → clamped [[1 0 0] [.25 .5 1] [0 .5 0]];
  // (A + I)/2 = [[1 0 0] [.125 .75 .5] [0 .25 .5]] → rows / (1, 1.375, .75).
  const want = [1, 0, 0, 1 / 11, 6 / 11, 4 / 11, 0, 1 / 3, 2 / 3];
  const r = gradRollout({ layers: [a], heads: 2, tokens: 3 }, [g]);
  assert.ok(maxDiff(r, want) <= 1e-15, `got ${Array.from(r)}`);
});

test('gradRollout with zero gradients is the identity; mismatched gradients throw', () => {
  const stack = randomStack(3, 2, 2, 4);
  const zeros = stack.layers.map((l) => new Float32Array(l.length));
  const r = gradRollout(stack, zeros);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) assert.equal(r[i * 4 + j], i === j ? 1 : 0);
  assert.throws(() => gradRollout(stack, zeros.slice(1)), /2 attention layers but 1 gradient layers/);
  assert.throws(() => gradRollout(stack, [zeros[0], new Float32Array(5)]), /attention gradient 1: expected .* = 32 values, got 5/);
});

test('rollout rejects bad shapes and options', () => {
  const stack = randomStack(4, 2, 2, 4);
  assert.throws(() => rollout({ ...stack, layers: [] }, { fusion: 'mean' }), /at least one attention layer/);
  assert.throws(() => rollout({ ...stack, tokens: 5 }, { fusion: 'mean' }), /attention layer 0: expected heads·tokens·tokens = 2·5·5 = 50 values, got 32/);
  assert.throws(() => rollout(stack, { fusion: 'mean', discardRatio: 1.5 }), /discardRatio must be in \[0, 1\]/);
  assert.throws(() => rollout(stack, { fusion: 'mean', keepToken: 4 }), /keepToken must be a token index in \[0, 3\]/);
  assert.throws(() => rollout(stack, { fusion: 'median' as HeadFusion }), /unknown head fusion 'median'/);
});

test('fuseHeads: known mean, max and min', () => {
  const layer = Float32Array.from([0.25, 0.75, 1, 0, 0.75, 0.25, 0.5, 0.5]);
  assert.deepEqual(Array.from(fuseHeads(layer, 2, 2, 'mean')), [0.5, 0.5, 0.75, 0.25]);
  assert.deepEqual(Array.from(fuseHeads(layer, 2, 2, 'max')), [0.75, 0.75, 1, 0.5]);
  assert.deepEqual(Array.from(fuseHeads(layer, 2, 2, 'min')), [0.25, 0.25, 0.5, 0]);
  assert.deepEqual(Array.from(fuseHeads(layer.subarray(0, 4), 1, 2, 'mean')), [0.25, 0.75, 1, 0]);
  assert.throws(() => fuseHeads(layer, 3, 2, 'mean'), /expected heads·tokens·tokens = 3·2·2 = 12 values, got 8/);
});

test('clsRow: row 0 without its own column with a CLS token, the mean row without', () => {
  const r = Float64Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(Array.from(clsRow(r, 3, { cls: true })), [1, 2]);
  assert.deepEqual(Array.from(clsRow(r, 3, { cls: false })), [3, 4, 5]);
  assert.throws(() => clsRow(r, 4, { cls: true }), /n = 4 \(16 values\), got 9 values/);
});

test('patchGrid reshapes row-major patches and names the numbers on a mismatch', () => {
  const g = patchGrid(Float64Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
  assert.deepEqual(g, { data: Float32Array.from([1, 2, 3, 4, 5, 6]), height: 2, width: 3 });
  assert.throws(() => patchGrid(new Float64Array(5), [2, 3]), /5 patch weights do not fill a 2×3 grid, which needs 6/);
  assert.throws(() => patchGrid(new Float64Array(196), [14, 15]), /196 patch weights do not fill a 14×15 grid, which needs 210/);
});

test('inferPatchGrid: ViT token counts with and without CLS', () => {
  assert.deepEqual(inferPatchGrid(197, [224, 224]), { grid: [14, 14], cls: true });
  assert.deepEqual(inferPatchGrid(196, [224, 224]), { grid: [14, 14], cls: false }); // not 13×15 + CLS
  assert.deepEqual(inferPatchGrid(577, [384, 384]), { grid: [24, 24], cls: true });
  assert.deepEqual(inferPatchGrid(50, [32, 32]), { grid: [7, 7], cls: true });
  assert.deepEqual(inferPatchGrid(65, [32, 32]), { grid: [8, 8], cls: true });
  assert.deepEqual(inferPatchGrid(281, [224, 320]), { grid: [14, 20], cls: true });
  assert.deepEqual(inferPatchGrid(280, [224, 320]), { grid: [14, 20], cls: false });
  assert.deepEqual(inferPatchGrid(301, [250, 330]), { grid: [15, 20], cls: true }); // floor(250/16)×floor(330/16)
  assert.equal(inferPatchGrid(7, [224, 224]), undefined); // 6 = 2×3 (patches 1.5× as tall as wide), 7 prime
  assert.equal(inferPatchGrid(197, [224, 448]), undefined);
  assert.throws(() => inferPatchGrid(0, [224, 224]), /tokens must be a positive integer/);
});

test('the CLS row of a rollout goes onto the inferred grid', () => {
  const n = 17;
  const stack = randomStack(8, 2, 2, n);
  const fit = inferPatchGrid(n, [64, 64]);
  assert.deepEqual(fit, { grid: [4, 4], cls: true });
  const row = clsRow(rollout(stack, { fusion: 'mean' }), n, { cls: fit!.cls });
  const map = patchGrid(row, fit!.grid);
  assert.equal(map.data.length, 16);
  assert.equal(map.data[5], Math.fround(row[5]));
});

test('rawAttention picks the query row of one head or the fused heads', () => {
  const n = 4, heads = 3;
  const layer = Float32Array.from({ length: heads * n * n }, (_, i) => i);
  const stack: AttentionStack = { layers: [new Float32Array(heads * n * n), layer], heads, tokens: n };
  const row = (h: number, q: number) => Array.from(layer.subarray((h * n + q) * n, (h * n + q + 1) * n));
  assert.deepEqual(Array.from(rawAttention(stack, 1, 1, 2)), row(1, 2));
  assert.deepEqual(Array.from(rawAttention(stack, 1, 'max', 2)), row(2, 2));
  assert.deepEqual(Array.from(rawAttention(stack, 1, 'min', 2)), row(0, 2));
  assert.deepEqual(Array.from(rawAttention(stack, 1, 'mean', 2)), row(1, 2)); // the heads are 16 apart
  const fused = fuseHeads(layer, heads, n, 'mean');
  assert.deepEqual(rawAttention(stack, 1, 'mean', 3), fused.subarray(12, 16).slice());
  assert.deepEqual(Array.from(rawAttention(stack, 0, 0, 0)), [0, 0, 0, 0]);
  assert.throws(() => rawAttention(stack, 2, 0, 0), /layer must be in \[0, 1\], got 2/);
  assert.throws(() => rawAttention(stack, 1, 3, 0), /head must be in \[0, 2\], got 3/);
  assert.throws(() => rawAttention(stack, 1, 0, 4), /queryToken must be in \[0, 3\], got 4/);
});

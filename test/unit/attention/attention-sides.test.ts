/**
 * Which layers a rollout multiplies (sides.ts), one rule for the image maps, the token panel and
 * the CLI: per side, the self-attention layers whose queries and keys are both that side's
 * tokens. A side whose layers differ in heads or tokens gets no rollout (a warning for token
 * models, an error for an image map). And one layer's matrix for the raw token view.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import type { AttentionLayerInfo } from '../../../src/shared/attention';
import type { AttentionCapture, AttentionModel } from '../../../src/extension/attention/attention-model';
import { loadAttentionModel } from '../../../src/extension/attention/load-attention';
import { inSideRollout, layerShape, rolloutSides, sideRollouts } from '../../../src/extension/attention/sides';
import { patchSide, patchStack } from '../../../src/extension/attention/image-maps';
import { rawMatrix } from '../../../src/extension/attention/token-views';
import { fsSaveHandler } from '../../../src/extension/model/fs-io';
import { MultiHeadAttention } from '../../../src/extension/model/layers/multi-head-attention';
import { UserError } from '../../../src/shared/errors';
import { useBackend } from '../../helpers/tf-test';

const layer = (name: string, querySide: string, keySide: string, q: number, k: number, cross = querySide !== keySide, heads = 1): AttentionLayerInfo =>
  ({ name, heads, queryTokens: q, keyTokens: k, cross, querySide, keySide });

/** Row-stochastic [heads, q, k] values: row i of head h puts (h + i + 1) / s on key 0 and spreads the rest. */
function softmaxLike(heads: number, q: number, k: number): Float32Array {
  const out = new Float32Array(heads * q * k);
  for (let h = 0; h < heads; h++) for (let i = 0; i < q; i++) {
    const first = (h + i + 1) / (h + i + 2);
    for (let j = 0; j < k; j++) out[(h * q + i) * k + j] = j === 0 ? first : (1 - first) / (k - 1);
  }
  return out;
}

test('a side\'s rollout layers: self-attention with queries and keys on that side, in model order; cross-attention in none', () => {
  const layers = [
    layer('enc1', 'enc', 'enc', 3, 3),
    layer('dec1', 'dec', 'dec', 2, 2),
    layer('cross', 'dec', 'enc', 2, 3),
    // Not marked cross, yet its keys are on another side: its matrix is not over one token space.
    layer('odd', 'dec', 'enc', 2, 2, false),
    layer('enc2', 'enc', 'enc', 3, 3),
  ];
  assert.deepEqual(layers.map(inSideRollout), [true, true, false, false, true]);
  assert.deepEqual(rolloutSides(layers), [{ side: 'enc', indices: [0, 4] }, { side: 'dec', indices: [1] }]);

  const cap: AttentionCapture = { probabilities: layers.map((l) => softmaxLike(l.heads, l.queryTokens, l.keyTokens)), output: new Float32Array([1]) };
  const { rollouts, warnings } = sideRollouts({ layers }, cap, { mode: 'rollout', fusion: 'mean', discardRatio: 0 });
  assert.deepEqual(warnings, []);
  assert.deepEqual(rollouts.map((r) => [r.side, r.kind, r.layers, r.tokens]), [['enc', 'rollout', ['enc1', 'enc2'], 3], ['dec', 'rollout', ['dec1'], 2]]);
  // One layer of one head: Â = ½A + ½I (rows of A sum to 1). dec1's rows: [1/2, 1/2] and [2/3, 1/3].
  assert.deepEqual(Array.from(rollouts[1].data), [0.75, 0.25, 1 / 3, 2 / 3].map(Math.fround));
});

test('a side whose layers differ in tokens gets no rollout, with a warning; an image map refuses them', () => {
  // A graph model names every layer after its first input, whatever the tokens.
  const layers = [layer('a', 'x', 'x', 3, 3), layer('b', 'x', 'x', 2, 2), layer('c', 'y', 'y', 2, 2)];
  const cap: AttentionCapture = { probabilities: layers.map((l) => softmaxLike(1, l.queryTokens, l.keyTokens)), output: new Float32Array([1]) };
  const { rollouts, warnings } = sideRollouts({ layers }, cap, { mode: 'rollout', fusion: 'mean', discardRatio: 0 });
  assert.deepEqual(rollouts.map((r) => r.side), ['y']);
  assert.deepEqual(warnings, ['no rollout for x: its self-attention layers differ in heads or tokens (a: 1 heads over 3 tokens; b: 1 over 2×2); rollout needs them equal']);

  const image = { name: 'vit', inputs: [{ kind: 'image', name: 'x', shape: [6, 6, 3] }], layers: layers.slice(0, 2) } as unknown as AttentionModel;
  assert.deepEqual(patchSide(image), { side: 'x', indices: [0, 1] });
  assert.throws(() => patchStack(image, cap), (e: unknown) => e instanceof UserError && /^no rollout for vit: its self-attention layers differ/.test((e as Error).message));
  const crossOnly = { ...image, layers: [layer('q', 'x', 'z', 3, 4)] } as AttentionModel;
  assert.equal(patchSide(crossOnly), undefined);
});

test('layer shapes of variable-length layers come from the token counts of their sides', () => {
  const lengths = new Map([['enc', 5], ['dec', 4]]);
  assert.deepEqual(layerShape(layer('s', 'enc', 'enc', -1, -1, false, 2), 2 * 25, lengths), [5, 5]);
  assert.deepEqual(layerShape(layer('c', 'dec', 'enc', -1, -1, true, 2), 2 * 20, lengths), [4, 5]);
  assert.deepEqual(layerShape(layer('c', 'other', 'enc', -1, 5, true, 2), 2 * 20), [4, 5]);
  assert.deepEqual(layerShape(layer('s', 'other', 'other', -1, -1, false, 2), 2 * 36), [6, 6]);
  assert.throws(() => layerShape(layer('s', 'enc', 'enc', -1, -1, false, 2), 2 * 24, lengths), /cannot tell the shape of s's 48 attention values/);
});

test('the raw matrix of a layer: one head, or the mean / max / min over heads; token strings by side; clear errors', () => {
  // heads 2, queries 2 (side dec), keys 3 (side enc).
  const values = Float32Array.from([0.1, 0.2, 0.7, 0.5, 0.25, 0.25, /* head 1 */ 0.3, 0.6, 0.1, 0.5, 0.5, 0]);
  const layers = [layer('cross', 'dec', 'enc', 2, 3)];
  const strings = new Map([['enc', ['le', 'chat', 'dort']], ['dec', ['the', 'cat']]]);
  const raw = (req: Parameters<typeof rawMatrix>[5]) => rawMatrix('m', layers, [[2, 2, 3]], [values], strings, req);
  const close = (a: number[][], b: number[][]) => a.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - b[i][j]) < 1e-7, `[${i}][${j}] ${v} vs ${b[i][j]}`)));
  const mean = raw({});
  assert.equal(mean.layer, 'cross');
  assert.equal(mean.head, 'mean');
  assert.deepEqual([mean.queries, mean.keys], [['the', 'cat'], ['le', 'chat', 'dort']]);
  close(mean.matrix, [[0.2, 0.4, 0.4], [0.5, 0.375, 0.125]]);
  close(raw({ head: 'max' }).matrix, [[0.3, 0.6, 0.7], [0.5, 0.5, 0.25]]);
  close(raw({ head: 'min' }).matrix, [[0.1, 0.2, 0.1], [0.5, 0.25, 0]]);
  const one = raw({ layer: 'cross', head: 1, query: 1 });
  close(one.matrix, [[0.3, 0.6, 0.1], [0.5, 0.5, 0]]);
  assert.equal(one.query, 1);
  close([one.row!], [[0.5, 0.5, 0]]);
  assert.throws(() => raw({ layer: 'nope' }), (e: unknown) => e instanceof UserError && /nope is not an attention layer of m \(its attention layers: cross\)/.test((e as Error).message));
  assert.throws(() => raw({ head: 2 }), (e: unknown) => e instanceof UserError && /head 2 is out of range: cross has 2 heads \(0\.\.1\)/.test((e as Error).message));
  assert.throws(() => raw({ query: 2 }), (e: unknown) => e instanceof UserError && /query 2 is out of range: cross has 2 query tokens \(0\.\.1\)/.test((e as Error).message));
});

// A decoder self-attention layer after a cross-attention layer reads a tensor computed from both
// inputs, but it runs over the decoder's tokens: its side is the decoder's, and the decoder's
// rollout takes it (model/layers-attention.ts follows an attention layer's queries only).
test('a deeper decoder: every decoder self-attention layer is on the decoder side', async () => {
  await useBackend('cpu');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-attention-sides-'));
  const enc = tfl.input({ shape: [5], dtype: 'int32', name: 'encoder_ids' });
  const dec = tfl.input({ shape: [4], dtype: 'int32', name: 'decoder_ids' });
  const e = tfl.layers.embedding({ inputDim: 10, outputDim: 8, name: 'enc_embed' }).apply(enc) as tfl.SymbolicTensor;
  const d = tfl.layers.embedding({ inputDim: 10, outputDim: 8, name: 'dec_embed' }).apply(dec) as tfl.SymbolicTensor;
  const encOut = new MultiHeadAttention({ numHeads: 2, keyDim: 4, name: 'encoder_self' }).apply([e, e]) as tfl.SymbolicTensor;
  const d1 = new MultiHeadAttention({ numHeads: 2, keyDim: 4, name: 'decoder_self1' }).apply([d, d], { useCausalMask: true }) as tfl.SymbolicTensor;
  const c = new MultiHeadAttention({ numHeads: 2, keyDim: 4, name: 'cross' }).apply([d1, encOut]) as tfl.SymbolicTensor;
  const d2 = new MultiHeadAttention({ numHeads: 2, keyDim: 4, name: 'decoder_self2' }).apply([c, c], { useCausalMask: true }) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 10, activation: 'softmax', name: 'next_token' }).apply(d2) as tfl.SymbolicTensor;
  const net = tfl.model({ inputs: [enc, dec], outputs: out });
  await net.save(fsSaveHandler(dir));
  net.dispose();
  const model = await loadAttentionModel(dir);
  try {
    assert.deepEqual(rolloutSides(model.layers).map((s) => [s.side, s.indices.map((i) => model.layers[i].name)]), [
      ['encoder_ids', ['encoder_self']],
      ['decoder_ids', ['decoder_self1', 'decoder_self2']],
    ]);
  } finally {
    model.dispose();
  }
});

/**
 * The attention engine on an encoder–decoder model (two token inputs): the layers it finds, with
 * self- and cross-attention and their sides; a captured pass whose rows are softmaxes, whose
 * causal layer attends only backwards and whose cross layer is decoder × encoder; the rollout
 * per side; no class output, so no gradient target. And the tokenizer-agnostic token parser.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fsSaveHandler } from '../../../src/extension/model/fs-io';
import { MultiHeadAttention } from '../../../src/extension/model/layers/multi-head-attention';
import type { AttentionModel } from '../../../src/extension/attention/attention-model';
import { loadAttentionModel } from '../../../src/extension/attention/load-attention';
import { parseTokens } from '../../../src/extension/attention/tokens';
import { sideRollouts } from '../../../src/extension/attention/sides';
import { UserError } from '../../../src/shared/errors';
import { useBackend } from '../../helpers/tf-test';

const VOCAB = ['[PAD]', 'le', 'chat', 'dort', 'the', 'cat', 'sleeps', '<s>', 'a', 'dog', 'runs', 'un'];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-attention-engine-'));
let model: AttentionModel;

before(async () => {
  await useBackend('cpu');
  const enc = tfl.input({ shape: [5], dtype: 'int32', name: 'encoder_ids' });
  const dec = tfl.input({ shape: [4], dtype: 'int32', name: 'decoder_ids' });
  const embE = tfl.layers.embedding({ inputDim: VOCAB.length, outputDim: 8, name: 'enc_embed' }).apply(enc) as tfl.SymbolicTensor;
  const embD = tfl.layers.embedding({ inputDim: VOCAB.length, outputDim: 8, name: 'dec_embed' }).apply(dec) as tfl.SymbolicTensor;
  const selfE = new MultiHeadAttention({ numHeads: 2, keyDim: 4, name: 'encoder_self' }).apply([embE, embE]) as tfl.SymbolicTensor;
  const encOut = tfl.layers.add({ name: 'enc_add' }).apply([embE, selfE]) as tfl.SymbolicTensor;
  const selfD = new MultiHeadAttention({ numHeads: 2, keyDim: 4, name: 'decoder_self' }).apply([embD, embD], { useCausalMask: true }) as tfl.SymbolicTensor;
  const decIn = tfl.layers.add({ name: 'dec_add' }).apply([embD, selfD]) as tfl.SymbolicTensor;
  const cross = new MultiHeadAttention({ numHeads: 2, keyDim: 4, name: 'cross' }).apply([decIn, encOut]) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: VOCAB.length, activation: 'softmax', name: 'next_token' }).apply(cross) as tfl.SymbolicTensor;
  const net = tfl.model({ inputs: [enc, dec], outputs: out });
  await net.save(fsSaveHandler(dir));
  net.dispose();
  fs.writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify({ vocab: VOCAB, example: ['le chat dort', '<s> the cat'] }));
  model = await loadAttentionModel(dir);
});

test('finds encoder self-, decoder self- and cross-attention with their sides', () => {
  assert.deepEqual(model.inputs.map((x) => [x.kind, x.name]), [['tokens', 'encoder_ids'], ['tokens', 'decoder_ids']]);
  assert.deepEqual(model.layers.map((l) => [l.name, l.cross, l.querySide, l.keySide, l.queryTokens, l.keyTokens]), [
    ['encoder_self', false, 'encoder_ids', 'encoder_ids', 5, 5],
    ['decoder_self', false, 'decoder_ids', 'decoder_ids', 4, 4],
    ['cross', true, 'decoder_ids', 'encoder_ids', 4, 5],
  ]);
  assert.equal(model.classOutput, false);
  assert.match(model.noGradients ?? '', /class output/);
  const first = model.inputs[0];
  assert.ok(first.kind === 'tokens' && first.example === 'le chat dort' && first.vocab?.length === VOCAB.length);
});

test('a captured pass: softmax rows, a causal decoder, decoder × encoder cross-attention, and no leaks', () => {
  const before = tf.memory().numTensors;
  const enc = tf.tensor2d([[1, 2, 3, 0, 0]], [1, 5], 'int32');
  const dec = tf.tensor2d([[7, 4, 5, 0]], [1, 4], 'int32');
  const cap = model.capture([enc, dec]);
  tf.dispose([enc, dec]);
  assert.equal(tf.memory().numTensors, before);
  const shapes = [[2, 5, 5], [2, 4, 4], [2, 4, 5]];
  cap.probabilities.forEach((p, i) => {
    const [h, q, k] = shapes[i];
    assert.equal(p.length, h * q * k, model.layers[i].name);
    for (let r = 0; r < h * q; r++) {
      const sum = p.slice(r * k, (r + 1) * k).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-5, `${model.layers[i].name} row ${r} sums to ${sum}`);
    }
  });
  const causal = cap.probabilities[1];
  for (let h = 0; h < 2; h++) for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) assert.ok(causal[(h * 4 + i) * 4 + j] < 1e-6, `decoder token ${i} attends to later token ${j}`);
  assert.equal(cap.output.length, 4 * VOCAB.length, 'a sequence output: one distribution per decoder token');
  assert.throws(() => model.capture([tf.zeros([1, 5], 'int32'), tf.zeros([1, 4], 'int32')], { gradientTarget: 0 }), (e: unknown) => e instanceof UserError && /class output/.test((e as Error).message));
});

test('rollout per self-attention side: rows sum to 1, one matrix per input', () => {
  const cap = model.capture([tf.tensor2d([[1, 2, 3, 0, 0]], [1, 5], 'int32'), tf.tensor2d([[7, 4, 5, 0]], [1, 4], 'int32')]);
  const { rollouts: sides, warnings } = sideRollouts(model, cap, { mode: 'rollout', fusion: 'mean', discardRatio: 0 });
  assert.deepEqual(warnings, []);
  assert.deepEqual(sides.map((s) => [s.side, s.tokens, s.layers]), [['encoder_ids', 5, ['encoder_self']], ['decoder_ids', 4, ['decoder_self']]]);
  for (const s of sides) {
    for (let r = 0; r < s.tokens; r++) {
      const sum = s.data.slice(r * s.tokens, (r + 1) * s.tokens).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-6, `${s.side} row ${r}: ${sum}`);
    }
  }
});

test('tokens: vocabulary strings or ids, padded to a fixed length; clear errors', () => {
  const input = { name: 'encoder_ids', length: 5, vocab: VOCAB };
  assert.deepEqual(parseTokens('le chat 3', input), { ids: [1, 2, 3, 0, 0], strings: ['le', 'chat', 'dort', '[PAD]', '[PAD]'] });
  assert.deepEqual(parseTokens(' 4  5 ', { name: 'x', length: null }), { ids: [4, 5], strings: ['4', '5'] });
  assert.throws(() => parseTokens('le zebre', input), /unknown token "zebre" for encoder_ids; known tokens include \[PAD\], le/);
  assert.throws(() => parseTokens('le chat dort le chat dort', input), /at most 5 tokens, got 6/);
  assert.throws(() => parseTokens('99', input), /token id 99 is out of range: the vocabulary has 12 tokens/);
  assert.throws(() => parseTokens('   ', input), /type some tokens/);
  assert.throws(() => parseTokens('cat', { name: 'ids', length: null }), /no vocabulary in its metadata, so type ids/);
});

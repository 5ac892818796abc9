import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttentionLayerInfo } from '../../../src/shared/attention';
import { prepareLayers, rolloutRow, sideTokens, weightAt, type TokenLayer } from '../../../src/webview/util/token-layers';

function layer(name: string, querySide: string, keySide: string, cross: boolean, heads = 1, queryTokens = 2, keyTokens = 2): AttentionLayerInfo {
  return { name, heads, queryTokens, keyTokens, cross, querySide, keySide };
}

/** Probabilities 0, 1, 2, … of a layer's shape, as the host sends them. */
function probs(l: AttentionLayerInfo): ArrayBuffer {
  return Float32Array.from({ length: l.heads * l.queryTokens * l.keyTokens }, (_, i) => i).buffer;
}

test('weightAt reads [head, query, key] of the row-major probabilities', () => {
  const info = layer('L', 'in', 'in', false, 2, 2, 3);
  const l: TokenLayer = { info, index: 0, probs: new Float32Array(probs(info)), queries: [], keys: [], group: 'self:in' };
  assert.equal(weightAt(l, 0, 0, 0), 0);
  assert.equal(weightAt(l, 0, 1, 0), 3);
  assert.equal(weightAt(l, 1, 0, 2), 8);
  assert.equal(weightAt(l, 1, 1, 2), 11);
});

test('sideTokens: the named input, else the only input, else the first input of the right length; #i for the rest', () => {
  const tokens = [['a', 'b'], ['x', 'y', 'z']];
  assert.deepEqual(sideTokens('dec', ['enc', 'dec'], tokens, 3), ['x', 'y', 'z']);
  assert.deepEqual(sideTokens('enc', ['enc', 'dec'], tokens, 4), ['a', 'b', '#2', '#3']);
  assert.deepEqual(sideTokens('other', ['input_ids'], [['t0', 't1']], 3), ['t0', 't1', '#2']);
  assert.deepEqual(sideTokens('q', ['p', 'r'], tokens, 3), ['x', 'y', 'z']);
  assert.deepEqual(sideTokens('q', ['p', 'r'], [['1'], ['x', 'y']], 3), ['#0', '#1', '#2']);
  assert.deepEqual(sideTokens('enc', ['enc'], tokens, 0), []);
});

test('prepareLayers of a plain self-attention model: one group with the tokens on both sides', () => {
  const info = layer('block0', 'input_ids', 'input_ids', false, 1, 2, 2);
  const groups = prepareLayers([info], [probs(info)], ['input_ids'], [['hello', 'world']]);
  assert.equal(groups.length, 1);
  const [g] = groups;
  assert.deepEqual({ id: g.id, title: g.title, detail: g.detail }, { id: 'self:input_ids', title: 'Self-attention', detail: 'every token to every token' });
  assert.equal(g.layers.length, 1);
  const l = g.layers[0];
  assert.deepEqual([l.index, l.group, l.queries, l.keys, [...l.probs]], [0, 'self:input_ids', ['hello', 'world'], ['hello', 'world'], [0, 1, 2, 3]]);
});

test('prepareLayers groups an encoder–decoder model encoder, decoder, cross-attention, keeping layer indices', () => {
  const dec = layer('dec0', 'decoder_input', 'decoder_input', false, 1, 1, 1);
  const cross = layer('cross0', 'decoder_input', 'encoder_input', true, 1, 1, 3);
  const enc = layer('enc0', 'encoder_input', 'encoder_input', false, 1, 3, 3);
  const groups = prepareLayers([dec, cross, enc], [probs(dec), probs(cross), probs(enc)], ['encoder_input', 'decoder_input'], [['a', 'b', 'c'], ['<s>']]);
  assert.deepEqual(groups.map((g) => [g.id, g.title, g.detail, g.layers.map((l) => `${l.info.name}#${l.index}`)]), [
    ['self:encoder_input', 'Encoder self-attention', 'encoder_input to itself', ['enc0#2']],
    ['self:decoder_input', 'Decoder self-attention', 'decoder_input to itself', ['dec0#0']],
    ['cross:decoder_input>encoder_input', 'Cross-attention', 'queries from decoder_input, keys from encoder_input', ['cross0#1']],
  ]);
  const c = groups[2].layers[0];
  assert.deepEqual([c.queries, c.keys], [['<s>'], ['a', 'b', 'c']]);
});

test('prepareLayers orders groups encoder, other self-attention, decoder, cross-attention', () => {
  const cross = layer('cross', 'd', 'e', true);
  const selfD = layer('selfD', 'd', 'd', false);
  const selfX = layer('selfX', 'x', 'x', false);
  const selfE = layer('selfE', 'e', 'e', false);
  const all = [cross, selfD, selfX, selfE];
  const groups = prepareLayers(all, all.map(probs), ['d', 'e', 'x'], [['1', '2'], ['3', '4'], ['5', '6']]);
  assert.deepEqual(groups.map((g) => [g.id, g.title]), [
    ['self:e', 'Encoder self-attention'],
    ['self:x', 'Self-attention (x)'],
    ['self:d', 'Decoder self-attention'],
    ['cross:d>e', 'Cross-attention'],
  ]);
});

test('prepareLayers names the sides when there are several self-attention sides or cross pairs', () => {
  const a = layer('a0', 'a', 'a', false);
  const b = layer('b0', 'b', 'b', false);
  const a1 = layer('a1', 'a', 'a', false);
  const selfOnly = prepareLayers([a, b, a1], [probs(a), probs(b), probs(a1)], ['a', 'b'], [['1', '2'], ['3', '4']]);
  assert.deepEqual(selfOnly.map((g) => [g.title, g.detail, g.layers.map((l) => l.info.name)]), [
    ['Self-attention (a)', 'a to itself', ['a0', 'a1']],
    ['Self-attention (b)', 'b to itself', ['b0']],
  ]);
  const x = layer('x', 'd', 'e', true);
  const y = layer('y', 'd', 'f', true);
  const crossTitles = prepareLayers([x, y], [probs(x), probs(y)], ['d', 'e', 'f'], [['1', '2'], ['3', '4'], ['5', '6']]).map((g) => g.title);
  assert.deepEqual(crossTitles, ['Cross-attention (d → e)', 'Cross-attention (d → f)']);
});

test('prepareLayers rejects a result whose probabilities do not match its layers', () => {
  const info = layer('L0', 'in', 'in', false, 1, 2, 2);
  assert.throws(() => prepareLayers([info], [], ['in'], [['a', 'b']]), { message: 'The result has 1 attention layers but 0 probability arrays.' });
  assert.throws(() => prepareLayers([info], [new Float32Array(3).buffer], ['in'], [['a', 'b']]), { message: 'Layer L0: expected 1×2×2 = 4 attention weights, got 3.' });
});

test('rolloutRow takes row 0 of an [n, n] matrix and checks the size', () => {
  assert.deepEqual([...rolloutRow(new Float32Array([0.5, 0.5, 0.25, 0.75]).buffer, 2, 'text')], [0.5, 0.5]);
  assert.deepEqual([...rolloutRow(new Float32Array([1]).buffer, 1, 'text')], [1]);
  assert.throws(() => rolloutRow(new Float32Array(3).buffer, 2, 'text'), { message: 'Rollout of text: expected 2×2 values, got 3.' });
  assert.throws(() => rolloutRow(new Float32Array(0).buffer, 0, 'text'), { message: 'Rollout of text: expected 0×0 values, got 0.' });
  assert.throws(() => rolloutRow(new Float32Array(4).buffer, 1.5, 'text'), { message: 'Rollout of text: expected 1.5×1.5 values, got 4.' });
});

/**
 * `xai-lens attention` (dist/cli.js; run `npm run build` first) on small random-weight models saved
 * by the test: a ViT over a 4×4 patch grid (rollout, raw and gradient-weighted maps as .npy and
 * overlay PNG, consistent with the `rollout` explanation method) and a token model (every layer's
 * probabilities, the rollout per input, the raw matrix of one head); bad input exits 2 with one
 * line on stderr. The demo models tiny-vit and token-marker get one check each when present:
 * the attention lands where the model was trained to look.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { fsSaveHandler } from '../../../src/extension/model/fs-io';
import { MultiHeadAttention } from '../../../src/extension/model/layers/multi-head-attention';
import { loadModel } from '../../../src/extension/model/load';
import { explainerById } from '../../../src/extension/explain/registry';
import { loadModelInput } from '../../../src/extension/image/decode';
import { preprocess } from '../../../src/extension/image/preprocess';
import { decodeNpy } from '../../../src/extension/image/npy';
import { assertClose, seededArray, useBackend } from '../../helpers/tf-test';
import { seedTransformerWeights } from '../../helpers/models';
import { attentionMapJob, attentionTokensJob, type AttentionMapArgs } from '../../../src/extension/compute/jobs/attention';

const ROOT = path.resolve(__dirname, '../../../..');
const CLI = path.join(ROOT, 'dist/cli.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-attention-cli-'));
const p = (...names: string[]) => path.join(dir, ...names);
const VOCAB = ['[PAD]', 'the', 'cat', 'dog', 'sat', 'on', 'mat', 'a', 'ran', 'far'];

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** 16×16×3 → 4×4 patches of 8 features → 2 × (self-attention, 2 heads + Add + LayerNormalization) → GAP → Dense softmax 3. */
function tinyVit(): tfl.LayersModel {
  const input = tfl.input({ shape: [16, 16, 3], name: 'image' });
  let x = tfl.layers.conv2d({ filters: 8, kernelSize: 4, strides: 4, name: 'patches' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.reshape({ targetShape: [16, 8], name: 'tokens' }).apply(x) as tfl.SymbolicTensor;
  for (const i of [1, 2]) {
    const attended = new MultiHeadAttention({ numHeads: 2, keyDim: 4, name: `mha${i}` }).apply([x, x]) as tfl.SymbolicTensor;
    x = tfl.layers.add({ name: `add${i}` }).apply([x, attended]) as tfl.SymbolicTensor;
    x = tfl.layers.layerNormalization({ name: `ln${i}` }).apply(x) as tfl.SymbolicTensor;
  }
  x = tfl.layers.globalAveragePooling1d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'pred' }).apply(x) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  seedTransformerWeights(model, 5);
  return model;
}

/** Token ids [6] → Embedding(10, 8) → self-attention (2 heads) → GAP → Dense softmax 2. */
function tokenModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [6], dtype: 'int32', name: 'ids' });
  const e = tfl.layers.embedding({ inputDim: VOCAB.length, outputDim: 8, name: 'embed' }).apply(input) as tfl.SymbolicTensor;
  const a = new MultiHeadAttention({ numHeads: 2, keyDim: 4, name: 'mha' }).apply([e, e]) as tfl.SymbolicTensor;
  const g = tfl.layers.globalAveragePooling1d({ name: 'gap' }).apply(a) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 2, activation: 'softmax', name: 'pred' }).apply(g) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: out });
  seedTransformerWeights(model, 9);
  return model;
}

/**
 * Encoder ids [5] → 2 × encoder self-attention; decoder ids [4] → causal decoder self-attention →
 * cross-attention (decoder queries, encoder keys) → Dense softmax per decoder token. Each side's
 * rollout must multiply exactly its own self-attention layers: encoder_self1 and encoder_self2 for
 * the encoder, decoder_self for the decoder; the cross layer enters neither.
 */
function encoderDecoder(): tfl.LayersModel {
  const enc = tfl.input({ shape: [5], dtype: 'int32', name: 'encoder_ids' });
  const dec = tfl.input({ shape: [4], dtype: 'int32', name: 'decoder_ids' });
  let e = tfl.layers.embedding({ inputDim: VOCAB.length, outputDim: 8, name: 'enc_embed' }).apply(enc) as tfl.SymbolicTensor;
  for (const i of [1, 2]) {
    const a = new MultiHeadAttention({ numHeads: 2, keyDim: 4, name: `encoder_self${i}` }).apply([e, e]) as tfl.SymbolicTensor;
    e = tfl.layers.add({ name: `enc_add${i}` }).apply([e, a]) as tfl.SymbolicTensor;
  }
  const d = tfl.layers.embedding({ inputDim: VOCAB.length, outputDim: 8, name: 'dec_embed' }).apply(dec) as tfl.SymbolicTensor;
  const selfD = new MultiHeadAttention({ numHeads: 2, keyDim: 4, name: 'decoder_self' }).apply([d, d], { useCausalMask: true }) as tfl.SymbolicTensor;
  const decIn = tfl.layers.add({ name: 'dec_add' }).apply([d, selfD]) as tfl.SymbolicTensor;
  const cross = new MultiHeadAttention({ numHeads: 2, keyDim: 4, name: 'cross' }).apply([decIn, e]) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: VOCAB.length, activation: 'softmax', name: 'next_token' }).apply(cross) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: [enc, dec], outputs: out });
  seedTransformerWeights(model, 13);
  return model;
}

before(async () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run npm run build first`);
  await useBackend('cpu');
  await encoderDecoder().save(fsSaveHandler(p('encdec')));
  fs.writeFileSync(p('encdec', 'metadata.json'), JSON.stringify({ vocab: VOCAB, example: ['the cat sat', 'a dog ran'] }));
  await tinyVit().save(fsSaveHandler(p('vit')));
  fs.writeFileSync(p('vit', 'metadata.json'), JSON.stringify({ patchGrid: [4, 4], labels: ['a', 'b', 'c'], preprocess: 'unit' }));
  await tokenModel().save(fsSaveHandler(p('tok')));
  fs.writeFileSync(p('tok', 'metadata.json'), JSON.stringify({ vocab: VOCAB, labels: ['neg', 'pos'], example: 'the cat sat on the mat' }));
  const px = Buffer.from(seededArray(30 * 20 * 3, 3).map((v) => Math.round(((v + 1) / 2) * 255)));
  await sharp(px, { raw: { width: 30, height: 20, channels: 3 } }).png().toFile(p('img.png'));
});

const rowSums = (data: Float32Array, cols: number) => Array.from({ length: data.length / cols }, (_, i) => data.slice(i * cols, (i + 1) * cols).reduce((a, b) => a + b, 0));

test('image model, rollout: the 4×4 map as .npy and an overlay PNG; the JSON names the grid, layers and predictions', async () => {
  const r = cli('attention', p('img.png'), '--model', p('vit'), '--json', '--out', p('out'), '--backend', 'cpu');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.backend, 'cpu');
  assert.equal(report.mode, 'rollout');
  assert.deepEqual(report.grid, [4, 4]);
  assert.equal(report.cls, false);
  assert.match(report.label, /^attention rollout over 2 layers \(mean of heads, discard 0%\), mean row$/);
  assert.deepEqual(report.layers.map((l: { name: string; heads: number; queryTokens: number }) => [l.name, l.heads, l.queryTokens]), [['mha1', 2, 16], ['mha2', 2, 16]]);
  assert.equal(report.predictions.length, 3);
  assert.deepEqual(report.predictions.map((q: { label: string }) => q.label).sort(), ['a', 'b', 'c']);
  assert.ok(Math.abs(report.predictions.reduce((s: number, q: { probability: number }) => s + q.probability, 0) - 1) < 1e-5);
  assert.equal(report.npy, p('out', 'img.png.attention-rollout.npy'));
  const npy = decodeNpy(fs.readFileSync(report.npy));
  assert.deepEqual(npy.shape, [4, 4]);
  assert.ok(Math.abs(npy.data.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'the mean row of a rollout sums to 1');
  const meta = await sharp(report.png).metadata();
  assert.equal(meta.format, 'png');
  assert.deepEqual([meta.width, meta.height], [30, 20]);

  // The explanation method computes the same map in-process (its own capture through the model adapter).
  const model = await loadModel(p('vit'));
  try {
    const decoded = await loadModelInput(p('img.png'), { height: 16, width: 16, channels: 3 });
    const x = tf.tidy(() => preprocess(tf.tensor4d(decoded.pixels, [1, 16, 16, 3]), 'unit'));
    const map = await explainerById('rollout').explain({ adapter: model.adapter, input: x, target: { index: 0, space: 'logit' } });
    x.dispose();
    assertClose(map.data, npy.data, 1e-5, 'CLI vs explanation method');
  } finally {
    model.adapter.dispose();
  }

  const human = cli('attention', p('img.png'), '--model', p('vit'), '--out', p('out-h'), '--backend', 'cpu', '--fusion', 'max', '--discard', '0.5');
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^map\s+attention rollout over 2 layers \(max of heads, discard 50%\), mean row$/m);
  assert.match(human.stdout, /^predictions\s+[abc] \(\d\) [\d.]+%/m);
});

test('image model, raw and grad-rollout: one layer and head; the target class by label', async () => {
  const raw = cli('attention', p('img.png'), '--model', p('vit'), '--json', '--out', p('raw'), '--backend', 'cpu', '--mode', 'raw', '--layer', 'mha1', '--head', '1');
  assert.equal(raw.code, 0, raw.stderr);
  const rr = JSON.parse(raw.stdout);
  assert.equal(rr.label, 'raw attention of mha1, head 1, mean over query tokens');
  const a = decodeNpy(fs.readFileSync(p('raw', 'img.png.attention-raw.npy')));
  assert.deepEqual(a.shape, [4, 4]);
  assert.ok(Math.abs(a.data.reduce((x, y) => x + y, 0) - 1) < 1e-5, 'the mean of attention rows sums to 1');
  const one = JSON.parse(cli('attention', p('img.png'), '--model', p('vit'), '--json', '--out', p('raw2'), '--backend', 'cpu', '--mode', 'raw', '--query', '5').stdout);
  assert.equal(one.label, 'raw attention of mha2, mean of heads, from the patch 5');

  const g = cli('attention', p('img.png'), '--model', p('vit'), '--json', '--out', p('grad'), '--backend', 'cpu', '--mode', 'grad-rollout', '--target', 'c');
  assert.equal(g.code, 0, g.stderr);
  const gr = JSON.parse(g.stdout);
  assert.equal(gr.target.index, 2);
  assert.equal(gr.target.label, 'c');
  assert.match(gr.label, /^gradient-weighted rollout over 2 layers/);
  const gm = decodeNpy(fs.readFileSync(gr.npy));
  assert.deepEqual(gm.shape, [4, 4]);
  assert.ok(gm.data.every((v) => Number.isFinite(v) && v >= 0));
  assert.ok(fs.existsSync(p('grad', 'img.png.class2.attention-grad-rollout.png')), 'a named target is in the name');
  // The explanation method, for the same class's logit, computes the same map in-process.
  const model = await loadModel(p('vit'));
  try {
    const decoded = await loadModelInput(p('img.png'), { height: 16, width: 16, channels: 3 });
    const x = tf.tidy(() => preprocess(tf.tensor4d(decoded.pixels, [1, 16, 16, 3]), 'unit'));
    const map = await explainerById('gradrollout').explain({ adapter: model.adapter, input: x, target: { index: 2, space: 'logit' } });
    x.dispose();
    assertClose(map.data, gm.data, 1e-4, 'CLI vs explanation method');
  } finally {
    model.adapter.dispose();
  }
});

test('token model: every layer\'s probabilities [heads, q, k], the rollout [n, n] per input, tokens and predictions in the JSON', () => {
  const r = cli('attention', '--tokens', 'the cat sat', '--model', p('tok'), '--json', '--out', p('tok-out'), '--backend', 'cpu');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.tokens, [{ input: 'ids', ids: [1, 2, 4, 0, 0, 0], strings: ['the', 'cat', 'sat', '[PAD]', '[PAD]', '[PAD]'] }]);
  assert.equal(report.layers.length, 1);
  assert.equal(report.layers[0].name, 'mha');
  assert.deepEqual(report.layers[0].shape, [2, 6, 6]);
  assert.deepEqual(report.predictions.map((q: { label: string }) => q.label).sort(), ['neg', 'pos']);
  const probs = decodeNpy(fs.readFileSync(p('tok-out', 'attention.mha.npy')));
  assert.deepEqual(probs.shape, [2, 6, 6]);
  for (const s of rowSums(probs.data, 6)) assert.ok(Math.abs(s - 1) < 1e-5, `attention row sums to ${s}`);
  assert.deepEqual(report.rollouts.map((x: { side: string; shape: number[] }) => [x.side, x.shape]), [['ids', [6, 6]]]);
  const roll = decodeNpy(fs.readFileSync(p('tok-out', 'rollout.ids.npy')));
  assert.deepEqual(roll.shape, [6, 6]);
  for (const s of rowSums(roll.data, 6)) assert.ok(Math.abs(s - 1) < 1e-5, `rollout row sums to ${s}`);
  assert.equal(report.raw, undefined);
});

test('token model, --mode raw --layer --head: the chosen [q, k] matrix in the JSON, equal to that head in the .npy', () => {
  const r = cli('attention', '--tokens', 'a dog ran far', '--model', p('tok'), '--json', '--out', p('tok-raw'), '--backend', 'cpu', '--mode', 'raw', '--layer', 'mha', '--head', '1');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.raw.layer, 'mha');
  assert.equal(report.raw.head, 1);
  assert.deepEqual(report.raw.queries, ['a', 'dog', 'ran', 'far', '[PAD]', '[PAD]']);
  const probs = decodeNpy(fs.readFileSync(p('tok-raw', 'attention.mha.npy')));
  assert.equal(report.raw.matrix.length, 6);
  assertClose(report.raw.matrix.flat(), probs.data.slice(36, 72), 1e-6, 'head 1');
  const human = cli('attention', '--tokens', 'a dog ran far', '--model', p('tok'), '--out', p('tok-raw2'), '--backend', 'cpu', '--mode', 'raw', '--query', '1');
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^raw\s+mha, mean of heads/m);
  assert.match(human.stdout, /^dog\s+(0\.\d{3}\s*){6}$/m);
});

/**
 * Rollout by its definition, the known answer: per layer ([heads, n, n] probabilities) the mean
 * of the heads A, then Â = ½·A + ½·I with each row divided by its sum, and R = Â_L · … · Â_1.
 */
function rolloutByDefinition(layers: { data: Float32Array; shape: number[] }[]): number[] {
  const n = layers[0].shape[1];
  let r: number[] | undefined;
  for (const { data, shape: [heads] } of layers) {
    const a = Array.from({ length: n * n }, (_, e) => {
      let sum = 0;
      for (let h = 0; h < heads; h++) sum += data[h * n * n + e];
      return 0.5 * (sum / heads) + (Math.floor(e / n) === e % n ? 0.5 : 0);
    });
    for (let i = 0; i < n; i++) {
      const rowSum = a.slice(i * n, (i + 1) * n).reduce((x, y) => x + y, 0);
      for (let j = 0; j < n; j++) a[i * n + j] /= rowSum;
    }
    const prev = r;
    r = prev === undefined ? a : Array.from({ length: n * n }, (_, e) => {
      let v = 0;
      for (let k = 0; k < n; k++) v += a[Math.floor(e / n) * n + k] * prev[k * n + (e % n)];
      return v;
    });
  }
  return r!;
}

test('encoder–decoder with cross-attention: each side\'s rollout is over exactly its self-attention layers, and the CLI\'s JSON equals the panel\'s job', async () => {
  const texts = ['the cat sat', 'a dog ran'];
  const r = cli('attention', '--tokens', texts[0], '--tokens', texts[1], '--model', p('encdec'), '--json', '--out', p('encdec-out'), '--backend', 'cpu');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.layers.map((l: { name: string; cross: boolean; querySide: string; keySide: string; shape: number[] }) => [l.name, l.cross, l.querySide, l.keySide, l.shape]), [
    ['encoder_self1', false, 'encoder_ids', 'encoder_ids', [2, 5, 5]],
    ['encoder_self2', false, 'encoder_ids', 'encoder_ids', [2, 5, 5]],
    ['decoder_self', false, 'decoder_ids', 'decoder_ids', [2, 4, 4]],
    ['cross', true, 'decoder_ids', 'encoder_ids', [2, 4, 5]],
  ]);
  // One rollout per side, over that side's self-attention layers in order; cross-attention in none.
  assert.deepEqual(report.rollouts.map((x: { side: string; kind: string; layers: string[]; shape: number[] }) => [x.side, x.kind, x.layers, x.shape]), [
    ['encoder_ids', 'rollout', ['encoder_self1', 'encoder_self2'], [5, 5]],
    ['decoder_ids', 'rollout', ['decoder_self'], [4, 4]],
  ]);
  assert.deepEqual(report.warnings, []);
  assert.equal(report.predictions, undefined, 'a sequence output has no class predictions');
  const npy = (file: string) => decodeNpy(fs.readFileSync(file));
  const byName = new Map((report.layers as { name: string; npy: string }[]).map((l) => [l.name, npy(l.npy)]));
  for (const x of report.rollouts as { layers: string[]; npy: string }[]) {
    assertClose(npy(x.npy).data, rolloutByDefinition(x.layers.map((name) => byName.get(name)!)), 1e-6, `rollout of ${x.layers.join(', ')}`);
  }

  // The token-attention panel's job on the same model and texts: the same layers, probabilities and rollouts.
  const panel = await attentionTokensJob.run({ model: { file: p('encdec') }, texts }, undefined as never);
  assert.deepEqual(panel.tokens, report.tokens.map((t: { strings: string[] }) => t.strings));
  assert.deepEqual(panel.layers.map((l) => l.name), report.layers.map((l: { name: string }) => l.name));
  panel.probabilities.forEach((pr, i) => assert.deepEqual(pr, npy(report.layers[i].npy).data, report.layers[i].name));
  assert.deepEqual(panel.rollout.map((x) => [x.side, x.layers, x.tokens]), report.rollouts.map((x: { side: string; layers: string[]; shape: number[] }) => [x.side, x.layers, x.shape[0]]));
  panel.rollout.forEach((x, i) => assert.deepEqual(x.data, npy(report.rollouts[i].npy).data, `rollout of ${x.side}`));
});

test('image model: the CLI\'s map equals the explain panel\'s attention-map job, in every mode', async () => {
  const cases: { args: string[]; request: Omit<AttentionMapArgs['request'], 'requestId'> }[] = [
    { args: [], request: { mode: 'rollout', fusion: 'mean', discardRatio: 0 } },
    { args: ['--fusion', 'max', '--discard', '0.5'], request: { mode: 'rollout', fusion: 'max', discardRatio: 0.5 } },
    { args: ['--mode', 'raw', '--layer', 'mha1', '--head', '1'], request: { mode: 'raw', fusion: 'mean', discardRatio: 0, layer: 'mha1', head: 1 } },
    { args: ['--mode', 'grad-rollout', '--target', 'c'], request: { mode: 'grad-rollout', fusion: 'mean', discardRatio: 0, target: 2 } },
    { args: ['--mode', 'grad-rollout'], request: { mode: 'grad-rollout', fusion: 'mean', discardRatio: 0 } },
  ];
  for (const [i, c] of cases.entries()) {
    const r = cli('attention', p('img.png'), '--model', p('vit'), '--json', '--out', p(`same-${i}`), '--backend', 'cpu', ...c.args);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    const panel = await attentionMapJob.run({ model: { file: p('vit') }, imageFile: p('img.png'), preprocess: 'unit', request: { requestId: i, ...c.request } }, undefined as never);
    const what = c.args.join(' ') || 'rollout';
    assert.equal(panel.requestId, i);
    assert.equal(report.label, panel.label, what);
    assert.deepEqual(report.shape, [panel.height, panel.width], what);
    assert.deepEqual(decodeNpy(fs.readFileSync(report.npy)).data, new Float32Array(panel.data), what);
    assert.deepEqual(report.predictions, panel.predictions, what);
    assert.equal(report.target?.index, panel.target, what);
  }
});

test('bad input exits 2 with one line on stderr', () => {
  const cases: [string[], RegExp][] = [
    [['attention', p('img.png'), '--model', path.join(ROOT, 'demo/models/shapes')], /shapes has no MultiHeadAttention layer, so there is no attention to show/],
    [['attention', '--tokens', 'the zebra', '--model', p('tok')], /unknown token "zebra"/],
    [['attention', p('img.png'), '--tokens', 'the cat', '--model', p('tok')], /either an image or --tokens, not both/],
    [['attention', p('img.png')], /--model is required/],
    [['attention', '--model', p('tok')], /needs an image, or --tokens/],
    [['attention', p('img.png'), '--model', p('tok')], /takes token ids \(ids\), not an image/],
    [['attention', '--tokens', 'the cat', '--model', p('vit')], /takes an image/],
    [['attention', p('img.png'), '--model', p('vit'), '--mode', 'flow'], /--mode must be one of rollout, raw, grad-rollout/],
    [['attention', p('img.png'), '--model', p('vit'), '--head', '1'], /add --mode raw/],
    [['attention', p('img.png'), '--model', p('vit'), '--mode', 'raw', '--layer', 'nope'], /nope is not a self-attention layer/],
    [['attention', p('img.png'), '--model', p('vit'), '--mode', 'raw', '--head', '7'], /head 7 is out of range: mha2 has 2 heads \(0\.\.1\)/],
    [['attention', '--tokens', 'the cat', '--model', p('tok'), '--mode', 'raw', '--query', '6'], /query 6 is out of range: mha has 6 query tokens \(0\.\.5\)/],
    [['attention', '--tokens', 'the cat', '--model', p('encdec')], /has 2 token inputs \(encoder_ids, decoder_ids\) and got --tokens 1 time; e\.g\. --tokens "the cat sat" --tokens "a dog ran"/],
    [['attention', '--tokens', 'the cat', '--model', p('tok'), '--mode', 'raw', '--head', '2'], /head 2 is out of range: mha has 2 heads \(0\.\.1\)/],
    [['attention', p('img.png'), '--model', p('vit'), '--discard', '1.5'], /--discard must be a number from 0 to 0.99/],
    [['attention', p('img.png'), '--model', p('vit'), '--mode', 'grad-rollout', '--target', 'zebra'], /unknown target "zebra"/],
  ];
  for (const [args, re] of cases) {
    const r = cli(...args, '--backend', 'cpu', '--out', p('err'));
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}; stderr: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('xai-lens:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('xai-lens --help lists the attention command and its usage', () => {
  const r = cli('--help');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^ {2}attention <image> \| --tokens/m);
  assert.match(r.stdout, /usage: xai-lens attention <image> --model/);
  const own = cli('attention', '--help');
  assert.equal(own.code, 0);
  assert.match(own.stdout, /--tokens <text>/);
});

const TINY_VIT = path.join(ROOT, 'demo/models/tiny-vit');
const TOKEN_MARKER = path.join(ROOT, 'demo/models/token-marker');

test('demo tiny-vit: the CLS row of the rollout over its patch grid peaks on the patch that decides the class', { skip: !fs.existsSync(path.join(TINY_VIT, 'model.json')) && 'demo/models/tiny-vit is not there' }, () => {
  const meta = JSON.parse(fs.readFileSync(path.join(TINY_VIT, 'metadata.json'), 'utf8')) as { patchGrid?: [number, number] };
  const samples = path.join(ROOT, 'demo/vit-images/patches.json');
  const known = fs.existsSync(samples) ? Object.entries(JSON.parse(fs.readFileSync(samples, 'utf8')) as Record<string, { label: string; patch: number }>) : [];
  const [file, info] = known[0] ?? [undefined, undefined];
  const image = file !== undefined ? path.join(path.dirname(samples), file) : p('img.png');
  const r = cli('attention', image, '--model', TINY_VIT, '--json', '--out', p('demo-vit'), '--backend', 'cpu');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.cls, true);
  if (meta.patchGrid) assert.deepEqual(report.grid, meta.patchGrid);
  assert.match(report.label, /CLS row$/);
  const npy = decodeNpy(fs.readFileSync(report.npy));
  assert.deepEqual(npy.shape, report.grid);
  assert.ok(npy.data.every((v) => Number.isFinite(v) && v >= 0));
  if (info) {
    assert.equal(report.predictions[0].label, info.label);
    assert.equal(npy.data.indexOf(Math.max(...npy.data)), info.patch, `rollout peak of ${file}`);
  }
});

test('demo token-marker: its example gives every layer\'s probabilities, a rollout per input, and the CLS token looks at the marker', { skip: !fs.existsSync(path.join(TOKEN_MARKER, 'model.json')) && 'demo/models/token-marker is not there' }, () => {
  const meta = JSON.parse(fs.readFileSync(path.join(TOKEN_MARKER, 'metadata.json'), 'utf8')) as { example?: string | string[] | Record<string, string>; markerToken?: string };
  const examples = typeof meta.example === 'string' ? [meta.example] : Array.isArray(meta.example) ? meta.example : Object.values(meta.example ?? {});
  assert.ok(examples.length > 0, 'token-marker metadata has an example');
  const r = cli('attention', ...examples.flatMap((e) => ['--tokens', e]), '--model', TOKEN_MARKER, '--json', '--out', p('demo-tok'), '--backend', 'cpu', '--mode', 'raw', '--query', '0');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.tokens.length, examples.length);
  for (const l of report.layers) {
    const a = decodeNpy(fs.readFileSync(l.npy));
    assert.deepEqual(a.shape, l.shape);
    for (const s of rowSums(a.data, l.shape[2])) assert.ok(Math.abs(s - 1) < 1e-4, `${l.name} row sums to ${s}`);
  }
  assert.ok(report.rollouts.length >= 1);
  assert.ok(report.predictions.length >= 1);
  if (meta.markerToken !== undefined && report.raw.keys.includes(meta.markerToken)) {
    // The last layer's CLS row (mean of heads) peaks on the marker token, as the model was trained to.
    const row: number[] = report.raw.row;
    assert.equal(report.raw.keys[row.indexOf(Math.max(...row))], meta.markerToken);
  }
});

/**
 * ONNX models exported from PyTorch (both exporters), run as tfjs ops behind the ModelAdapter,
 * against PyTorch's own numbers (test/fixtures/onnx-models/make_models.py writes both).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../../src/shared/errors';
import { decodeNpy } from '../../../src/extension/image/npy';
import { ONNX_FORMAT, loadOnnxModel } from '../../../src/extension/model/formats/onnx/format';
import { OnnxModelAdapter } from '../../../src/extension/model/formats/onnx/adapter';
import { buildGraph } from '../../../src/extension/model/formats/onnx/graph';
import { ONNX_OPS } from '../../../src/extension/model/formats/onnx/ops';
import { readModel } from '../../../src/extension/model/formats/onnx/proto';
import { OnnxAttentionModel } from '../../../src/extension/model/formats/onnx/attention';
import type { Randomizer } from '../../../src/extension/model/types';
import { assertNoLeak, maxAbsDiff, pearson, useBackend } from '../../helpers/tf-test';

const DIR = path.join(__dirname, '../../../../test/fixtures/onnx-models');
const refs = JSON.parse(fs.readFileSync(path.join(DIR, 'refs.json'), 'utf8')) as Record<string, { layer: string; class: number; headSoftmax: boolean; fc?: number[][] }>;

function npy(name: string): { data: Float32Array; shape: number[] } {
  return decodeNpy(fs.readFileSync(path.join(DIR, 'ref', name)));
}

/** NCHW reference → NHWC tensor. */
function nhwcOf(r: { data: Float32Array; shape: number[] }): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(r.data, r.shape as [number, number, number, number]), [0, 2, 3, 1]));
}

function load(file: string): OnnxModelAdapter {
  return loadOnnxModel(path.join(DIR, file)).adapter;
}

function gradCam(activation: tf.Tensor, grad: tf.Tensor): Float32Array {
  return tf.tidy(() => tf.relu(tf.sum(tf.mul(activation, tf.mean(grad, [1, 2], true)), 3)).dataSync() as Float32Array);
}

function throwsUser(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof UserError && re.test(e.message) && !e.message.includes('\n'));
}

const FAMILIES = ['resnet', 'mobilenet', 'misc', 'vit'] as const;
const EXPORTS = ['ts', 'dynamo'] as const;

function checkAgainstPyTorch(fam: (typeof FAMILIES)[number], exp: string): void {
  const a = load(`${fam}.${exp}.onnx`);
  try {
    const { layer, class: cls } = refs[fam];
    const x = nhwcOf(npy(`${fam}.input.npy`));
    const logits = a.logits(x);
    assert.ok(maxAbsDiff(logits.dataSync(), npy(`${fam}.logits.npy`).data) < 1e-4, `${fam}.${exp} logits`);
    // A model that returns logits (no Softmax in the graph) gets the softmax applied outside, as
    // PyTorch users do; one with a Softmax head returns its own output.
    const probs = a.probabilities(x);
    const ref = npy(`${fam}.probs.npy`);
    const refProbs = a.logitsName === a.graph.outputs[0]
      ? tf.tidy(() => tf.softmax(tf.tensor2d(ref.data, ref.shape as [number, number])).dataSync())
      : ref.data;
    assert.ok(maxAbsDiff(probs.dataSync(), refProbs) < 1e-4, `${fam}.${exp} probabilities`);
    // The named module's output (PyTorch NCHW, here NHWC).
    const act = a.activations(x, layer);
    const refAct = nhwcOf(npy(`${fam}.act.npy`));
    assert.deepEqual(act.shape, refAct.shape);
    assert.ok(maxAbsDiff(act.dataSync(), refAct.dataSync()) < 1e-4, `${fam}.${exp} activation of ${layer}`);
    // Input gradient of the class logit.
    const { grad, scores } = a.inputGradient(x, { index: cls, space: 'logit' });
    const refGrad = nhwcOf(npy(`${fam}.igrad.npy`));
    assert.ok(pearson(grad.dataSync(), refGrad.dataSync()) >= 0.999, `${fam}.${exp} input gradient`);
    assert.ok(maxAbsDiff(scores.dataSync(), tf.tidy(() => tf.slice(logits, [0, cls], [-1, 1])).dataSync()) < 1e-5);
    // Grad-CAM at the module.
    const lg = a.layerGradient(x, layer, { index: cls, space: 'logit' });
    if (lg.activation.rank === 4) {
      const cam = gradCam(lg.activation, lg.grad);
      assert.ok(pearson(cam, npy(`${fam}.gradcam.npy`).data) >= 0.999, `${fam}.${exp} Grad-CAM`);
    }
    tf.dispose([x, logits, probs, act, refAct, grad, scores, refGrad, lg.activation, lg.grad, lg.scores]);
  } finally {
    a.dispose();
  }
}

describe('ONNX models from PyTorch (cpu)', () => {
  before(async () => useBackend('cpu'));

  for (const fam of FAMILIES) {
    for (const exp of EXPORTS) {
      it(`${fam} (${exp === 'ts' ? 'TorchScript' : 'dynamo'} exporter): logits, activation, input gradient and Grad-CAM equal PyTorch's`, () => checkAgainstPyTorch(fam, exp));
    }
  }

  it('onnxruntime agrees with PyTorch on the fixtures (the references are sound)', () => {
    for (const fam of FAMILIES) {
      // Both exports' outputs ([2, N, classes]); a softmax head's were saved as log-probabilities.
      const ort = npy(`${fam}.ort.npy`);
      const ref = npy(`${fam}.probs.npy`);
      const n = ref.data.length;
      for (const part of [ort.data.subarray(0, n), ort.data.subarray(n)]) {
        const out = refs[fam].headSoftmax ? part.map(Math.exp) : part;
        assert.ok(maxAbsDiff(out, ref.data) < 1e-4, fam);
      }
    }
  });

  it('head activation: a final Softmax is the head and its input the logits', () => {
    const a = load('misc.dynamo.onnx');
    const b = load('resnet.ts.onnx');
    assert.equal(a.headActivation, 'softmax');
    assert.equal(b.headActivation, 'softmax', 'logits out, the softmax applied outside the graph as in PyTorch');
    assert.equal(b.logitsName, b.graph.outputs[0]);
    assert.equal(a.outputSize, 10);
    assert.deepEqual(a.inputShape, [32, 32, 3]);
    a.dispose();
    b.dispose();
  });

  it('module paths: listed as PyTorch names them, for both exporters, resolving to the same values', () => {
    const ts = load('resnet.ts.onnx');
    const dy = load('resnet.dynamo.onnx');
    const x = nhwcOf(npy('resnet.input.npy'));
    try {
      for (const a of [ts, dy]) {
        const names = a.layers.map((l) => l.name);
        for (const m of ['layer1', 'layer1.0', 'layer1.1', 'layer2', 'layer2.0', 'layer2.0.downsample', 'maxpool', 'fc']) assert.ok(names.includes(m), `${m} in ${names.join(', ')}`);
        assert.equal(a.defaultLayer(), 'layer2');
        const info = a.layers.find((l) => l.name === 'layer1.0')!;
        assert.deepEqual(info.outputShape, [null, 16, 16, 8]);
        assert.equal(info.spatial, true);
      }
      for (const m of ['layer1', 'layer1.0', 'layer1.1.relu', 'layer2.0', 'layer2', 'maxpool']) {
        const u = ts.activations(x, m);
        const v = dy.activations(x, m);
        assert.ok(maxAbsDiff(u.dataSync(), v.dataSync()) < 1e-5, m);
        tf.dispose([u, v]);
      }
      // ONNX node and tensor names are accepted too.
      const byNode = ts.activations(x, '/layer1/layer1.1/relu_1/Relu');
      const byTensor = ts.activations(x, '/layer1/layer1.1/relu_1/Relu_output_0');
      const byModule = ts.activations(x, 'layer1');
      assert.equal(maxAbsDiff(byNode.dataSync(), byModule.dataSync()), 0);
      assert.equal(maxAbsDiff(byTensor.dataSync(), byModule.dataSync()), 0);
      tf.dispose([byNode, byTensor, byModule]);
      throwsUser(() => ts.activations(x, 'layer9'), /no layer named "layer9"/);
    } finally {
      tf.dispose(x);
      ts.dispose();
      dy.dispose();
    }
  });

  it('defaultLayer: the top-level module of the last spatial value (MobileNetV2: features)', () => {
    for (const f of ['mobilenet.ts.onnx', 'mobilenet.dynamo.onnx']) {
      const a = load(f);
      assert.equal(a.defaultLayer(), 'features');
      assert.ok(a.layers.some((l) => l.name === 'features.2.conv'));
      a.dispose();
    }
  });

  for (const file of ['resnet.ts.onnx', 'resnet.fixed1.onnx', 'vit.fixed1.onnx']) {
    it(`batch of 3 equals 3 single runs (${file})`, () => {
      const a = load(file);
      const x = nhwcOf(npy(`${file.split('.')[0]}.input.npy`));
      try {
        assert.equal(a.fixedBatch, file.includes('fixed1'));
        const layer = a.defaultLayer()!;
        const all = a.logits(x);
        const g = a.inputGradient(x, { index: 2, space: 'probability' });
        const lg = a.layerGradient(x, layer, { index: 2, space: 'logit' });
        for (let i = 0; i < 3; i++) {
          const xi = tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]);
          const li = a.logits(xi);
          const gi = a.inputGradient(xi, { index: 2, space: 'probability' });
          const lgi = a.layerGradient(xi, layer, { index: 2, space: 'logit' });
          const row = (t: tf.Tensor) => tf.tidy(() => tf.slice(t, [i], [1]).dataSync());
          const rowN = (t: tf.Tensor) => tf.tidy(() => tf.slice(t, [i, ...t.shape.slice(1).map(() => 0)], [1, ...t.shape.slice(1)]).dataSync());
          assert.ok(maxAbsDiff(rowN(all), li.dataSync()) < 1e-5);
          assert.ok(maxAbsDiff(rowN(g.grad), gi.grad.dataSync()) < 1e-6);
          assert.ok(maxAbsDiff(row(g.scores), gi.scores.dataSync()) < 1e-6);
          assert.ok(maxAbsDiff(rowN(lg.grad), lgi.grad.dataSync()) < 1e-5);
          assert.ok(maxAbsDiff(rowN(lg.activation), lgi.activation.dataSync()) < 1e-5);
          tf.dispose([xi, li, gi.grad, gi.scores, lgi.grad, lgi.activation, lgi.scores]);
        }
        tf.dispose([all, g.grad, g.scores, lg.grad, lg.activation, lg.scores]);
      } finally {
        tf.dispose(x);
        a.dispose();
      }
    });
  }

  it('Guided Backprop: the ReLU rule changes the gradient, and equals the rule computed by hand on a 2-layer model', () => {
    const a = load('two.onnx');
    const x = tf.tidy(() => tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D);
    const target = { index: 0, space: 'logit' as const };
    const guided = (dy: tf.Tensor, grad: tf.Tensor) => tf.relu(grad);
    try {
      assert.equal(a.reluOverride, undefined);
      const plain = a.inputGradient(x, target);
      const gb = a.inputGradient(x, target, { reluBackward: guided });
      assert.ok(maxAbsDiff(plain.grad.dataSync(), gb.grad.dataSync()) > 1e-4);
      // By hand: h = W1 x + b1 (1×1 conv), r = relu(h), y = W2 · mean(r) + b2.
      const conv = a.graph.nodes.find((n) => n.opType === 'Conv')!;
      const gemm = a.graph.nodes.find((n) => n.opType === 'Gemm')!;
      const w1 = a.graph.weights.onnx(conv.inputs[1]); // [4, 3, 1, 1] (held as a [1, 1, 3, 4] filter)
      const b1 = a.graph.weights.get(conv.inputs[2])!;
      const w2 = a.graph.weights.get(gemm.inputs[1])!; // [3, 4] (transB)
      const expected = tf.tidy(() => {
        const k = tf.reshape(w1, [4, 3]);
        const h = tf.add(tf.matMul(tf.reshape(x, [-1, 3]), k, false, true), b1); // [N·H·W, 4]
        const dr = tf.div(tf.slice(w2, [0, 0], [1, 4]), 32 * 32); // dy/dr per position
        const dh = tf.relu(tf.mul(dr, tf.cast(tf.greater(h, 0), 'float32'))); // the guided rule
        return tf.reshape(tf.matMul(dh, k), x.shape);
      });
      assert.ok(maxAbsDiff(gb.grad.dataSync(), expected.dataSync()) < 1e-6);
      // Layer gradients honour the rule too (upstream of the cut nothing changes).
      const lgPlain = a.layerGradient(x, '0', target);
      const lgGuided = a.layerGradient(x, '0', target, { reluBackward: guided });
      assert.ok(maxAbsDiff(lgPlain.grad.dataSync(), lgGuided.grad.dataSync()) > 1e-5);
      tf.dispose([w1, plain.grad, plain.scores, gb.grad, gb.scores, expected, lgPlain.grad, lgPlain.activation, lgPlain.scores, lgGuided.grad, lgGuided.activation, lgGuided.scores]);
    } finally {
      tf.dispose(x);
      a.dispose();
    }
  });

  it('ReLU6 (Clip 0..6) takes the Guided Backprop rule too', () => {
    const a = load('mobilenet.dynamo.onnx');
    const x = nhwcOf(npy('mobilenet.input.npy'));
    const t = { index: 3, space: 'logit' as const };
    const plain = a.inputGradient(x, t);
    const gb = a.inputGradient(x, t, { reluBackward: (_dy, g) => tf.relu(g) });
    assert.ok(maxAbsDiff(plain.grad.dataSync(), gb.grad.dataSync()) > 1e-5);
    tf.dispose([x, plain.grad, plain.scores, gb.grad, gb.scores]);
    a.dispose();
  });

  it('randomizer: blocks from the logits down; reinitialize changes the outputs; release restores them bit for bit', () => {
    for (const file of ['resnet.dynamo.onnx', 'resnet.ts.onnx', 'vit.dynamo.onnx']) {
      const a = load(file);
      const x = nhwcOf(npy(`${file.split('.')[0]}.input.npy`));
      try {
        const r = a.randomizer() as Randomizer;
        assert.equal(typeof r, 'object');
        const names = r.blocks.map((b) => b.name);
        assert.equal(names[0], file.startsWith('vit') ? 'head' : 'fc');
        if (file.startsWith('resnet')) {
          assert.ok(names.includes('layer1.0.conv1'), names.join(', '));
          assert.ok(names.indexOf('layer2.1.conv2') < names.indexOf('layer1.0.conv1'));
          assert.equal(names[names.length - 1], 'conv1');
        } else {
          assert.ok(names.includes('blocks.1.attn.qkv') && names.includes('cls_token') && names.includes('pos_embed'), names.join(', '));
        }
        assert.match(r.initialization, /U\(−1\/√fan_in, 1\/√fan_in\)/);
        const before = a.logits(x);
        const snap = r.snapshot();
        throwsUser(() => r.snapshot(), /already running/);
        snap.reinitialize(0, 1);
        const fc = a.graph.weights.get(file.startsWith('resnet.ts') ? 'fc.weight' : file.startsWith('vit') ? 'head.weight' : 'fc.weight')!;
        const bound = 1 / Math.sqrt(fc.shape[1]!);
        assert.ok(tf.tidy(() => tf.max(tf.abs(fc)).dataSync()[0]) <= bound + 1e-7);
        const changed = a.logits(x);
        assert.ok(maxAbsDiff(before.dataSync(), changed.dataSync()) > 1e-3);
        for (let i = 1; i < r.blocks.length; i++) snap.reinitialize(i, 1);
        snap.restore(1);
        const same1 = tf.tidy(() => a.logits(x).dataSync());
        snap.release();
        snap.release();
        const after = a.logits(x);
        assert.deepEqual(Array.from(after.dataSync()), Array.from(before.dataSync()));
        // Seeded: the same seed gives the same weights.
        const snap2 = r.snapshot();
        for (let i = 0; i < r.blocks.length; i++) snap2.reinitialize(i, 1);
        snap2.restore(1);
        const same2 = tf.tidy(() => a.logits(x).dataSync());
        assert.deepEqual(Array.from(same2), Array.from(same1));
        snap2.release();
        tf.dispose([before, changed, after]);
      } finally {
        tf.dispose(x);
        a.dispose();
      }
    }
  });

  it('randomizer: a batch norm after a conv joins its block; PyTorch defaults for batch norms', () => {
    const a = load('resnet.dynamo.onnx');
    const r = a.randomizer() as Randomizer;
    // The dynamo exporter folds batch norms into the convs too: each conv is one block.
    assert.ok(r.blocks.every((b) => b.layers.length >= 1));
    a.dispose();
  });

  it('gapDenseHead on the tiny ResNet is the Linear weight transposed', () => {
    for (const f of ['resnet.ts.onnx', 'resnet.dynamo.onnx']) {
      const a = load(f);
      const h = a.gapDenseHead('layer2');
      assert.ok(typeof h !== 'string', String(h));
      if (typeof h !== 'string') {
        assert.deepEqual(h.weights.shape, [16, 10]);
        assert.ok(maxAbsDiff(h.weights.dataSync(), refs.resnet.fc!.flat()) < 1e-7);
        h.weights.dispose();
      }
      assert.match(a.gapDenseHead('layer1') as string, /^needs a global average pool → Linear head after "layer1"; it (feeds|is followed by)/);
      a.dispose();
    }
    const m = load('mobilenet.ts.onnx');
    const h = m.gapDenseHead('features');
    assert.ok(typeof h !== 'string');
    if (typeof h !== 'string') h.weights.dispose();
    m.dispose();
  });

  it('attention(): the ViT\'s Softmax [batch, heads, q, k] nodes, rows summing to 1, with gradients', () => {
    for (const f of ['vit.ts.onnx', 'vit.dynamo.onnx']) {
      const a = load(f);
      const x = tf.tidy(() => tf.slice(nhwcOf(npy('vit.input.npy')), [0, 0, 0, 0], [1, -1, -1, -1]));
      const att = a.attention();
      assert.ok(att instanceof OnnxAttentionModel, String(att));
      if (att instanceof OnnxAttentionModel) {
        assert.equal(att.layers.length, 2);
        assert.deepEqual(att.layers.map((l) => l.name), ['blocks.0.attn', 'blocks.1.attn'], 'attention layers named by their PyTorch module');
        assert.deepEqual([att.layers[0].heads, att.layers[0].queryTokens, att.layers[0].keyTokens], [4, 17, 17]);
        assert.deepEqual(att.patches, { grid: [4, 4], cls: true });
        const cap = att.capture([x], { gradientTarget: 3 });
        for (const p of cap.probabilities) {
          assert.equal(p.length, 4 * 17 * 17);
          for (let r = 0; r < 4 * 17; r++) {
            let s = 0;
            for (let k = 0; k < 17; k++) s += p[r * 17 + k];
            assert.ok(Math.abs(s - 1) < 1e-5);
          }
        }
        assert.equal(cap.gradients!.length, 2);
        assert.ok(cap.gradients!.every((g) => g.length === 4 * 17 * 17 && g.some((v) => v !== 0)));
        // The output after the head activation: the softmax of the ViT's logits (it returns logits).
        const probs = tf.tidy(() => tf.softmax(tf.tensor1d(npy('vit.logits.npy').data.subarray(0, 10))).dataSync());
        assert.ok(maxAbsDiff(cap.output, probs) < 1e-4);
        att.dispose(); // does not dispose the adapter's model
        const again = a.logits(x);
        again.dispose();
      }
      tf.dispose(x);
      a.dispose();
    }
    const r = load('resnet.ts.onnx');
    assert.match(r.attention() as string, /^needs Softmax nodes/);
    r.dispose();
  });

  it('external data: loads, and is a checkpoint file', () => {
    const a = load('resnet.ext.onnx');
    const x = nhwcOf(npy('resnet.input.npy'));
    const l = a.logits(x);
    assert.ok(maxAbsDiff(l.dataSync(), npy('resnet.logits.npy').data) < 1e-4);
    tf.dispose([x, l]);
    a.dispose();
    const files = ONNX_FORMAT.checkpointFiles(path.join(DIR, 'resnet.ext.onnx'));
    assert.deepEqual(files.map((f) => path.basename(f)), ['resnet.ext.onnx', 'resnet.ext.onnx.data']);
    assert.deepEqual(ONNX_FORMAT.checkpointFiles(path.join(DIR, 'resnet.ts.onnx')).map((f) => path.basename(f)), ['resnet.ts.onnx']);
  });

  describe('files that are not what they claim', () => {
    let tmp: string;
    before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-test-'))));
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it('external data outside the model folder (through a symlink) is refused; a missing or short data file is reported', () => {
      const inside = path.join(tmp, 'model');
      const outside = path.join(tmp, 'elsewhere');
      fs.mkdirSync(inside);
      fs.mkdirSync(outside);
      fs.copyFileSync(path.join(DIR, 'resnet.ext.onnx'), path.join(inside, 'resnet.ext.onnx'));
      throwsUser(() => loadOnnxModel(path.join(inside, 'resnet.ext.onnx')), /resnet\.ext\.onnx keeps weights in resnet\.ext\.onnx\.data, which is missing/);
      fs.copyFileSync(path.join(DIR, 'resnet.ext.onnx.data'), path.join(outside, 'w.data'));
      fs.symlinkSync(path.join(outside, 'w.data'), path.join(inside, 'resnet.ext.onnx.data'));
      throwsUser(() => loadOnnxModel(path.join(inside, 'resnet.ext.onnx')), /outside its folder/);
      fs.unlinkSync(path.join(inside, 'resnet.ext.onnx.data'));
      fs.writeFileSync(path.join(inside, 'resnet.ext.onnx.data'), fs.readFileSync(path.join(DIR, 'resnet.ext.onnx.data')).subarray(0, 1000));
      throwsUser(() => loadOnnxModel(path.join(inside, 'resnet.ext.onnx')), /truncated/);
    });

    it('corrupt and truncated files: one line naming the file', () => {
      const bytes = fs.readFileSync(path.join(DIR, 'resnet.ts.onnx'));
      const cut = path.join(tmp, 'cut.onnx');
      fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
      throwsUser(() => loadOnnxModel(cut), /(^|\/)cut\.onnx is truncated/);
      const junk = path.join(tmp, 'junk.onnx');
      fs.writeFileSync(junk, Buffer.concat([Buffer.from([0x08, 0x07, 0x12, 0x07]), Buffer.from('pytorch'), Buffer.from([0x3a, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff])]));
      throwsUser(() => loadOnnxModel(junk), /(^|\/)junk\.onnx (is not a valid ONNX model|is truncated)/);
      const text = path.join(tmp, 'text.onnx');
      fs.writeFileSync(text, 'hello, this is not a model');
      throwsUser(() => loadOnnxModel(text), /(^|\/)text\.onnx is not a valid ONNX model/);
      assert.equal(ONNX_FORMAT.claims(text, fs.readFileSync(text)), false);
      assert.equal(ONNX_FORMAT.claims(path.join(DIR, 'resnet.ts.onnx'), bytes.subarray(0, 4096)), true);
    });
  });

  it('unsupported operators: one message listing each with its count', () => {
    throwsUser(() => loadOnnxModel(path.join(DIR, 'unsupported.onnx')), /(^|\/)unsupported\.onnx uses operators XAI Lens does not support: Unique ×2, com\.microsoft\.FusedConv ×1, NonZero ×1$/);
  });

  it('a token model is not an image model: the message points at Show Attention', () => {
    throwsUser(() => loadOnnxModel(path.join(DIR, 'tokens.onnx')), /tokens\.onnx takes token ids .* Show Attention/);
  });

  it('format: claims .onnx files by their first bytes; watch pattern; metadata', async () => {
    const { adapter, embeddedMetadata } = await ONNX_FORMAT.load(path.join(DIR, 'misc.ts.onnx'), {});
    assert.deepEqual(embeddedMetadata, {});
    adapter.dispose();
    assert.equal(ONNX_FORMAT.watchPattern(path.join(DIR, 'resnet.ext.onnx')), '{resnet.ext.onnx,resnet.ext.onnx.data,resnet.ext.data,*.data}');
    assert.equal(ONNX_FORMAT.mayHaveAttention!(path.join(DIR, 'vit.ts.onnx')), true);
    assert.equal(ONNX_FORMAT.mayHaveAttention!(path.join(DIR, 'resnet.ts.onnx')), false);
  });

  it('no tensors leak from any call', async () => {
    const a = load('resnet.dynamo.onnx');
    const v = load('vit.dynamo.onnx');
    const x = nhwcOf(npy('resnet.input.npy'));
    const x1 = tf.slice(x, [0, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
    const t = { index: 1, space: 'probability' as const };
    const att = v.attention() as OnnxAttentionModel;
    await assertNoLeak(() => {
      tf.dispose([a.logits(x), a.probabilities(x), a.score(x, t), a.activations(x, 'layer1')]);
      const g = a.inputGradient(x, t, { reluBackward: (_d, gr) => tf.relu(gr) });
      const lg = a.layerGradient(x, 'layer2', t);
      tf.dispose([g.grad, g.scores, lg.grad, lg.activation, lg.scores]);
      const h = a.gapDenseHead('layer2');
      if (typeof h !== 'string') h.weights.dispose();
      const r = a.randomizer() as Randomizer;
      const s = r.snapshot();
      s.reinitialize(0, 3);
      s.reinitialize(2, 3);
      s.release();
      att.capture([x1], { gradientTarget: 2 });
    });
    tf.dispose([x, x1]);
    a.dispose();
    v.dispose();
  });

  it('layout: no transposes before the global pool; forward time against transposing around every conv', () => {
    const nhwc = load('resnet.dynamo.onnx');
    const file = path.join(DIR, 'resnet.dynamo.onnx');
    const naive = new OnnxModelAdapter(buildGraph(readModel(file), file, ONNX_OPS), { layout: 'naive' });
    const x = tf.tidy(() => tf.randomUniform([8, 32, 32, 3], -1, 1, 'float32', 5) as tf.Tensor4D);
    try {
      nhwc.runtime.transposes = 0;
      const l = nhwc.logits(x);
      // One conversion in all: the pooled [N, 1, 1, C] value before Reshape / Flatten.
      assert.ok(nhwc.runtime.transposes <= 1, `${nhwc.runtime.transposes} transposes`);
      l.dispose();
      const time = (a: OnnxModelAdapter) => {
        tf.dispose(a.logits(x));
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < 5; i++) tf.tidy(() => a.logits(x).dataSync());
        return Number(process.hrtime.bigint() - t0) / 5e6;
      };
      const a = time(nhwc);
      const b = time(naive);
      const same = maxAbsDiff(tf.tidy(() => nhwc.logits(x).dataSync()), tf.tidy(() => naive.logits(x).dataSync()));
      assert.ok(same < 1e-5);
      console.log(`# resnet (8×32×32): ${a.toFixed(1)} ms channels-last, ${b.toFixed(1)} ms transposing around every op`);
    } finally {
      tf.dispose(x);
      nhwc.dispose();
      naive.dispose();
    }
  });
});

describe('ONNX models from PyTorch (wasm)', () => {
  before(async () => useBackend('wasm'));
  after(async () => useBackend('cpu'));
  for (const [fam, exp] of [['resnet', 'dynamo'], ['mobilenet', 'ts'], ['misc', 'dynamo'], ['vit', 'ts']] as const) {
    it(`${fam} (${exp}): logits, activation, input gradient and Grad-CAM equal PyTorch's`, () => checkAgainstPyTorch(fam, exp));
  }
});

/**
 * Forward-only passes of ONNX models through onnxruntime-node (ModelAdapter.forward) against the
 * tfjs graph of the same model: scores, probabilities and activations on batches of images, on
 * dynamic-batch, fixed-batch-1 and external-data exports; provider fallback; the helpers of
 * model/forward.ts on models without a forward engine.
 */
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel, type LoadOptions } from '../../../src/extension/model/load';
import { activationBatch, probabilityBatch, scoreBatch } from '../../../src/extension/model/forward';
import { loadOnnxModel } from '../../../src/extension/model/formats/onnx/format';
import { createOrtForward, ortMessage, ortThreads } from '../../../src/extension/model/formats/onnx/ort-session';
import type { ModelAdapter, Target } from '../../../src/extension/model/types';
import { assertNoLeak, maxAbsDiff, seededArray, useBackend } from '../../helpers/tf-test';

const ROOT = path.join(__dirname, '../../../..');
const ONE_THREAD: LoadOptions = { onnxRuntime: { threads: 1 } };

/** `n` images in [0, 1) of the adapter's input shape, NHWC. */
function images(adapter: ModelAdapter, n: number, seed: number): Float32Array {
  const [h, w, c] = adapter.inputShape;
  return seededArray(n * h * w * c, seed).map((v) => (v + 1) / 2);
}

function tensorOf(adapter: ModelAdapter, x: Float32Array, n: number): tf.Tensor4D {
  return tf.tensor4d(x, [n, ...adapter.inputShape]);
}

async function tfjsValues(f: () => tf.Tensor): Promise<{ data: Float32Array; shape: number[] }> {
  const t = f();
  try {
    return { data: (await t.data()) as Float32Array, shape: t.shape };
  } finally {
    t.dispose();
  }
}

const MODELS: { file: string; layers?: string[]; what: string }[] = [
  { file: 'demo/models/shapes-pytorch/model.onnx', what: 'demo, TorchScript exporter, dynamic batch' },
  { file: 'demo/models/shapes-pytorch-dynamo/model.onnx', what: 'demo, dynamo exporter' },
  { file: 'test/fixtures/onnx-models/resnet.ext.onnx', layers: ['layer1'], what: 'weights in an external data file' },
  { file: 'test/fixtures/onnx-models/resnet.fixed1.onnx', layers: ['layer1'], what: 'batch fixed to 1' },
  { file: 'test/fixtures/onnx-models/mobilenet.dynamo.onnx', layers: ['features.2'], what: 'depthwise convolutions' },
  { file: 'test/fixtures/onnx-models/vit.fixed1.onnx', layers: ['patch_embed'], what: 'a ViT, batch fixed to 1' },
];

describe('onnxruntime forward passes agree with the tfjs graph', () => {
  before(async () => useBackend('wasm'));
  after(async () => useBackend('cpu'));

  for (const m of MODELS) {
    it(`${m.file} (${m.what})`, async () => {
      const { adapter, warnings } = await loadModel(path.join(ROOT, m.file), ONE_THREAD);
      try {
        assert.ok(adapter.forward, `no forward runner: ${adapter.forwardUnavailable}`);
        assert.equal(adapter.forward.note, undefined);
        assert.match(adapter.forward.description, /^onnxruntime [\d.]+ \(cpu, 1 thread\)$/);
        assert.ok(!warnings.some((w) => /onnxruntime/.test(w)));
        const n = 5;
        const x = images(adapter, n, 7);
        const xt = tensorOf(adapter, x, n);
        try {
          const k = adapter.outputSize;
          const targets: Target[] = [{ index: k - 1, space: 'logit' }, { index: 0, space: 'probability' }];
          for (const target of targets) {
            const want = await tfjsValues(() => adapter.score(xt, target));
            const got = await assertNoLeak(() => adapter.forward!.scores(x, n, target));
            assert.equal(got.length, n);
            assert.ok(maxAbsDiff(got, want.data) < 1e-4, `${target.space} scores: ${maxAbsDiff(got, want.data)}`);
            // The helper takes the forward runner, from a tensor or from values.
            assert.deepEqual(await assertNoLeak(() => scoreBatch(adapter, xt, target)), got);
            assert.deepEqual(await assertNoLeak(() => scoreBatch(adapter, { data: x, shape: [n, ...adapter.inputShape] }, target)), got);
          }
          const probs = await assertNoLeak(() => probabilityBatch(adapter, xt));
          const wantProbs = await tfjsValues(() => adapter.probabilities(xt));
          assert.equal(probs.length, n * k);
          assert.ok(maxAbsDiff(probs, wantProbs.data) < 1e-4, `probabilities: ${maxAbsDiff(probs, wantProbs.data)}`);
          for (const layer of [...(m.layers ?? []), adapter.defaultLayer()!]) {
            const act = await assertNoLeak(() => activationBatch(adapter, xt, layer));
            const want = await tfjsValues(() => adapter.activations(xt, layer));
            assert.deepEqual(act.shape, want.shape, `${layer} shape`);
            assert.ok(maxAbsDiff(act.data, want.data) < 1e-4, `${layer} activations: ${maxAbsDiff(act.data, want.data)}`);
          }
          // One image, and a batch again (the layer sessions are cached).
          const one = await adapter.forward.scores(x, 1, targets[0]);
          assert.ok(maxAbsDiff(one, (await tfjsValues(() => adapter.score(tf.slice(xt, 0, 1), targets[0]))).data) < 1e-4);
        } finally {
          xt.dispose();
        }
      } finally {
        adapter.dispose();
      }
    });
  }

  it('rejects a target outside the outputs and a batch that does not fit, as the tfjs path does', async () => {
    const { adapter } = await loadModel(path.join(ROOT, 'demo/models/shapes-pytorch/model.onnx'), ONE_THREAD);
    try {
      const x = images(adapter, 2, 1);
      await assert.rejects(adapter.forward!.scores(x, 2, { index: 3, space: 'logit' }), /target index 3 is out of range: the model has 3 outputs/);
      await assert.rejects(adapter.forward!.scores(x, 3, { index: 0, space: 'logit' }), /takes \[batch, 64, 64, 3\] images/);
      await assert.rejects(adapter.forward!.activations!(x, 2, 'no.such.layer'), /no\.such\.layer/);
    } finally {
      adapter.dispose();
    }
  });
});

describe('onnxruntime set-up', () => {
  before(async () => useBackend('cpu'));
  const demo = path.join(ROOT, 'demo/models/shapes-pytorch/model.onnx');

  it('falls back to cpu with a reason when the execution provider does not start', async () => {
    // A provider this platform never has: DirectML outside Windows, CoreML on Windows.
    const absent = process.platform === 'win32' ? 'coreml' : 'dml';
    for (const [provider, why] of [[absent, new RegExp(`^onnxruntime: ${absent} unavailable \\(.+\\), running on cpu$`)], ['tpu', /^onnxruntime: unknown execution provider "tpu" \(cpu, cuda, dml, coreml\), running on cpu$/]] as const) {
      const { adapter, warnings } = await loadModel(demo, { onnxRuntime: { executionProvider: provider, threads: 1 } });
      try {
        assert.ok(adapter.forward);
        assert.match(adapter.forward.note ?? '', why);
        assert.ok(!adapter.forward.note!.includes('\n'));
        assert.match(adapter.forward.description, /\(cpu, 1 thread\)/);
        assert.ok(warnings.includes(adapter.forward.note!));
        const x = images(adapter, 2, 3);
        const got = await adapter.forward.probabilities(x, 2);
        const want = await tfjsValues(() => tf.tidy(() => adapter.probabilities(tensorOf(adapter, x, 2))));
        assert.ok(maxAbsDiff(got, want.data) < 1e-4);
      } finally {
        adapter.dispose();
      }
    }
  });

  it('has no forward runner, and says why, when onnxruntime is switched off or cannot load', async () => {
    const { adapter } = await loadModel(demo, { onnxRuntime: { enabled: false } });
    try {
      assert.equal(adapter.forward, undefined);
      assert.match(adapter.forwardUnavailable ?? '', /switched off/);
      // The helpers then run the tfjs graph, exactly.
      const x = images(adapter, 3, 5);
      const xt = tensorOf(adapter, x, 3);
      const target: Target = { index: 1, space: 'probability' };
      assert.deepEqual(await assertNoLeak(() => scoreBatch(adapter, xt, target)), (await tfjsValues(() => adapter.score(xt, target))).data);
      xt.dispose();
    } finally {
      adapter.dispose();
    }
    const { adapter: plain } = loadOnnxModel(demo);
    try {
      const why = await createOrtForward(plain, {}, { runtime: 'onnxruntime-node could not load (no binary for this platform)' });
      assert.equal(why, 'onnxruntime-node could not load (no binary for this platform)');
    } finally {
      plain.dispose();
    }
  });

  it('leaves the forward passes to tfjs while a sanity check re-initialises the weights', async () => {
    const { adapter } = await loadModel(demo, ONE_THREAD);
    try {
      const runner = adapter.forward;
      assert.ok(runner);
      const randomizer = adapter.randomizer();
      assert.ok(typeof randomizer !== 'string');
      const x = images(adapter, 2, 9);
      const xt = tensorOf(adapter, x, 2);
      const target: Target = { index: 0, space: 'logit' };
      const trained = await runner.scores(x, 2, target);
      const snapshot = randomizer.snapshot();
      try {
        snapshot.reinitialize(0, 1);
        assert.equal(adapter.forward, undefined);
        const randomized = await scoreBatch(adapter, xt, target);
        assert.deepEqual(randomized, (await tfjsValues(() => adapter.score(xt, target))).data);
        assert.ok(maxAbsDiff(randomized, trained) > 1e-3, 'the re-initialised logits layer changes the scores');
      } finally {
        snapshot.release();
      }
      assert.equal(adapter.forward, runner);
      assert.ok(maxAbsDiff(await scoreBatch(adapter, xt, target), trained) === 0);
      xt.dispose();
    } finally {
      adapter.dispose();
    }
  });

  it('splits the cores among the workers unless told the threads', () => {
    assert.equal(ortThreads({ threads: 3 }), 3);
    assert.ok(ortThreads({}) >= 1);
    assert.equal(ortThreads({ workers: 1e6 }), 1);
  });

  it('reports onnxruntime errors on one line without the C++ location', () => {
    const err = new Error('/onnxruntime_src/onnxruntime/core/graph/graph.cc:1587 void onnxruntime::Graph::InitializeStateFromModelFileGraphProto() This is an invalid model. Graph output (x) does not exist in the graph.\nmore');
    assert.equal(ortMessage(err), 'This is an invalid model. Graph output (x) does not exist in the graph.');
  });
});

describe('forward helpers on a model without a forward engine (TF.js)', () => {
  before(async () => useBackend('wasm'));
  after(async () => useBackend('cpu'));

  it('scoreBatch, probabilityBatch and activationBatch equal the adapter\'s own values exactly', async () => {
    const { adapter } = await loadModel(path.join(ROOT, 'demo/models/shapes/model.json'));
    try {
      assert.equal(adapter.forward, undefined);
      const n = 4;
      const x = images(adapter, n, 11);
      const xt = tensorOf(adapter, x, n);
      const target: Target = { index: 2, space: 'logit' };
      const want = await tfjsValues(() => adapter.score(xt, target));
      assert.deepEqual(await assertNoLeak(() => scoreBatch(adapter, xt, target)), want.data);
      assert.deepEqual(await assertNoLeak(() => scoreBatch(adapter, { data: x, shape: [n, ...adapter.inputShape] }, target)), want.data);
      assert.deepEqual(await assertNoLeak(() => probabilityBatch(adapter, xt)), (await tfjsValues(() => adapter.probabilities(xt))).data);
      const layer = adapter.defaultLayer()!;
      assert.deepEqual(await assertNoLeak(() => activationBatch(adapter, xt, layer)), await tfjsValues(() => adapter.activations(xt, layer)));
      xt.dispose();
    } finally {
      adapter.dispose();
    }
  });
});


/**
 * Sanity checks on a model loaded from a .keras archive: its layers form randomizable blocks,
 * re-initialise with the initializer their Keras config names, and are restored bit for bit.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { KERAS_V3_FORMAT } from '../../../src/extension/model/formats/keras/format';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { LayersWeightSnapshot, randomizableBlocks } from '../../../src/extension/model/layers-randomizer';
import { configuredInitializer } from '../../../src/extension/model/layers-initializers';
import { useBackend } from '../../helpers/tf-test';
import * as fs from 'node:fs';

const FIXTURES = path.resolve(__dirname, '../../../..', 'test', 'fixtures', 'keras');

function readRef(name: string): { input: { shape: number[]; data: number[] } } {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.ref.json`), 'utf8')) as { input: { shape: number[]; data: number[] } };
}

const HE_NORMAL = { className: 'VarianceScaling', scale: 2, mode: 'fanIn', distribution: 'normal' };
const GLOROT_UNIFORM = { className: 'VarianceScaling', scale: 1, mode: 'fanAvg', distribution: 'uniform' };

/** The class and parameters of the initializer the sanity check uses for a layer's first weight. */
function initConfig(layer: Parameters<typeof configuredInitializer>[0]): Record<string, unknown> | undefined {
  const init = configuredInitializer(layer, layer.weights[0], 1) as unknown as { getClassName(): string; getConfig(): Record<string, unknown> } | undefined;
  if (!init) return undefined;
  const { scale, mode, distribution } = init.getConfig();
  return { className: init.getClassName(), scale, mode, distribution };
}

describe('sanity randomizer on Keras models', () => {
  before(async () => useBackend('cpu'));

  for (const name of ['resnet_tiny', 'vit_tiny']) {
    it(`${name}.keras: blocks re-initialise with their configured initializers and restore bit for bit`, async () => {
      const { adapter } = await KERAS_V3_FORMAT.load(path.join(FIXTURES, `${name}.keras`), {});
      assert.ok(adapter instanceof LayersModelAdapter);
      const model = adapter.model;
      const ref = readRef(name);
      const x = tf.tensor4d(ref.input.data, ref.input.shape as [number, number, number, number]);
      try {
        const blocks = randomizableBlocks(model);
        assert.equal(blocks[0].name, 'predictions', 'blocks run from the logits down');
        const layerNames = blocks.flatMap((b) => b.layers.map((l) => l.name));
        if (name === 'resnet_tiny') {
          // conv → BN pairs are one block each.
          assert.deepEqual(blocks.find((b) => b.name === 'block1_1_conv')?.layers.map((l) => l.name), ['block1_1_conv', 'block1_1_bn']);
          const conv = model.getLayer('block1_1_conv');
          // tfjs writes HeNormal / GlorotUniform as the VarianceScaling they are.
          assert.deepEqual(initConfig(conv), HE_NORMAL, 'the kernel_initializer of the Keras config (he_normal)');
          assert.deepEqual(initConfig(model.getLayer('conv1_conv')), GLOROT_UNIFORM);
        } else {
          for (const l of ['block1_attn', 'block1_ln1', 'pos_embed', 'block1_mlp2']) assert.ok(layerNames.includes(l), `${l} is randomizable`);
          assert.deepEqual(initConfig(model.getLayer('block1_attn')), GLOROT_UNIFORM);
          assert.deepEqual(initConfig(model.getLayer('pos_embed')), GLOROT_UNIFORM);
        }
        const before = model.weights.map((v) => Buffer.from((v.read().dataSync() as Float32Array).buffer).toString('base64'));
        const p0 = adapter.probabilities(x);
        const expected = await p0.data();
        const snapshot = new LayersWeightSnapshot(model, blocks);
        try {
          for (const [i, b] of blocks.entries()) {
            snapshot.reinitialize(b, 42 + i);
          }
          const p1 = adapter.probabilities(x);
          let changed = 0;
          const got = await p1.data();
          for (let i = 0; i < got.length; i++) changed = Math.max(changed, Math.abs(got[i] - expected[i]));
          assert.ok(changed > 1e-4, 'randomizing every block changes the outputs');
          tf.dispose(p1);
        } finally {
          snapshot.release();
        }
        const after = model.weights.map((v) => Buffer.from((v.read().dataSync() as Float32Array).buffer).toString('base64'));
        assert.deepEqual(after, before, 'weights restored bit for bit');
        const p2 = adapter.probabilities(x);
        assert.deepEqual(Array.from(await p2.data()), Array.from(expected));
        tf.dispose([p0, p2]);
      } finally {
        x.dispose();
        adapter.dispose();
      }
    });
  }
});

/**
 * Keras models read directly: every fixture model of test/fixtures/keras (made by
 * make_models.py with Keras 3) loaded from its .keras archive and its legacy .h5 file must give
 * Keras' own outputs, the named layer's activation and the input gradient of a class score; the
 * adapter must see its layers; unsupported layers, corrupt and truncated files fail with one line.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { KERAS_H5_FORMAT, KERAS_V3_FORMAT } from '../../../src/extension/model/formats/keras/format';
import type { ModelFormat } from '../../../src/extension/model/formats/format';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { UserError } from '../../../src/shared/errors';
import { maxAbsDiff, pearson, useBackend } from '../../helpers/tf-test';

const ROOT = path.resolve(__dirname, '../../../..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'keras');

interface Arr {
  shape: number[];
  data: number[];
}
interface Ref {
  input: Arr;
  outputs: Arr;
  logits: Arr;
  layer: string;
  activation: Arr;
  target: number;
  inputGradient: Arr;
  keras_version: string;
}

function readRef(name: string): Ref {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.ref.json`), 'utf8')) as Ref;
}

const MODELS = ['resnet_tiny', 'mobilenet_tiny', 'efficientnet_tiny', 'densenet_tiny', 'nested_tiny', 'sequential_tiny', 'vit_tiny', 'mobilenetv3_small', 'dilated_tiny'];
const FORMATS: [string, ModelFormat][] = [['.keras', KERAS_V3_FORMAT], ['.h5', KERAS_H5_FORMAT]];

/** max |a − b| relative to max(|b|, 1). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(b[i]));
  return maxAbsDiff(a, b) / Math.max(m, 1);
}

describe('Keras formats: outputs, activations and gradients equal Keras\'', () => {
  before(async () => useBackend('cpu'));

  for (const name of MODELS) {
    for (const [ext, format] of FORMATS) {
      const file = path.join(FIXTURES, name + ext);
      it(`${name}${ext}`, async (t) => {
        if (!fs.existsSync(file)) {
          t.skip(`${name}${ext} is not in the fixtures`);
          return;
        }
        const head = fs.readFileSync(file).subarray(0, 4096);
        assert.ok(format.claims(file, head), 'the format claims its file');
        const other = FORMATS.find(([, f]) => f !== format)![1];
        assert.ok(!other.claims(file, head), 'the other format does not');
        const ref = readRef(name);
        const { adapter, embeddedMetadata, warnings } = await format.load(file, {});
        try {
          assert.ok(adapter instanceof LayersModelAdapter);
          assert.equal(embeddedMetadata?.keras_version, ref.keras_version);
          assert.deepEqual(warnings ?? [], []);
          const x = tf.tensor4d(ref.input.data, ref.input.shape as [number, number, number, number]);
          const probs = adapter.probabilities(x);
          const logits = adapter.logits(x);
          const outDiff = relDiff(await probs.data(), ref.outputs.data);
          const logitDiff = relDiff(await logits.data(), ref.logits.data);
          assert.ok(outDiff <= 1e-4, `outputs differ by ${outDiff}`);
          assert.ok(logitDiff <= 1e-4, `logits differ by ${logitDiff}`);
          const act = adapter.activations(x, ref.layer);
          assert.deepEqual(act.shape, ref.activation.shape);
          const actDiff = relDiff(await act.data(), ref.activation.data);
          assert.ok(actDiff <= 1e-4, `activation of ${ref.layer} differs by ${actDiff}`);
          const { grad, scores } = adapter.inputGradient(x, { index: ref.target, space: 'probability' });
          const r = pearson(await grad.data(), ref.inputGradient.data);
          assert.ok(r >= 0.999, `input gradient correlation ${r}`);
          t.diagnostic(`max rel diff outputs ${outDiff.toExponential(2)}, logits ${logitDiff.toExponential(2)}, ${ref.layer} ${actDiff.toExponential(2)}; gradient r = ${r.toFixed(6)}`);
          assert.ok(adapter.layers.some((l) => l.name === ref.layer), `the adapter lists ${ref.layer}`);
          assert.ok(adapter.defaultLayer() !== undefined, 'a default layer is found');
          tf.dispose([x, probs, logits, act, grad, scores]);
        } finally {
          adapter.dispose();
        }
      });
    }
  }
});

describe('Keras formats: errors are one line naming the file', () => {
  let dir: string;
  before(async () => {
    await useBackend('cpu');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keras-format-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function rejectsWith(p: Promise<unknown>, check: (msg: string) => void): Promise<void> {
    await assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof UserError, `a UserError, got ${String(err)}`);
      assert.ok(!err.message.includes('\n'), 'one line');
      check(err.message);
      return true;
    });
  }

  it('truncated .keras', async () => {
    const bytes = fs.readFileSync(path.join(FIXTURES, 'resnet_tiny.keras'));
    const file = path.join(dir, 'cut.keras');
    fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await rejectsWith(KERAS_V3_FORMAT.load(file, {}), (m) => assert.match(m, /cut\.keras/));
  });

  it('corrupt .keras (garbage after the zip signature)', async () => {
    const file = path.join(dir, 'junk.keras');
    fs.writeFileSync(file, Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(2000, 7)]));
    await rejectsWith(KERAS_V3_FORMAT.load(file, {}), (m) => assert.match(m, /junk\.keras/));
  });

  it('truncated .h5', async () => {
    const bytes = fs.readFileSync(path.join(FIXTURES, 'resnet_tiny.h5'));
    const file = path.join(dir, 'cut.h5');
    fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await rejectsWith(KERAS_H5_FORMAT.load(file, {}), (m) => assert.match(m, /cut\.h5/));
  });

  it('corrupt .h5 (signature, then garbage)', async () => {
    const file = path.join(dir, 'junk.h5');
    fs.writeFileSync(file, Buffer.concat([Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(3000, 3)]));
    await rejectsWith(KERAS_H5_FORMAT.load(file, {}), (m) => assert.match(m, /junk\.h5/));
  });

  it('a weights-only .h5 says so', async () => {
    const file = path.join(FIXTURES, 'weights_only.weights.h5');
    await rejectsWith(KERAS_H5_FORMAT.load(file, {}), (m) => assert.match(m, /weights_only\.weights\.h5 holds no model config/));
  });

  it('unknown layer classes are all listed with their counts, in one error', async () => {
    const file = path.join(FIXTURES, 'unsupported.keras');
    await rejectsWith(KERAS_V3_FORMAT.load(file, {}), (m) => {
      assert.ok(m.startsWith(`${file} uses layers XAI Lens does not support: `), m);
      assert.match(m, /: GroupNormalization ×2, UnitNormalization ×1$/);
    });
  });

  it('claims by extension and magic bytes only', () => {
    const zipHead = Buffer.from('PK\x03\x04rest');
    const h5Head = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
    assert.ok(KERAS_V3_FORMAT.claims('a/model.keras', zipHead));
    assert.ok(!KERAS_V3_FORMAT.claims('a/model.zip', zipHead));
    assert.ok(!KERAS_V3_FORMAT.claims('a/model.keras', h5Head));
    assert.ok(KERAS_H5_FORMAT.claims('a/model.h5', h5Head));
    assert.ok(KERAS_H5_FORMAT.claims('a/model.hdf5', h5Head));
    assert.ok(!KERAS_H5_FORMAT.claims('a/model.h5', zipHead));
    assert.ok(!KERAS_H5_FORMAT.claims('a/model.json', h5Head));
  });
});

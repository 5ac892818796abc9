/**
 * The defects the model.json fuzz found, each with a known answer: configs tfjs-layers loops on
 * forever or allocates gigabytes for, loads that failed half-way and left the model's tensors
 * behind, a shared layer whose weights outlived its model, a falsy useBias, duplicate weights.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel } from '../../../src/extension/model/load';
import { UserError } from '../../../src/shared/errors';
import { useBackend } from '../../helpers/tf-test';

type Layer = { name: string; class_name: string; config: Record<string, unknown>; inbound_nodes: unknown[][] };
type ModelJson = { modelTopology: { config: { layers: Layer[] } }; weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[] };

const SHAPES = path.join('demo', 'models', 'shapes');
let tmp: string;
let n = 0;
before(async () => {
  await useBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-defects-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The shapes demo model, changed by `edit`, in a fresh folder; its model.json. */
function shapes(edit: (json: ModelJson) => void): string {
  const dir = path.join(tmp, String(n++));
  fs.mkdirSync(dir);
  const json = JSON.parse(fs.readFileSync(path.join(SHAPES, 'model.json'), 'utf8')) as ModelJson;
  edit(json);
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  fs.copyFileSync(path.join(SHAPES, 'weights.bin'), path.join(dir, 'weights.bin'));
  return path.join(dir, 'model.json');
}

const layer = (json: ModelJson, name: string) => json.modelTopology.config.layers.find((l) => l.name === name)!;

/** Loads `file` expecting a one-line UserError matching `re`, and no tensor left behind. */
async function refused(file: string, re: RegExp): Promise<void> {
  const tensors = tf.memory().numTensors;
  await assert.rejects(loadModel(file), (err: unknown) => err instanceof UserError && re.test(err.message) && !err.message.includes('\n'));
  assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
}

test('an inbound node naming a layer that is not in the model, or a call the layer never gets, is refused (tfjs-layers looped forever)', { timeout: 60_000 }, async () => {
  await refused(shapes((j) => (layer(j, 'conv1_bn').inbound_nodes = [[['nope', 0, 0, {}]]])), /the model topology of .*model\.json is malformed: the layer "conv1_bn" takes its input from the layer "nope", which is not in the model/);
  await refused(shapes((j) => (layer(j, 'conv1_bn').inbound_nodes = [[['conv1', 3, 0, {}]]])), /the layer "conv1_bn" takes its input from node 3 of the layer "conv1", which never gets that many calls/);
  await refused(shapes((j) => (layer(j, 'conv1').inbound_nodes = [[['conv1_relu', 0, 0, {}]]])), /the layer "conv1" takes its input from node 0 of the layer "conv1_relu", which never gets that many calls/);
  await refused(shapes((j) => (layer(j, 'conv1_bn').inbound_nodes = [[['conv1', [[[[1]]]], 0, {}]]])), /the inbound nodes of the layer "conv1_bn" are not lists of \[layer, node, tensor\] references/);
});

test('a layer config asking for more weight values than the manifest holds is refused before anything is allocated', { timeout: 60_000 }, async () => {
  await refused(shapes((j) => (layer(j, 'conv1').config.filters = 1e9)), /the layer "conv1" asks for a weight of 48000000000 values, more than the file's weights hold/);
  await refused(shapes((j) => (layer(j, 'conv1').config.filters = 2 ** 20)), /asks for a weight of \d+ values, more than the file's weights hold/);
});

test('loads that fail half-way leave no tensors: weights that do not fit, a weight name tfjs refuses, a bad layer after good ones', async () => {
  await refused(shapes((j) => (j.weightsManifest[0].weights[1].name = 'nope')), /Provided weight data has no target variable: nope/);
  await refused(shapes((j) => j.weightsManifest[0].weights.splice(1, 1, { name: 'nope', shape: [8], dtype: 'float32' })), /cannot load/);
  await refused(shapes((j) => (layer(j, 'block1_conv1').config.name = 'a,b')), /Not a valid tensor name: 'a,b/);
  await refused(shapes((j) => (layer(j, 'block2_conv1').config.kernel_size = 'x')), /cannot load/);
});

test('a weight listed twice in the manifest is refused (the second would hide the first)', async () => {
  await refused(shapes((j) => (j.weightsManifest[0].weights[1].name = j.weightsManifest[0].weights[0].name)), /the weight conv1\/kernel is listed twice in the manifest/);
});

test('a layer called twice in one model (a shared layer) has its weights disposed with the model', async () => {
  const file = shapes((j) => layer(j, 'conv1_bn').inbound_nodes.push(layer(j, 'conv1_bn').inbound_nodes[0]));
  const tensors = tf.memory().numTensors;
  const m = await loadModel(file);
  m.adapter.dispose();
  assert.equal(tf.memory().numTensors, tensors);
});

test('useBias given as 0 (falsy, not false) means no bias, as tfjs-layers builds it', async () => {
  const file = shapes((j) => {
    layer(j, 'block1_conv1').config.use_bias = 0;
    const bias = { name: 'block1_conv1/bias', shape: [8], dtype: 'float32' };
    assert.ok(!j.weightsManifest[0].weights.some((w) => w.name === bias.name), 'the demo conv has no bias');
  });
  const tensors = tf.memory().numTensors;
  const m = await loadModel(file);
  const x = tf.zeros([1, 64, 64, 3]) as tf.Tensor4D;
  tf.tidy(() => {
    m.adapter.probabilities(x);
  });
  x.dispose();
  m.adapter.dispose();
  assert.equal(tf.memory().numTensors, tensors);
});

/**
 * The model-format seam: which format claims a file (by name and first bytes), how a folder
 * resolves to its model file, which files make up a checkpoint, the metadata convention beside
 * any model file, and the `raw` preprocessing preset.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { fsSaveHandler } from '../../../src/extension/model/fs-io';
import { checkpointFiles, checkpointTime, claimingFormat, formatOf, modelFilesGlob, resolveModelFile } from '../../../src/extension/model/formats/registry';
import { metadataFileFor, readModelMetadata } from '../../../src/extension/model/metadata';
import { looksHalfWritten } from '../../../src/extension/model/model-cache';
import { loadModel, modelDisplayName } from '../../../src/extension/model/load';
import { modelHash } from '../../../src/extension/tcav/activation-cache';
import { preprocess } from '../../../src/extension/image/preprocess';
import { UserError } from '../../../src/shared/errors';
import { mayHaveAttention } from '../../../src/extension/attention/attention-cache';
import { loadAttentionModel } from '../../../src/extension/attention/load-attention';
import { blankInputs } from '../../../src/extension/attention/attention-model';
import { useBackend } from '../../helpers/tf-test';
import { branchingModel } from '../../helpers/models';
import { writeGraphModel } from '../../helpers/graph-model';

before(() => useBackend('cpu'));

const tmp = (name: string) => fs.mkdtempSync(path.join(os.tmpdir(), `xai-${name}-`));

test('a layers model.json and a graph model.json are claimed by their own formats, with their shards as the checkpoint', async () => {
  const layersDir = tmp('layers');
  await branchingModel().save(fsSaveHandler(layersDir, { shardBytes: 1000 }));
  const layersFile = path.join(layersDir, 'model.json');
  assert.equal(formatOf(layersFile).id, 'tfjs-layers');
  const files = checkpointFiles(layersDir);
  assert.equal(files[0], layersFile);
  assert.deepEqual(files.slice(1).map((f) => path.basename(f)).sort(), fs.readdirSync(layersDir).filter((f) => f.endsWith('.bin')).sort());
  assert.ok(files.length > 2);
  const latest = Math.max(...files.map((f) => fs.statSync(f).mtimeMs));
  assert.equal(checkpointTime(layersDir), new Date(latest).toISOString());

  const graphDir = tmp('graph');
  writeGraphModel(graphDir);
  assert.equal(formatOf(path.join(graphDir, 'model.json')).id, 'tfjs-graph');
  assert.equal(formatOf(path.join(graphDir, 'model.json')).watchPattern(path.join(graphDir, 'model.json')), '{model.json,*.bin}');
});

test('files no format reads get one line naming the file; folders resolve to their one model', () => {
  const dir = tmp('formats');
  const png = path.join(dir, 'picture.png');
  fs.writeFileSync(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
  assert.equal(claimingFormat(png), undefined);
  assert.throws(() => formatOf(png), (e: unknown) => e instanceof UserError && e.message.startsWith(`${png} is not a model XAI Lens reads`) && !e.message.includes('\n'));
  const notes = path.join(dir, 'notes.json');
  fs.writeFileSync(notes, '{"a": 1}');
  assert.equal(claimingFormat(notes), undefined, 'a JSON file without modelTopology is no model');
  const named = path.join(dir, 'model.json');
  fs.writeFileSync(named, '{"a": 1}');
  assert.equal(claimingFormat(named)?.id, 'tfjs-layers', 'a model.json is claimed by name, so its loader can say what is wrong with it');
  fs.rmSync(named);
  assert.throws(() => resolveModelFile(dir), /no model found in/);
  assert.throws(() => resolveModelFile(path.join(dir, 'missing')), /no model found at/);
  assert.equal(resolveModelFile(png), png, 'a file is taken as named; its format is checked on load');
});

test('the model picker glob covers every format', () => {
  const glob = modelFilesGlob();
  for (const name of ['model.json', '*.onnx', '*.keras', '*.h5']) assert.ok(glob.includes(name), `${glob} lacks ${name}`);
  assert.match(glob, /^\*\*\/\{.*model\.json.*\}$/);
});

test('metadata beside any model file: <file>.json wins over metadata.json; labels.txt gives labels', () => {
  const dir = tmp('meta');
  const model = path.join(dir, 'ckpt.onnx');
  fs.writeFileSync(model, Buffer.from([0x08, 0x07]));
  assert.equal(metadataFileFor(model), undefined);
  fs.writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify({ preprocess: 'imagenet', labels: ['a', 'b'] }));
  assert.equal(metadataFileFor(model), path.join(dir, 'metadata.json'));
  fs.writeFileSync(path.join(dir, 'ckpt.onnx.json'), JSON.stringify({ preprocess: 'raw', labels: ['x', 'y'] }));
  assert.equal(metadataFileFor(model), path.join(dir, 'ckpt.onnx.json'));
  const meta = readModelMetadata(model, { preprocess: 'unit', patchGrid: [2, 2] }, 2);
  assert.equal(meta.preprocess, 'raw', 'the file beside the model overrides what the model carries');
  assert.deepEqual(meta.labels, ['x', 'y']);
  assert.deepEqual(meta.extra?.patchGrid, [2, 2]);
  fs.writeFileSync(path.join(dir, 'labels.txt'), 'cat\ndog\n');
  assert.deepEqual(readModelMetadata(model, undefined, 2).labels, ['cat', 'dog']);
  const wrong = readModelMetadata(model, undefined, 3);
  assert.equal(wrong.labels, undefined);
  assert.ok(wrong.warnings.some((w) => /ckpt\.onnx\.json has 2 labels but the model has 3 outputs/.test(w)), wrong.warnings.join('; '));
});

test('display names: the folder for model.*, else the file stem', () => {
  assert.equal(modelDisplayName(path.join('a', 'resnet', 'model.json')), 'resnet');
  assert.equal(modelDisplayName(path.join('a', 'resnet', 'model.onnx')), 'resnet');
  assert.equal(modelDisplayName(path.join('a', 'runs', 'epoch-3.keras')), 'epoch-3');
});

test('errors a half-written checkpoint produces are retried; others are not', () => {
  for (const m of ['weight shard w.bin listed in model.json is missing', 'x.onnx is truncated', 'x.keras is not a valid zip archive', 'x is not a model XAI Lens reads (expected …)']) {
    assert.ok(looksHalfWritten(m), m);
  }
  assert.ok(!looksHalfWritten('the model has no layer named "conv9"'));
});

test('the raw preset passes 0..255 through unchanged, as float32', () => {
  const px = tf.tensor4d([0, 128, 255, 7], [1, 2, 2, 1], 'int32');
  const out = preprocess(px, 'raw');
  assert.equal(out.dtype, 'float32');
  assert.deepEqual([...out.dataSync()], [0, 128, 255, 7]);
  tf.dispose([px, out]);
});

test('a Keras ViT saved as .keras and as .h5 opens for attention maps: its MultiHeadAttention layers, rows summing to 1', async () => {
  for (const file of [path.join('test', 'fixtures', 'keras', 'vit_tiny.keras'), path.join('test', 'fixtures', 'keras', 'vit_tiny.h5')]) {
    assert.ok(mayHaveAttention(file), file);
    const m = await loadAttentionModel(file);
    assert.ok(m.layers.length > 0, `${file}: attention layers`);
    const inputs = blankInputs(m.inputs);
    const capture = m.capture(inputs);
    tf.dispose(inputs);
    const [first] = m.layers;
    const p = capture.probabilities[0];
    for (let h = 0; h < first.heads; h++) {
      for (let q = 0; q < first.queryTokens; q++) {
        let sum = 0;
        for (let k = 0; k < first.keyTokens; k++) sum += p[(h * first.queryTokens + q) * first.keyTokens + k];
        assert.ok(Math.abs(sum - 1) < 1e-5, `${file}: head ${h} row ${q} sums to ${sum}`);
      }
    }
    m.dispose();
  }
  assert.ok(!mayHaveAttention(path.join('test', 'fixtures', 'keras', 'resnet_tiny.keras')));
});

test('an ONNX checkpoint is the model file and its external data: both are hashed (TCAV caches) and watched', () => {
  const dir = tmp('onnx-ext');
  for (const f of ['resnet.ext.onnx', 'resnet.ext.onnx.data']) fs.copyFileSync(path.join('test', 'fixtures', 'onnx-models', f), path.join(dir, f));
  const file = path.join(dir, 'resnet.ext.onnx');
  assert.equal(formatOf(file).id, 'onnx');
  assert.deepEqual(checkpointFiles(file), [file, path.join(dir, 'resnet.ext.onnx.data')]);
  assert.match(formatOf(file).watchPattern(file), /resnet\.ext\.onnx\.data/);
  const before = modelHash(file);
  const data = path.join(dir, 'resnet.ext.onnx.data');
  const bytes = fs.readFileSync(data);
  bytes[bytes.length - 1] ^= 1;
  fs.writeFileSync(data, bytes);
  assert.notEqual(modelHash(file), before, 'new weights in the side file are a new checkpoint');
});

test('Keras files are claimed by extension and magic bytes: a zip named .keras, HDF5 named .h5; a weights-only .weights.h5 is refused with the reason', async () => {
  const keras = path.join('demo', 'models', 'shapes-keras', 'model.keras');
  const h5 = path.join('demo', 'models', 'shapes-keras-h5', 'model.h5');
  assert.equal(formatOf(keras).id, 'keras');
  assert.equal(formatOf(h5).id, 'keras-h5');
  assert.deepEqual(checkpointFiles(keras), [keras]);
  const dir = tmp('keras-names');
  const renamed = path.join(dir, 'model.h5');
  fs.copyFileSync(keras, renamed);
  assert.equal(claimingFormat(renamed), undefined, 'a zip is no HDF5 file, whatever its name');
  await assert.rejects(loadModel(path.join('test', 'fixtures', 'keras', 'weights_only.weights.h5')), /holds no model config/);
});

test('the side files a model names are found once while the model file stays the same, and again when it changes', () => {
  const dir = tmp('onnx-named');
  for (const f of ['resnet.ext.onnx', 'resnet.ext.onnx.data']) fs.copyFileSync(path.join('test', 'fixtures', 'onnx-models', f), path.join(dir, f));
  const file = path.join(dir, 'resnet.ext.onnx');
  const format = formatOf(file);
  const original = format.checkpointFiles;
  let calls = 0;
  (format as { checkpointFiles: typeof original }).checkpointFiles = (f: string) => {
    calls++;
    return original.call(format, f);
  };
  try {
    // Just written: its mtime may not change on a rewrite within the same tick, so it is not trusted yet.
    for (let i = 0; i < 2; i++) checkpointTime(file);
    assert.equal(calls, 2, 'a model file written a moment ago is decoded each time');
    calls = 0;
    const earlier = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    fs.utimesSync(file, earlier, earlier);
    for (let i = 0; i < 3; i++) checkpointTime(file);
    assert.equal(calls, 1, 'the model file is decoded once for its side files');
    const later = new Date(Math.floor(Date.now() / 1000) * 1000 + 5000); // whole seconds: every file system keeps them exactly
    fs.utimesSync(file, later, later);
    assert.equal(checkpointTime(file), later.toISOString());
    assert.equal(calls, 2, 'a rewritten model file is read again');
  } finally {
    (format as { checkpointFiles: typeof original }).checkpointFiles = original;
  }
});

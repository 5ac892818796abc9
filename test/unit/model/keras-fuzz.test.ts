/**
 * Fuzz: 200 seeded random mutations of valid Keras files, each loaded in-process by loadModel, the
 * function the CLI and the compute workers load models with, and, when it loads, run forward and
 * backward once (to the input and to the default layer).
 *
 * - 100 of the legacy HDF5 file (the shapes demo model saved as model.h5): bits flipped, the file
 *   cut short, bytes inserted, and a few bytes overwritten in its first 4 KB, where the HDF5
 *   superblock, the root group's object header and the first B-trees and heaps live.
 * - 100 of the Keras 3 archive (model.keras): some mutate the zip's bytes; most open it, mutate
 *   its config.json as JSON (keys deleted, values replaced by garbage or by huge or negative
 *   numbers, layer classes and settings changed, the input shape changed, inbound nodes rewired,
 *   the model's inputs and outputs changed, the text cut short), sometimes its metadata.json and
 *   the bytes of its model.weights.h5, and zip the members again (the small zip writer below).
 *
 * Every load and run must succeed or throw a UserError whose message is one line naming the file
 * and is not a JavaScript error's own words; none may hang, no tensor may be left behind, and
 * memory must stay bounded.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { crc32, readZipMembers } from '../../../src/extension/model/formats/keras/archive';
import { mulberry32, type Rng } from '../../../src/extension/util/seeded-random';
import { BYTE_MUTATIONS as SHARED_BYTE_MUTATIONS, changeSomewhere, exercise, fuzzCases, garbage, get, pick, places, set, type FuzzSummary, type Json } from '../../helpers/model-fuzz';
import { useBackend } from '../../helpers/tf-test';

const H5_FIXTURE = path.join('demo', 'models', 'shapes-keras-h5');
const KERAS_FIXTURE = path.join('demo', 'models', 'shapes-keras');
const CASES = 200;
/** Cases 0 … H5_CASES − 1 mutate the .h5 file, the others the .keras archive. */
const H5_CASES = 100;
const MEMBERS = ['config.json', 'metadata.json', 'model.weights.h5'];

type Obj = { [k: string]: Json };

let tmp: string;
before(async () => {
  await useBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-keras-fuzz-'));
  for (const [fixture, dir] of [[H5_FIXTURE, 'h5'], [KERAS_FIXTURE, 'keras']]) {
    fs.mkdirSync(path.join(tmp, dir));
    for (const f of fs.readdirSync(fixture)) {
      if (fs.statSync(path.join(fixture, f)).isFile()) fs.copyFileSync(path.join(fixture, f), path.join(tmp, dir, f));
    }
  }
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

// ---------------------------------------------------------------------------------------------
// A zip writer: stored members (no compression), as Keras writes its archives.

/** A zip archive of `members`, stored: local file headers, the central directory, the end record. */
function writeZip(members: [string, Uint8Array][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
  for (const [name, data] of members) {
    const n = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    local.writeUInt16LE(0, 28); // extra
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // version made by
    central.writeUInt16LE(20, 6); // version needed
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE(0, 38); // external attributes
    central.writeUInt32LE(offset, 42);
    locals.push(local, n, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    centrals.push(central, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([...locals, cd, end]);
}

// ---------------------------------------------------------------------------------------------
// Byte mutations (of the .h5 file, of the .keras zip, of the archive's model.weights.h5)

const BYTE_MUTATIONS: Array<[string, (b: Buffer, rng: Rng) => Buffer]> = [
  ...SHARED_BYTE_MUTATIONS,
  ['header bytes', (b, rng) => {
    // A few bytes overwritten where the HDF5 superblock, object headers, B-trees and heaps start.
    const out = Buffer.from(b);
    const fills = [() => int(rng, 256), () => 0xff, () => 0, () => 1];
    for (let k = 1 + int(rng, 4); k > 0; k--) {
      const at = int(rng, Math.min(4096, out.length));
      const fill = pick(rng, fills);
      for (let j = 0, n = 1 + int(rng, 8); j < n && at + j < out.length; j++) out[at + j] = fill();
    }
    return out;
  }],
];

// ---------------------------------------------------------------------------------------------
// JSON mutations of config.json (the generic ones as in model-json-fuzz, and Keras-aware ones)

/** The generic change of model-json-fuzz, or a number anywhere made huge, negative or zero. */
function mutateAnywhere(doc: Json, rng: Rng): void {
  if (rng() < 0.25) {
    const numbers = places(doc).filter((p) => typeof get(doc, p) === 'number');
    if (numbers.length > 0) {
      set(doc, pick(rng, numbers), pick(rng, [1e9, 2 ** 31, 2 ** 32 + 1, 1e308, -1, -3, -1e9, 0, 0.5, 65536]));
      return;
    }
  }
  changeSomewhere(doc, rng);
}

/** The layer entries of the model config (the objects among them). */
function layerEntries(doc: Json): Obj[] {
  const config = isObj(doc) ? doc.config : undefined;
  const layers = isObj(config) ? config.layers : undefined;
  return Array.isArray(layers) ? layers.filter(isObj) : [];
}

const CLASSES = ['Conv2D', 'Dense', 'Flatten', 'Add', 'Concatenate', 'BatchNormalization', 'InputLayer', 'Functional', 'Sequential', 'MultiHeadAttention', 'DepthwiseConv2D', 'MaxPooling2D', 'Reshape', 'Lambda', 'NoSuchLayer', '', 'Conv\n2D', 'Dense\u001b[31m'];
const SETTING_KEYS = ['filters', 'kernel_size', 'strides', 'units', 'axis', 'padding', 'epsilon', 'scale', 'offset', 'activation', 'dilation_rate', 'data_format', 'use_bias', 'momentum', 'keepdims', 'center', 'dtype', 'pool_size', 'target_shape', 'rate', 'groups', 'name'];
const SETTINGS: Json[] = [-3, 0, -1, 1e9, 2 ** 31, 2 ** 53, 1.5, 1e308, -1e308, null, '', 'x', 'a\nb', [], [-3, -3], [0, 0], [1e9, 1e9], [1, 1, 1], [[1e9, 1e9], [1, 1]], {}, true, 'same', 'channels_first', 'softmax', 'nope', 'float16', 'int32', 'string'];
const INPUT_SHAPES: Json[] = [[null, 0, 64, 3], [null, 64, 64], [null, 1e9, 1e9, 3], [null, -1, 64, 3], [64, 64, 3], [null, 64, 64, 4], [null, 64, 64, 1], [null, null, null, 3], [null, 1, 1, 3], [null, 2 ** 31, 2, 3], [null, 1.5, 64, 3], null, [], 'x', [null, 64, 64, 3, 1]];
const NODE_INDICES: Json[] = [0, 1, -1, 1e9, 0.5, 2 ** 53, '0', null];

type ConfigMutation = (doc: Json, rng: Rng) => void;

const CONFIG_MUTATIONS: Array<[string, ConfigMutation]> = [
  ['anywhere', mutateAnywhere],
  ['layer class', (doc, rng) => {
    const layers = layerEntries(doc);
    if (layers.length > 0) pick(rng, layers).class_name = pick(rng, CLASSES);
  }],
  ['layer setting', (doc, rng) => {
    const withConfig = layerEntries(doc).filter((l) => isObj(l.config));
    if (withConfig.length === 0) return;
    const config = pick(rng, withConfig).config as Obj;
    const own = Object.keys(config);
    const key = rng() < 0.6 && own.length > 0 ? pick(rng, own) : pick(rng, SETTING_KEYS);
    config[key] = pick(rng, SETTINGS);
  }],
  ['input shape', (doc, rng) => {
    const input = layerEntries(doc).find((l) => l.class_name === 'InputLayer');
    if (input && isObj(input.config)) input.config[rng() < 0.8 ? 'batch_shape' : 'batch_input_shape'] = pick(rng, INPUT_SHAPES);
  }],
  ['inbound nodes', (doc, rng) => {
    const layers = layerEntries(doc);
    const names: Json[] = [...layers.map((l) => l.name ?? null), 'nope', '', 5, null];
    const called = layers.filter((l) => Array.isArray(l.inbound_nodes) && l.inbound_nodes.length > 0);
    if (called.length === 0) return;
    const layer = pick(rng, called);
    const nodes = layer.inbound_nodes as Json[];
    const node = pick(rng, nodes);
    const args = isObj(node) && Array.isArray(node.args) ? node.args : undefined;
    const ref = args && isObj(args[0]) && isObj(args[0].config) ? args[0].config : undefined;
    const op = int(rng, 8);
    if (op === 0 && ref) ref.keras_history = [pick(rng, names), pick(rng, NODE_INDICES), pick(rng, [0, 1, 5, -1])];
    else if (op === 1 && ref) (ref.keras_history as Json[])[0] = pick(rng, names); // rewired, maybe to itself or a later layer
    else if (op === 2 && args) args.splice(0, args.length, ...pick(rng, [[], [1], [args[0], args[0]], [[args[0]]], ['x'], [[]]] as Json[][]));
    else if (op === 3 && isObj(node)) node.kwargs = pick(rng, [{ value: args?.[0] ?? null }, { training: true }, { mask: args?.[0] ?? null }, 5, []] as Json[]);
    else if (op === 4) layer.inbound_nodes = pick(rng, [[], [nodes[0], nodes[0]], [[['image', 0, 0, {}]]], [['image', 0, 0]], 'x', [5]] as Json[]);
    else if (op === 5) layers.splice(int(rng, layers.length), 1);
    else if (op === 6) {
      const config = (doc as Obj).config as Obj;
      const list = config.layers as Json[];
      list.push(list[int(rng, list.length)]); // a layer twice
    } else if (isObj(node)) (nodes as Json[])[nodes.indexOf(node)] = garbage(rng);
  }],
  ['model inputs and outputs', (doc, rng) => {
    const config = isObj(doc) && isObj(doc.config) ? doc.config : undefined;
    if (!config) return;
    const refs: Json[] = [['nope', 0, 0], ['conv1_conv', 0, 0], [['image', 0, 0], ['image', 0, 0]], [], null, ['image', 5, 0], ['predictions', 0, 3], ['predictions', -1, 0], 'image', [['predictions', 0, 0], ['avg_pool', 0, 0]]];
    config[rng() < 0.5 ? 'input_layers' : 'output_layers'] = pick(rng, refs);
  }],
  ['model class', (doc, rng) => {
    if (!isObj(doc)) return;
    const op = int(rng, 3);
    if (op === 0) doc.class_name = pick(rng, ['Sequential', 'Model', 'MyModel', 'Functional', '', 5] as Json[]);
    else if (op === 1 && isObj(doc.config)) doc.config.layers = pick(rng, [[], null, {}, [5], [[]]] as Json[]);
    else if (isObj(doc.config)) doc.config = pick(rng, [null, [], 'x', { layers: [] }] as Json[]);
  }],
];

const METADATA: Json[] = [{ keras_version: '2.15.0' }, { keras_version: '1' }, { keras_version: 'x' }, { keras_version: 5 }, { keras_version: null }, { keras_version: '3'.repeat(1000) }, [], 'x', null, { keras_version: '3.15.1', labels: ['a', 'b', 'c'] }];

// ---------------------------------------------------------------------------------------------

/** Case i's file: a mutation of the .h5 file, or of the .keras archive. */
function mutated(h5: Buffer, keras: Map<string, Uint8Array>, i: number): { bytes: Buffer; kind: string; ext: 'h5' | 'keras' } {
  const rng = mulberry32(0x4e5a + i);
  if (i < H5_CASES) {
    const [kind, f] = BYTE_MUTATIONS[i % BYTE_MUTATIONS.length];
    return { bytes: f(h5, rng), kind: `h5 ${kind}`, ext: 'h5' };
  }
  const j = i - H5_CASES;
  if (j % 5 === 0) {
    const [kind, f] = BYTE_MUTATIONS[(j / 5) % 3];
    return { bytes: f(writeZip(MEMBERS.map((m) => [m, keras.get(m)!])), rng), kind: `zip ${kind}`, ext: 'keras' };
  }
  const kinds: string[] = [];
  const doc = JSON.parse(new TextDecoder().decode(keras.get('config.json'))) as Json;
  let text: string | undefined;
  for (let k = 0, n = 1 + int(rng, 3); k < n; k++) {
    if (rng() < 0.06) {
      const s = JSON.stringify(doc);
      text = s.slice(0, int(rng, s.length));
      kinds.push('truncation');
      break;
    }
    const [kind, f] = pick(rng, CONFIG_MUTATIONS);
    f(doc, rng);
    kinds.push(kind);
  }
  let metadata = keras.get('metadata.json')!;
  if (rng() < 0.15) {
    metadata = Buffer.from(JSON.stringify(pick(rng, METADATA)));
    kinds.push('metadata');
  }
  let weights = keras.get('model.weights.h5')!;
  if (rng() < 0.25) {
    const [kind, f] = pick(rng, BYTE_MUTATIONS);
    weights = f(Buffer.from(weights), rng);
    kinds.push(`weights ${kind}`);
  }
  const members: [string, Uint8Array][] = [['config.json', Buffer.from(text ?? JSON.stringify(doc))], ['metadata.json', metadata], ['model.weights.h5', weights]];
  return { bytes: writeZip(members), kind: kinds.join(' + '), ext: 'keras' };
}

function kerasMembers(): Map<string, Uint8Array> {
  const members = readZipMembers(fs.readFileSync(path.join(KERAS_FIXTURE, 'model.keras')), MEMBERS);
  assert.deepEqual([...members.keys()].sort(), [...MEMBERS].sort());
  return members;
}

test('the zip writer round-trips: a re-zipped model.keras reads back the same members, loads and runs', async () => {
  const members = kerasMembers();
  const zipped = writeZip(MEMBERS.map((m) => [m, members.get(m)!]));
  const back = readZipMembers(zipped, MEMBERS);
  for (const m of MEMBERS) assert.ok(Buffer.from(back.get(m)!).equals(Buffer.from(members.get(m)!)), `${m} reads back as written`);
  const file = path.join(tmp, 'keras', 'model.keras');
  fs.writeFileSync(file, zipped);
  const tensors = tf.memory().numTensors;
  assert.equal(await exercise(file), 'ran');
  const h5 = path.join(tmp, 'h5', 'model.h5');
  fs.copyFileSync(path.join(H5_FIXTURE, 'model.h5'), h5);
  assert.equal(await exercise(h5), 'ran');
  assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
});

test(`${CASES} seeded mutations of valid Keras files (.h5 and .keras): each loads and runs or fails with one line naming the file, none hangs, memory stays bounded`, { timeout: 10 * 60_000 }, async (t) => {
  const h5 = fs.readFileSync(path.join(H5_FIXTURE, 'model.h5'));
  const keras = kerasMembers();
  const runs: FuzzSummary[] = [];
  for (const ext of ['h5', 'keras'] as const) {
    const first = ext === 'h5' ? 0 : H5_CASES;
    const count = ext === 'h5' ? H5_CASES : CASES - H5_CASES;
    const file = path.join(tmp, ext, `model.${ext}`);
    const kindOf = (m: string) => `${ext}: ${m.replace(/^.*?model\.(h5|keras):? ?/, '')}`;
    runs.push(await fuzzCases(file, count, (i) => mutated(h5, keras, first + i), kindOf, true));
  }
  const outcomes = new Map<string, number>();
  for (const run of runs) for (const [k, n] of run.outcomes) outcomes.set(k, (outcomes.get(k) ?? 0) + n);
  const failures = runs.flatMap((r) => r.failures);
  const ran = outcomes.get('ran') ?? 0;
  t.diagnostic(`${ran} ran, ${CASES - ran} refused with ${outcomes.size - (ran > 0 ? 1 : 0)} kinds of message`);
  assert.deepEqual(failures, [], `failures:\n${failures.join('\n')}`);
  assert.ok(ran > 0, 'some mutations leave a model that runs');
  assert.ok(outcomes.size > 10, `the mutations reach many different checks: ${[...outcomes.keys()].join(' | ')}`);
});

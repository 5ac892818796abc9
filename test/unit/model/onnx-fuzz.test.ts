/**
 * Fuzz: 200 seeded random mutations of a valid .onnx file (the PyTorch demo model), each loaded
 * in-process by loadModel, the function the CLI and the compute workers load models with, and,
 * when it loads, run forward and backward once (to the input and to the default layer). Mutations act on the bytes (bit flips, truncation,
 * inserted bytes) and on the decoded protobuf, re-encoded: initializers' dims, types and bytes,
 * nodes' operators, inputs, outputs and attributes, the graph's inputs and outputs, the opset,
 * external data pointing anywhere. Every load and run must succeed or throw a UserError whose
 * message is one line, none may hang, no tensor may be left behind, and memory must stay bounded.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeModel, encodeModel, type AttributeProto, type ModelProto, type TensorProto } from '../../../src/extension/model/formats/onnx/proto';
import { mulberry32, type Rng } from '../../../src/extension/util/seeded-random';
import { BYTE_MUTATIONS, fuzzCases, pick } from '../../helpers/model-fuzz';
import { useBackend } from '../../helpers/tf-test';

const FIXTURE = path.join('demo', 'models', 'shapes-pytorch', 'model.onnx');
const CASES = 200;

let tmp: string;
before(async () => {
  await useBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-onnx-fuzz-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const int = (rng: Rng, n: number) => Math.floor(rng() * n);

const OPS = ['Conv', 'Relu', 'Gemm', 'MatMul', 'Add', 'Reshape', 'Flatten', 'GlobalAveragePool', 'MaxPool', 'Softmax', 'Transpose', 'Concat', 'NoSuchOp', ''];
const NUMBERS = [0, 1, -1, 2, 3, 7, 1e9, -1e9, 2 ** 31 - 1, 2 ** 31, 2 ** 53];
const NAMES = ['', 'nope', 'input', 'x\u0000y', '../x'];
const LOCATIONS = ['../model.onnx', '/dev/zero', 'missing.bin', 'zero.bin', 'data.bin', '', 'folder'];

type Mutation = (m: ModelProto, rng: Rng) => void;

/** Mutations of the decoded model (re-encoded afterwards). */
const MODEL_MUTATIONS: Array<[string, Mutation]> = [
  ['initializer dims', (m, rng) => {
    const t = pick(rng, m.graph!.initializer);
    const op = int(rng, 4);
    if (op === 0) t.dims = [...t.dims, pick(rng, NUMBERS)];
    else if (op === 1) t.dims = t.dims.slice(1);
    else if (op === 2 && t.dims.length > 0) t.dims[int(rng, t.dims.length)] = pick(rng, NUMBERS);
    else t.dims = [];
  }],
  ['initializer type', (m, rng) => {
    pick(rng, m.graph!.initializer).data_type = pick(rng, [0, 2, 6, 7, 8, 9, 10, 11, 14, 16, 99]);
  }],
  ['initializer bytes', (m, rng) => {
    const t = pick(rng, m.graph!.initializer);
    const raw = t.raw_data ?? Buffer.alloc(0);
    const op = int(rng, 4);
    if (op === 0) t.raw_data = raw.subarray(0, int(rng, raw.length + 1));
    else if (op === 1) t.raw_data = Buffer.concat([raw, Buffer.alloc(1 + int(rng, 64))]);
    else if (op === 2) {
      t.raw_data = undefined;
      t.float_data = Array.from({ length: int(rng, 5) }, () => rng());
    } else t.int64_data = [1, 2, 3];
  }],
  ['external data', (m, rng) => {
    const t: TensorProto = pick(rng, m.graph!.initializer);
    t.raw_data = undefined;
    t.data_location = 1;
    t.external_data = [
      { key: 'location', value: pick(rng, LOCATIONS) },
      ...(rng() < 0.5 ? [{ key: 'offset', value: String(pick(rng, [0, 4, -1, 1e12, 3])) }] : []),
      ...(rng() < 0.5 ? [{ key: 'length', value: String(pick(rng, [0, 4, 64, -8, 1e12, 2 ** 33])) }] : []),
    ];
  }],
  ['node operator', (m, rng) => {
    pick(rng, m.graph!.node).op_type = pick(rng, OPS);
  }],
  ['node inputs and outputs', (m, rng) => {
    const nodes = m.graph!.node;
    const n = pick(rng, nodes);
    const op = int(rng, 5);
    if (op === 0 && n.input.length > 0) n.input.splice(int(rng, n.input.length), 1);
    else if (op === 1 && n.input.length > 0) n.input[int(rng, n.input.length)] = pick(rng, NAMES);
    else if (op === 2) n.input.push(...n.output); // a node that feeds itself
    else if (op === 3 && n.output.length > 0) n.output[0] = pick(rng, nodes).output[0] ?? 'dup';
    else nodes.splice(int(rng, nodes.length), 1);
  }],
  ['node attribute', (m, rng) => {
    const withAttrs = m.graph!.node.filter((n) => n.attribute.length > 0);
    if (withAttrs.length === 0) return;
    const n = pick(rng, withAttrs);
    const a: AttributeProto = pick(rng, n.attribute);
    const op = int(rng, 5);
    if (op === 0) n.attribute.splice(n.attribute.indexOf(a), 1);
    else if (op === 1) a.ints = a.ints.length > 0 ? a.ints.map(() => pick(rng, NUMBERS)) : [pick(rng, NUMBERS)];
    else if (op === 2) a.ints = [];
    else if (op === 3) a.i = pick(rng, NUMBERS);
    else a.f = pick(rng, [NaN, Infinity, -1, 0, 1e30]);
  }],
  ['graph inputs and outputs', (m, rng) => {
    const g = m.graph!;
    const v = pick(rng, [...g.input, ...g.output]);
    const dims = v.type?.tensor_type?.shape?.dim;
    const op = int(rng, 5);
    if (op === 0 && dims && dims.length > 0) dims[int(rng, dims.length)] = pick(rng, [{ dim_value: 0 }, { dim_value: -1 }, { dim_value: 1e9 }, { dim_param: 'n' }, {}]);
    else if (op === 1 && dims) dims.splice(int(rng, dims.length), 1);
    else if (op === 2 && v.type?.tensor_type) v.type.tensor_type.elem_type = pick(rng, [0, 6, 7, 8, 11]);
    else if (op === 3) g.output.splice(0, g.output.length);
    else v.name = pick(rng, NAMES);
  }],
  ['opset and version', (m, rng) => {
    if (rng() < 0.5) m.ir_version = pick(rng, [0, 1, 99]);
    else m.opset_import = pick(rng, [[], [{ domain: '', version: 1 }], [{ domain: '', version: 999 }], [{ domain: 'com.example', version: 1 }]]);
  }],
];


/** Case i's file: a byte mutation, or one to three model mutations. */
function mutated(original: Buffer, i: number): { bytes: Buffer; kind: string } {
  const rng = mulberry32(0x0f22 + i);
  if (i % 4 === 0) {
    const [kind, f] = BYTE_MUTATIONS[(i / 4) % BYTE_MUTATIONS.length];
    return { bytes: f(original, rng), kind };
  }
  const model = decodeModel(Buffer.from(original), 'model.onnx');
  const kinds: string[] = [];
  for (let k = 0, n = 1 + int(rng, 3); k < n; k++) {
    const [kind, f] = pick(rng, MODEL_MUTATIONS);
    f(model, rng);
    kinds.push(kind);
  }
  return { bytes: Buffer.from(encodeModel(model)), kind: kinds.join(' + ') };
}

test(`${CASES} seeded mutations of a valid .onnx: each loads and runs or fails with one line, none hangs, memory stays bounded`, { timeout: 10 * 60_000 }, async (t) => {
  const original = fs.readFileSync(FIXTURE);
  const dir = path.join(tmp, 'model');
  fs.mkdirSync(path.join(dir, 'folder'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'data.bin'), Buffer.alloc(256, 1));
  if (process.platform !== 'win32') fs.symlinkSync('/dev/zero', path.join(dir, 'zero.bin'));
  const file = path.join(dir, 'model.onnx');
  const { outcomes, failures } = await fuzzCases(file, CASES, (i) => mutated(original, i), (m) => m.replace(/^.*?model\.onnx:? ?/, ''));
  t.diagnostic(`${outcomes.get('ran') ?? 0} ran, ${CASES - (outcomes.get('ran') ?? 0)} refused with ${outcomes.size - 1} kinds of message`);
  assert.deepEqual(failures, [], `failures:\n${failures.join('\n')}`);
  assert.ok((outcomes.get('ran') ?? 0) > 0, 'some mutations leave a model that runs');
  assert.ok(outcomes.size > 10, `the mutations reach many different checks: ${[...outcomes.keys()].join(' | ')}`);
});

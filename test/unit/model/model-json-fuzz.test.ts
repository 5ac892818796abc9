/**
 * Fuzz: 200 seeded random mutations of a valid model.json, for each kind TF.js saves: a layers
 * model (the shapes demo model, with metadata inside) and a graph model (a converted CNN's ops:
 * fused and plain convolutions, a residual add, a concat skip, a mean, a dense head). Each is
 * loaded in-process by loadModel, the function the CLI and the compute workers load models with,
 * and, when it loads, run forward and differentiated to the input and to the default layer.
 * Mutations: keys deleted or replaced by garbage, types changed, shapes, dtypes, quantization and
 * shard paths changed, huge and negative numbers anywhere, deep nesting, the text truncated; for
 * the graph model also operators renamed and inputs rewired. Every load and run must succeed or
 * throw a UserError whose message is one line (a JavaScript error from inside tfjs may reach it
 * only framed as a malformed topology), none may hang, no tensor may be left behind, and memory
 * must stay bounded.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mulberry32, type Rng } from '../../../src/extension/util/seeded-random';
import { fuzzCases, get, mutate, pick, type FuzzSummary, type Json } from '../../helpers/model-fuzz';
import { writeGraphModel } from '../../helpers/graph-model';
import { useBackend } from '../../helpers/tf-test';

const CASES = 200;

let tmp: string;
before(async () => {
  await useBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-fuzz-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A model folder with `weights` as weights.bin, and the side files the mutations name. */
function modelFolder(name: string, weights: Buffer): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'folder'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'weights.bin'), weights);
  fs.writeFileSync(path.join(tmp, 'weights.bin'), weights);
  if (process.platform !== 'win32') {
    fs.symlinkSync('/dev/zero', path.join(dir, 'zero.bin'));
    fs.symlinkSync(path.join(tmp, 'weights.bin'), path.join(dir, 'link-out.bin'));
  }
  return dir;
}

/** Case i: one to three mutations of `original` (a JSON text), from its own seed. */
function mutated(original: string, i: number, seed: number, extra?: (doc: Json, rng: Rng) => void): { bytes: string; kind: string } {
  const rng = mulberry32(seed + i);
  const doc = JSON.parse(original) as Json;
  for (let k = 0, n = 1 + Math.floor(rng() * 3); k < n; k++) {
    if (extra && rng() < 0.3) {
      extra(doc, rng);
      continue;
    }
    if (mutate(doc, rng) === 'truncate') {
      const s = JSON.stringify(doc);
      return { bytes: s.slice(0, Math.floor(rng() * s.length)), kind: 'truncated' };
    }
  }
  return { bytes: JSON.stringify(doc), kind: 'mutated' };
}

function check(t: { diagnostic(s: string): void }, { outcomes, failures }: FuzzSummary): void {
  t.diagnostic(`${outcomes.get('ran') ?? 0} ran, ${CASES - (outcomes.get('ran') ?? 0)} refused with ${outcomes.size - 1} kinds of message`);
  assert.deepEqual(failures, [], `failures:\n${failures.join('\n')}`);
  assert.ok((outcomes.get('ran') ?? 0) > 0, 'some mutations leave a model that runs');
  assert.ok(outcomes.size > 10, `the mutations reach many different checks: ${[...outcomes.keys()].join(' | ')}`);
}

const kindOf = (message: string) => message.replace(/^.*?model\.json:? ?/, '');

test(`${CASES} seeded mutations of a valid layers model.json: each runs or fails with one line, none hangs, memory stays bounded`, { timeout: 10 * 60_000 }, async (t) => {
  const fixture = path.join('demo', 'models', 'shapes');
  // With metadata inside, as a converter writes it: labels (as a list and as an index map) and a preset.
  const base = JSON.parse(fs.readFileSync(path.join(fixture, 'model.json'), 'utf8')) as Record<string, Json>;
  base.userDefinedMetadata = { labels: ['circle', 'square', 'triangle'], classNames: { 0: 'circle', 1: 'square', 2: 'triangle' }, preprocess: 'unit' };
  const original = JSON.stringify(base);
  const dir = modelFolder('layers', fs.readFileSync(path.join(fixture, 'weights.bin')));
  check(t, await fuzzCases(path.join(dir, 'model.json'), CASES, (i) => mutated(original, i, 0xf022), kindOf));
});

const GRAPH_OPS = ['Conv2D', '_FusedConv2D', 'Relu', 'AddV2', 'ConcatV2', 'Mean', 'MatMul', 'BiasAdd', 'Softmax', 'Identity', 'Reshape', 'Placeholder', 'Const', 'NoSuchOp', ''];

/** Graph-model changes: an operator renamed, an input rewired, dropped or duplicated, a node removed. */
function graphMutation(doc: Json, rng: Rng): void {
  const nodes = get(doc, ['modelTopology', 'node']);
  if (!Array.isArray(nodes) || nodes.length === 0) return;
  const n = pick(rng, nodes);
  if (n === null || typeof n !== 'object' || Array.isArray(n)) return;
  const inputs = Array.isArray(n.input) ? n.input : [];
  const names = nodes.map((m) => (m && typeof m === 'object' && !Array.isArray(m) ? m.name : null)).filter((s): s is string => typeof s === 'string');
  const op = Math.floor(rng() * 5);
  if (op === 0) n.op = pick(rng, GRAPH_OPS);
  else if (op === 1 && inputs.length > 0) inputs[Math.floor(rng() * inputs.length)] = pick(rng, [...names, 'nope', '^x', 'x:1', '']);
  else if (op === 2) n.input = inputs.slice(1);
  else if (op === 3) n.input = [...inputs, ...inputs];
  else nodes.splice(nodes.indexOf(n), 1);
}

test(`${CASES} seeded mutations of a valid graph model.json: each runs or fails with one line, none hangs, memory stays bounded`, { timeout: 10 * 60_000 }, async (t) => {
  const source = path.join(tmp, 'graph-source');
  writeGraphModel(source);
  const original = fs.readFileSync(path.join(source, 'model.json'), 'utf8');
  const dir = modelFolder('graph', fs.readFileSync(path.join(source, 'weights.bin')));
  check(t, await fuzzCases(path.join(dir, 'model.json'), CASES, (i) => mutated(original, i, 0x6a4f, graphMutation), kindOf));
});

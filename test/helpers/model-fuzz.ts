/**
 * Seeded fuzzing of model files, shared by the model.json (layers and graph), ONNX and Keras
 * fuzz tests: random changes to a JSON document (keys deleted or replaced by garbage, types
 * changed, shapes, dtypes, quantization and shard paths changed, huge and negative numbers
 * anywhere, deep nesting, the text truncated), and the loop that loads each mutated file with
 * loadModel, runs what loads (a forward pass, the input gradient and the default layer's
 * gradient) and records what was thrown: every failure must be a one-line UserError in words,
 * no case may hang, no tensor may be left behind and memory must stay bounded.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel } from '../../src/extension/model/load';
import { probabilityBatch } from '../../src/extension/model/forward';
import { UserError } from '../../src/shared/errors';
import type { Rng } from '../../src/extension/util/seeded-random';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];

/** Every place in the document (down to 40 levels): the path of keys and indices to it. */
export function places(doc: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (at.length >= 40) return out;
  if (Array.isArray(doc)) doc.forEach((v, i) => places(v, [...at, i], out));
  else if (doc !== null && typeof doc === 'object') for (const [k, v] of Object.entries(doc)) places(v, [...at, k], out);
  return out;
}

function parentOf(doc: Json, at: (string | number)[]): { parent: Json[] | Record<string, Json>; key: string | number } | undefined {
  if (at.length === 0) return undefined;
  let cur = doc as Json;
  for (const k of at.slice(0, -1)) cur = (cur as Record<string, Json>)[k as string];
  return { parent: cur as Json[] | Record<string, Json>, key: at[at.length - 1] };
}

export function garbage(rng: Rng, depth = 0): Json {
  const simple: Json[] = [null, true, false, 0, -1, 1.5, -1e308, 1e308, 2 ** 31, 2 ** 53, 1e9, '', 'x', 'float32', '../weights.bin', [], {}];
  if (depth > 3 || rng() < 0.6) return pick(rng, simple);
  if (rng() < 0.5) return Array.from({ length: 1 + Math.floor(rng() * 3) }, () => garbage(rng, depth + 1));
  const o: Record<string, Json> = {};
  for (let i = 0; i < 1 + Math.floor(rng() * 3); i++) o[pick(rng, ['name', 'shape', 'dtype', 'paths', 'weights', 'config', 'class_name', 'layers', 'x'])] = garbage(rng, depth + 1);
  return o;
}

function deep(levels: number): Json {
  let v: Json = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

const SHARD_NAMES = ['../weights.bin', 'sub/../../weights.bin', 'nope.bin', '', 'weights.bin\n', 'a\u0000b', '/weights.bin', 'zero.bin', 'link-out.bin', 'folder', 'weights.bin'];
const DTYPES: Json[] = ['string', 'float64', 'complex64', 'int8', ' float32', 7, null, 'bool', 'int32'];

/** One random change to the document (or undefined when it picked the text truncation). */
export function mutate(doc: Json, rng: Rng): 'truncate' | void {
  const all = places(doc);
  const r = rng();
  const weights = all.filter((p) => p.length === 4 && p[0] === 'weightsManifest' && p[2] === 'weights');
  const numbers = all.filter((p) => typeof get(doc, p) === 'number');
  if (r < 0.08) return 'truncate';
  if (r < 0.2 && weights.length > 0) {
    const w = get(doc, pick(rng, weights));
    if (w === null || typeof w !== 'object' || Array.isArray(w)) return;
    const shape = Array.isArray(w.shape) ? w.shape : [];
    const op = Math.floor(rng() * 5);
    if (op === 0) w.shape = [...shape, pick(rng, [1, 2, 0, -1, 1e9, 1.5])];
    else if (op === 1) w.shape = shape.slice(1);
    else if (op === 2) w.dtype = pick(rng, DTYPES);
    else if (op === 3) w.quantization = pick(rng, [{ dtype: 'uint8', scale: 1e-3, min: -1 }, { dtype: 'float16' }, { dtype: 'int4' }, null, 5] as Json[]);
    else w.name = pick(rng, ['conv1/kernel', 'nope', '', 5] as Json[]);
    return;
  }
  if (r < 0.3) {
    const m = (doc as Record<string, Json>).weightsManifest as Json;
    const g = Array.isArray(m) && m[0] && typeof m[0] === 'object' ? (m[0] as Record<string, Json>) : undefined;
    if (g) g.paths = pick(rng, [[pick(rng, SHARD_NAMES)], [pick(rng, SHARD_NAMES), 'weights.bin'], [], ['weights.bin', 'weights.bin'], 'weights.bin', [5]] as Json[]);
    return;
  }
  if (r < 0.45 && numbers.length > 0) {
    set(doc, pick(rng, numbers), pick(rng, [1e9, 2 ** 31, 2 ** 32 + 1, 1e308, -1, -1e9, 0, 0.5, 65536]));
    return;
  }
  changeSomewhere(doc, rng, all);
}

/** One generic change somewhere in the document: a key deleted, garbage, a type changed, deep nesting, a duplicate. */
export function changeSomewhere(doc: Json, rng: Rng, all = places(doc)): void {
  const at = pick(rng, all.slice(1));
  const p = parentOf(doc, at)!;
  const op = Math.floor(rng() * 5);
  if (op === 0) {
    if (Array.isArray(p.parent)) p.parent.splice(p.key as number, 1);
    else delete p.parent[p.key];
  } else if (op === 1) {
    set(doc, at, garbage(rng));
  } else if (op === 2) {
    const v = get(doc, at);
    set(doc, at, typeof v === 'number' ? String(v) : typeof v === 'string' ? v.length : Array.isArray(v) ? Object.fromEntries(v.map((x, i) => [String(i), x])) : v && typeof v === 'object' ? Object.values(v) : 'null');
  } else if (op === 3) {
    set(doc, at, deep(pick(rng, [50, 1000])));
  } else {
    const v = get(doc, at);
    if (Array.isArray(v)) v.push(...v.slice(0, 3));
    else set(doc, at, [v, v]);
  }
}

export function get(doc: Json, at: (string | number)[]): Json {
  let cur = doc;
  for (const k of at) cur = (cur as Record<string, Json>)[k as string];
  return cur;
}

export function set(doc: Json, at: (string | number)[], v: Json): void {
  const p = parentOf(doc, at);
  if (p) (p.parent as Record<string, Json>)[p.key as string] = v;
}

const randomInt = (rng: Rng, n: number) => Math.floor(rng() * n);

/** Mutations of a file's bytes: bits flipped, the file cut short, bytes inserted. */
export const BYTE_MUTATIONS: Array<[string, (b: Buffer, rng: Rng) => Buffer]> = [
  ['bit flips', (b, rng) => {
    const out = Buffer.from(b);
    for (let k = 1 + randomInt(rng, 8); k > 0; k--) out[randomInt(rng, out.length)] ^= 1 << randomInt(rng, 8);
    return out;
  }],
  ['truncation', (b, rng) => b.subarray(0, randomInt(rng, b.length))],
  ['inserted bytes', (b, rng) => {
    const at = randomInt(rng, b.length + 1);
    return Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + randomInt(rng, 32) }, () => randomInt(rng, 256))), b.subarray(at)]);
  }],
];

/** Messages that are JavaScript's own words for a bug, not a sentence about the file. */
export const RAW_JS = /Cannot read propert|is not a function|is not iterable|undefined is not|Cannot convert|Invalid array length|Invalid typed array length|Maximum call stack|of undefined|of null|Array buffer allocation failed|Cannot create property|Offset is outside|out of bounds|Invalid DataView|is not defined|is not a constructor/;

/** A load or run that takes this long hangs. */
export const HANG_MS = 30_000;
export const MAX_RSS = 1.5 * 2 ** 30;

/** Loads the file, runs a forward pass, the input gradient and the default layer's; 'ran', or what was thrown. */
export async function exercise(file: string): Promise<'ran' | unknown> {
  let model;
  try {
    model = await loadModel(file);
  } catch (err) {
    return err;
  }
  try {
    const [h, w, c] = model.adapter.inputShape;
    const x = tf.zeros([1, h, w, c]) as tf.Tensor4D;
    try {
      await probabilityBatch(model.adapter, x);
      const g = model.adapter.inputGradient(x, { index: 0, space: 'logit' });
      tf.dispose([g.grad, g.scores]);
      const layer = model.adapter.defaultLayer();
      if (layer) {
        const lg = model.adapter.layerGradient(x, layer, { index: 0, space: 'logit' });
        tf.dispose([lg.grad, lg.scores, lg.activation]);
      }
    } finally {
      x.dispose();
    }
    return 'ran';
  } catch (err) {
    return err;
  } finally {
    model.adapter.dispose();
  }
}

export interface FuzzSummary {
  /** 'ran', or a failure message with its numbers as #, and how often each came. */
  outcomes: Map<string, number>;
  /** What broke the rules, one line each. */
  failures: string[];
}

/**
 * Writes each case's bytes to `file` and exercises it. `cases(i)` gives case i's bytes and what
 * was done to them; `kindOf` turns a message into its kind (the file name and numbers dropped);
 * with `namesFile`, every message must also name the file.
 */
export async function fuzzCases(file: string, count: number, cases: (i: number) => { bytes: Buffer | string; kind: string }, kindOf: (message: string) => string, namesFile = false): Promise<FuzzSummary> {
  const outcomes = new Map<string, number>();
  const failures: string[] = [];
  let tensors = tf.memory().numTensors;
  for (let i = 0; i < count; i++) {
    const { bytes, kind } = cases(i);
    fs.writeFileSync(file, bytes);
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), HANG_MS)));
    const outcome = await Promise.race([exercise(file), hang]);
    clearTimeout(timer);
    const what = `case ${i} (${kind})`;
    if (outcome === 'hang') {
      failures.push(`${what}: did not end within ${HANG_MS / 1000} s`);
      break;
    }
    if (outcome === 'ran') {
      outcomes.set('ran', (outcomes.get('ran') ?? 0) + 1);
    } else {
      const err = outcome as Error;
      const message = err instanceof Error ? err.message : String(err);
      if (!(err instanceof UserError)) failures.push(`${what}: ${err instanceof Error ? err.constructor.name : typeof err}: ${message.split('\n')[0].slice(0, 300)}`);
      else if (/[\n\r]/.test(message)) failures.push(`${what}: a message of ${message.split(/\r?\n|\r/).length} lines: ${JSON.stringify(message.slice(0, 200))}`);
      else if (RAW_JS.test(message) && !/is malformed/.test(message)) failures.push(`${what}: a bare JavaScript error: ${message.slice(0, 300)}`);
      else if (namesFile && !message.includes(file)) failures.push(`${what}: the message does not name the file: ${message.slice(0, 300)}`);
      const key = kindOf(message).replace(/\d+/g, '#').slice(0, 60);
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    const left = tf.memory().numTensors - tensors;
    if (left !== 0) failures.push(`${what}: ${left} tensors left behind (${outcome === 'ran' ? 'ran' : String((outcome as Error).message).slice(0, 200)})`);
    tensors += left;
    const rss = process.memoryUsage().rss;
    if (rss > MAX_RSS) {
      failures.push(`${what}: rss ${(rss / 2 ** 20).toFixed(0)} MiB`);
      break;
    }
  }
  return { outcomes, failures };
}

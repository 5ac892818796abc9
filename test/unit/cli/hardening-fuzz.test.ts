/**
 * 200 seeded random mutations of a valid PNG (bit flips, truncations, inserted bytes, chunk
 * lengths changed, IHDR sizes changed with a valid CRC, chunk data changed with a valid CRC, a BMP
 * signature pasted over the PNG one) through the decoder `xai-lens explain` uses, and a sample of
 * them through the CLI itself. Passes when nothing crashes (every failure a one-line UserError, in
 * the CLI exit 2 with one line on stderr; never exit 1), nothing hangs past a generous bound, and
 * no process's peak RSS exceeds 1.5 GB.
 *
 * The 200 files are decoded in one child process (as the CLI's worker decodes them:
 * loadModelInput, then loadDisplayImage for the overlay); the CLI runs on about 25 of them (each
 * run starts a worker and loads a model: about a second each): 6 that decode and up to 3 refused
 * ones of each kind of mutation.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { mulberry32, type Rng } from '../../../src/extension/util/seeded-random';
import { fsSaveHandler } from '../../../src/extension/model/fs-io';
import { branchingModel } from '../../helpers/models';
import { useBackend } from '../../helpers/tf-test';
import { CLI, tempDir } from './hardening-helpers';

const dir = tempDir('xai-fuzz-');
const p = (...names: string[]) => path.join(dir, ...names);
const COUNT = 200;
const SEED = 20260;
const MAX_RSS = 1.5 * 2 ** 30;
/** The CLI sample: this many files that decode, and this many refused ones of each kind of mutation. */
const CLI_DECODED = 6;
const CLI_PER_KIND = 3;
const RUNNER = path.join(__dirname, 'fuzz-decode-runner.js');
const PEAK_RSS = path.join(__dirname, 'peak-rss.js');

// CRC-32 (PNG's, ISO-HDLC): chunks changed on purpose keep a valid CRC, so the decoder gets past it.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface Chunk {
  /** Offset of its length field. */
  at: number;
  length: number;
  type: string;
}

function chunksOf(png: Buffer): Chunk[] {
  const out: Chunk[] = [];
  for (let at = 8; at + 12 <= png.length;) {
    const length = png.readUInt32BE(at);
    out.push({ at, length, type: png.toString('latin1', at + 4, at + 8) });
    at += 12 + length;
  }
  return out;
}

/** Rewrites the CRC of the chunk at `c.at` after its type and data were changed. */
function fixCrc(png: Buffer, c: Chunk): void {
  const end = c.at + 8 + c.length;
  if (end + 4 <= png.length) png.writeUInt32BE(crc32(png.subarray(c.at + 4, end)), end);
}

const int = (rng: Rng, n: number) => Math.floor(rng() * n);

const MUTATIONS: [string, (png: Buffer, rng: Rng) => Buffer][] = [
  ['bit flips', (png, rng) => {
    const out = Buffer.from(png);
    for (let k = 1 + int(rng, 8); k > 0; k--) out[int(rng, out.length)] ^= 1 << int(rng, 8);
    return out;
  }],
  ['truncation', (png, rng) => png.subarray(0, int(rng, png.length))],
  ['inserted bytes', (png, rng) => {
    const at = int(rng, png.length + 1);
    const extra = Buffer.from(Array.from({ length: 1 + int(rng, 64) }, () => int(rng, 256)));
    return Buffer.concat([png.subarray(0, at), extra, png.subarray(at)]);
  }],
  ['chunk length changed', (png, rng) => {
    const out = Buffer.from(png);
    const c = chunksOf(out)[int(rng, chunksOf(out).length)];
    const lengths = [0, c.length + 1, Math.max(0, c.length - 1), int(rng, 2 ** 32), 0x7fffffff, 0xffffffff, c.length * 2];
    out.writeUInt32BE(lengths[int(rng, lengths.length)] >>> 0, c.at);
    return out;
  }],
  ['IHDR size changed, valid CRC', (png, rng) => {
    const out = Buffer.from(png);
    const ihdr = chunksOf(out)[0];
    const sizes = [0, 1, 65535, 0x7fffffff, 0xffffffff, 30000, 1 + int(rng, 100000)];
    out.writeUInt32BE(sizes[int(rng, sizes.length)] >>> 0, ihdr.at + 8 + 4 * int(rng, 2));
    // Sometimes interlaced too (decoded whole: the memory limit must refuse the large ones).
    if (rng() < 0.3) out[ihdr.at + 8 + 12] = 1;
    fixCrc(out, ihdr);
    return out;
  }],
  ['chunk data changed, valid CRC', (png, rng) => {
    const out = Buffer.from(png);
    const chunks = chunksOf(out).filter((c) => c.length > 0);
    const c = chunks[int(rng, chunks.length)];
    for (let k = 1 + int(rng, 16); k > 0; k--) out[c.at + 8 + int(rng, c.length)] = int(rng, 256);
    fixCrc(out, c);
    return out;
  }],
  ['BMP signature over the PNG one', (png, rng) => {
    const out = Buffer.from(png);
    out.write('BM', 0, 'latin1');
    for (let k = int(rng, 6); k > 0; k--) out[2 + int(rng, 60)] = int(rng, 256);
    return out;
  }],
];

interface Decoded {
  file: string;
  ok: boolean;
  userError?: boolean;
  name?: string;
  message?: string;
  ms: number;
}

const cases: { file: string; kind: string }[] = [];

before(async () => {
  await useBackend('cpu');
  await branchingModel().save(fsSaveHandler(p('model')));
  // A valid PNG with a few chunks: IHDR, a text chunk, IDAT split in several, IEND.
  const w = 48;
  const h = 40;
  const pixels = Buffer.alloc(w * h * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7 + (i >> 5)) % 256;
  const base = await sharp(pixels, { raw: { width: w, height: h, channels: 3 } }).withMetadata({ density: 72 }).png({ compressionLevel: 9 }).toBuffer();
  assert.deepEqual(chunksOf(base).map((c) => c.type).filter((t) => t === 'IHDR' || t === 'IEND'), ['IHDR', 'IEND']);
  const rng = mulberry32(SEED);
  for (let i = 0; i < COUNT; i++) {
    const [kind, mutate] = MUTATIONS[i % MUTATIONS.length];
    const file = p(`fuzz-${String(i).padStart(3, '0')}.png`);
    fs.writeFileSync(file, mutate(base, rng));
    cases.push({ file, kind });
  }
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test(`${COUNT} mutated PNGs through the decoder, then about 25 through xai-lens explain: no crash, no hang, bounded memory`, () => {
  const t0 = performance.now();
  // 1. Every file through the decoder, in one child process.
  const decode = spawnSync(process.execPath, ['--max-old-space-size=1024', RUNNER, ...cases.map((c) => c.file)], { encoding: 'utf8', timeout: 180_000, maxBuffer: 64 * 2 ** 20 });
  assert.equal(decode.error, undefined, `the decoder run did not finish: ${decode.error?.message}`);
  assert.equal(decode.status, 0, decode.stderr);
  const lines = decode.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const peak = lines.pop() as { peakRss: number };
  const results = lines as Decoded[];
  assert.equal(results.length, COUNT);
  for (const [i, r] of results.entries()) {
    const what = `${cases[i].kind}, ${path.basename(r.file)}`;
    if (r.ok) continue;
    assert.ok(r.userError, `${what}: a UserError, got ${r.name}: ${r.message}`);
    assert.ok(!/[\r\n]/.test(r.message!), `${what}: one line: ${JSON.stringify(r.message)}`);
    assert.ok(r.message!.includes(r.file), `${what}: names the file: ${r.message}`);
  }
  assert.ok(peak.peakRss < MAX_RSS, `decoder peak RSS ${(peak.peakRss / 2 ** 20).toFixed(0)} MB`);
  const decodeMs = performance.now() - t0;

  // 2. A sample through the CLI: decoded ones and failures of every kind of mutation.
  const ok = results.filter((r) => r.ok).slice(0, CLI_DECODED);
  const failed = MUTATIONS.flatMap(([kind]) => results.filter((r, i) => !r.ok && cases[i].kind === kind).slice(0, CLI_PER_KIND));
  const sample = [...ok, ...failed];
  assert.ok(sample.length >= 12, `${sample.length} CLI runs`);
  let cliPeak = 0;
  for (const r of sample) {
    const rssFile = p(`${path.basename(r.file)}.rss`);
    const out = p(`out-${path.basename(r.file)}`);
    const run = spawnSync(process.execPath, ['--require', PEAK_RSS, CLI, 'explain', r.file, '--model', p('model'), '--backend', 'cpu', '--out', out], {
      encoding: 'utf8', cwd: dir, timeout: 60_000, env: { ...process.env, XAI_PEAK_RSS_FILE: rssFile },
    });
    const what = `${path.basename(r.file)} (${cases[results.indexOf(r)].kind})`;
    assert.equal(run.error, undefined, `${what}: did not finish: ${run.error?.message}`);
    assert.ok(!run.stderr.includes('    at '), `${what}: no stack trace:\n${run.stderr}`);
    if (r.ok) {
      assert.equal(run.status, 0, `${what}: decodes, so it explains: ${run.stderr}`);
    } else {
      assert.equal(run.status, 2, `${what}: exit ${run.status}: ${run.stderr}`);
      assert.equal(run.stderr.split('\n').filter((l) => l !== '').length, 1, `${what}: one line:\n${run.stderr}`);
      assert.match(run.stderr, /^xai-lens: /);
      assert.equal(fs.existsSync(out), false, `${what}: nothing written`);
    }
    const rss = Number(fs.readFileSync(rssFile, 'utf8'));
    assert.ok(rss > 0 && rss < MAX_RSS, `${what}: peak RSS ${(rss / 2 ** 20).toFixed(0)} MB`);
    cliPeak = Math.max(cliPeak, rss);
  }
  const summary = {
    decoded: results.filter((r) => r.ok).length, refused: results.filter((r) => !r.ok).length,
    decodeSeconds: +(decodeMs / 1000).toFixed(1), decodePeakMb: Math.round(peak.peakRss / 2 ** 20),
    cliRuns: sample.length, cliPeakMb: Math.round(cliPeak / 2 ** 20), totalSeconds: +((performance.now() - t0) / 1000).toFixed(1),
    slowestDecodeMs: Math.round(Math.max(...results.map((r) => r.ms))),
  };
  console.log(`fuzz: ${JSON.stringify(summary)}`);
  assert.ok(summary.decoded + summary.refused === COUNT);
});

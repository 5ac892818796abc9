/**
 * TCAV's on-disk cache of trained CAVs, beside the activation cache (`<layer folder>/cavs/`), so a
 * rerun of an unchanged experiment trains none and reads no activations. A CAV is keyed by all it
 * is computed from: the checkpoint, input preparation and layer (with an image's content hash these
 * name the activation file the CAV's row came from), the content hashes of its concept-side and
 * random-side images in order (the order decides the seeded train / held-out split), the seed and
 * solver settings with their defaults filled in, and CAV_SOLVER_VERSION. Any change misses.
 *
 * One file per CAV, `<key>.cav`, little-endian:
 *   "XCAV" | u32 header length | JSON header {format, key, dim, trainSize, testSize, epochs}
 *   | f64 bias, accuracy, trainAccuracy | f32 × dim direction | SHA-256 of all the bytes before it
 * The numbers are stored in binary in the precision trainCav returns them, so a CAV read back is
 * bit-identical to the one trained (JSON text would, for one, turn −0 into 0). A file that is short,
 * altered, or of another key or format is ignored: the CAV is retrained and the file rewritten.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ActivationCache } from './activation-cache';
import { CAV_SOLVER_VERSION, resolveCavOptions, type Cav, type CavOptions } from './cav';

/** What one CAV is trained from. */
export interface CavJob {
  layer: string;
  /** Content hashes of the concept-side images, in the order their rows are given to trainCav. */
  positive: readonly string[];
  /** Content hashes of the random-side (or second concept's) images, in order. */
  negative: readonly string[];
  options: CavOptions;
}

const MAGIC = 'XCAV';
const FORMAT = 1;
const DIGEST_BYTES = 32;
/** bias, accuracy, trainAccuracy as f64. */
const NUMBERS_BYTES = 3 * 8;

interface Header {
  format: number;
  key: string;
  dim: number;
  trainSize: number;
  testSize: number;
  epochs: number;
}

export class CavCache {
  constructor(private readonly features: ActivationCache) {}

  /** SHA-256 (hex) of everything the CAV depends on. */
  key(job: CavJob): string {
    const o = resolveCavOptions(job.options);
    const parts = {
      format: FORMAT,
      solver: CAV_SOLVER_VERSION,
      // The activation files' keys: checkpoint, input preparation, layer, kind, then the images below.
      model: this.features.model,
      input: this.features.input,
      layer: job.layer,
      kind: 'activation',
      positive: job.positive,
      negative: job.negative,
      // JSON writes each double in its shortest exact form, so distinct settings give distinct text.
      seed: o.seed,
      testFraction: o.testFraction,
      alpha: o.alpha,
      maxEpochs: o.maxEpochs,
      tolerance: o.tolerance,
    };
    return crypto.createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  }

  file(layer: string, key: string): string {
    return path.join(this.features.layerDir(layer), 'cavs', `${key}.cav`);
  }

  /** The cached CAV, or undefined when absent or unusable (truncated, altered, another key or format). */
  read(layer: string, key: string): Cav | undefined {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(this.file(layer, key));
    } catch {
      return undefined;
    }
    return decode(buf, key);
  }

  /**
   * Written to a temporary name and renamed, so a cancelled run or a concurrent reader never sees a
   * short file. Best effort: the run has its CAV either way, and a cache that cannot be written
   * (a read-only folder, a full disk) only costs the next run the training.
   */
  write(layer: string, key: string, cav: Cav): void {
    const file = this.file(layer, key);
    const tmp = `${file}.${process.pid}-${crypto.randomBytes(4).toString('hex')}.tmp`;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(tmp, encode(key, cav));
      fs.renameSync(tmp, file);
    } catch {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // Nothing more to do: a stray temporary file is never read as a CAV.
      }
    }
  }

  /** The cached CAV of the job, or the one `train` returns, which is then cached. */
  obtain(job: CavJob, train: () => Cav): Cav {
    const key = this.key(job);
    const known = this.read(job.layer, key);
    if (known) return known;
    const cav = train();
    this.write(job.layer, key, cav);
    return cav;
  }
}

function encode(key: string, cav: Cav): Buffer {
  const header: Header = { format: FORMAT, key, dim: cav.direction.length, trainSize: cav.trainSize, testSize: cav.testSize, epochs: cav.epochs };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const numbers = Buffer.alloc(NUMBERS_BYTES);
  numbers.writeDoubleLE(cav.bias, 0);
  numbers.writeDoubleLE(cav.accuracy, 8);
  numbers.writeDoubleLE(cav.trainAccuracy, 16);
  const prefix = Buffer.alloc(8);
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(json.length, 4);
  const d = cav.direction;
  const body = Buffer.concat([prefix, json, numbers, Buffer.from(d.buffer, d.byteOffset, d.byteLength)]);
  return Buffer.concat([body, crypto.createHash('sha256').update(body).digest()]);
}

function decode(buf: Buffer, key: string): Cav | undefined {
  if (buf.length < 8 + NUMBERS_BYTES + DIGEST_BYTES || buf.toString('latin1', 0, 4) !== MAGIC) return undefined;
  const body = buf.subarray(0, buf.length - DIGEST_BYTES);
  if (!crypto.createHash('sha256').update(body).digest().equals(buf.subarray(body.length))) return undefined;
  const numbersAt = 8 + buf.readUInt32LE(4);
  const directionAt = numbersAt + NUMBERS_BYTES;
  if (directionAt > body.length) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', 8, numbersAt));
  } catch {
    return undefined;
  }
  if (!isHeader(header) || header.format !== FORMAT || header.key !== key || directionAt + 4 * header.dim !== body.length) return undefined;
  // Copied into a fresh buffer: the file's bytes need not be 4-aligned for a Float32Array view.
  const direction = new Float32Array(header.dim);
  new Uint8Array(direction.buffer).set(body.subarray(directionAt));
  return {
    direction,
    bias: buf.readDoubleLE(numbersAt),
    accuracy: buf.readDoubleLE(numbersAt + 8),
    trainAccuracy: buf.readDoubleLE(numbersAt + 16),
    trainSize: header.trainSize,
    testSize: header.testSize,
    epochs: header.epochs,
  };
}

function isHeader(h: unknown): h is Header {
  if (typeof h !== 'object' || h === null) return false;
  const r = h as Record<string, unknown>;
  const count = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  return typeof r.key === 'string' && count(r.format) && count(r.dim) && (r.dim as number) > 0 && count(r.trainSize) && count(r.testSize) && count(r.epochs);
}

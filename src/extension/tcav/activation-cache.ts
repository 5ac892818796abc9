/**
 * TCAV's on-disk cache of per-image layer features (activations of concept and random images,
 * class-score gradients of class images), keyed by (model file hash, input preparation, layer,
 * kind, image content hash), so reruns, new concepts and renamed images reuse them. One raw
 * little-endian Float32 file per image: nothing is held in memory, so a run's size is bounded by
 * the disk, not the extension host's heap.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import { UserError } from '../../shared/errors';
import { fsErrorReason } from '../util/fs-errors';
import { checkpointFiles } from '../model/formats/registry';

/** Bytes read at a time when hashing: a 1 GB checkpoint is hashed in 4 MB of memory. */
const HASH_CHUNK_BYTES = 4 << 20;

/**
 * A file's modification time must be this much older than the moment it was stamped for the
 * stamp to be trusted: file systems keep mtimes in coarse ticks, so a file rewritten within one
 * tick of being read keeps its stamp (git's "racy" index entries; the same cure).
 */
const RACY_MS = 2000;

/** SHA-256 of `files`' bytes in order, read a chunk at a time. */
function sha256Files(files: readonly string[]): string {
  const h = crypto.createHash('sha256');
  const buf = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
  for (const file of files) {
    const fd = fs.openSync(file, 'r');
    try {
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  }
  return h.digest('hex');
}

const remembered = new Map<string, { stamp: string; hash: string }>();

/**
 * SHA-256 of `files`, remembered under `key` while every file's size and mtime stay the same; a
 * file modified less than RACY_MS before it was hashed is hashed again next time.
 */
function rememberedHash(key: string, files: readonly string[]): string {
  const now = Date.now();
  const stats = files.map((f) => fs.statSync(f));
  const stamp = files.map((f, i) => `${f}:${stats[i].size}:${stats[i].mtimeMs}`).join('|');
  const known = remembered.get(key);
  if (known?.stamp === stamp) return known.hash;
  const hash = sha256Files(files);
  if (stats.every((st) => now - st.mtimeMs > RACY_MS)) remembered.set(key, { stamp, hash });
  else remembered.delete(key);
  return hash;
}

/** SHA-256 of the files of a model's checkpoint (model.json and its shards, model.onnx and its external data, …): one id per checkpoint. */
export function modelHash(modelPath: string): string {
  return rememberedHash(`model:${modelPath}`, checkpointFiles(modelPath));
}

/** Forgets the remembered image and model hashes, as a new process starts (benchmarks time a rerun from the CLI with it). */
export function forgetImageHashes(): void {
  remembered.clear();
}

/** SHA-256 of an image file's bytes (remembered per path while its size and mtime stay the same). */
export function imageHash(file: string): string {
  try {
    return rememberedHash(`image:${file}`, [file]);
  } catch (err) {
    throw new UserError(`cannot read the image ${file}: ${(err as Error).message}`);
  }
}

/** What a cached vector is: a layer's activation, or the gradient of one class logit at the layer. */
export type FeatureKind = 'activation' | `gradient-${number}`;

export class ActivationCache {
  /**
   * @param root the cache folder (e.g. `<experiment>/.cache/tcav`)
   * @param model the model hash
   * @param input how images become inputs (preprocessing and size): part of the key
   */
  constructor(readonly root: string, readonly model: string, readonly input: string) {}

  /** The folder of everything cached for one layer of this checkpoint and input preparation: features per kind, and trained CAVs (cav-cache.ts). */
  layerDir(layer: string): string {
    return path.join(this.root, this.model.slice(0, 16), encodeURIComponent(this.input), encodeURIComponent(layer));
  }

  private dir(layer: string, kind: FeatureKind): string {
    return path.join(this.layerDir(layer), kind);
  }

  file(layer: string, kind: FeatureKind, image: string): string {
    return path.join(this.dir(layer, kind), `${image}.f32`);
  }

  /** The cached vector, or undefined when absent or of another length (then it is recomputed). */
  read(layer: string, kind: FeatureKind, image: string, length?: number): Float32Array | undefined {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(this.file(layer, kind, image));
    } catch {
      return undefined;
    }
    if (buf.length % 4 !== 0 || buf.length === 0 || (length !== undefined && buf.length !== 4 * length)) return undefined;
    const out = new Float32Array(buf.length / 4);
    new Uint8Array(out.buffer).set(buf);
    return out;
  }

  has(layer: string, kind: FeatureKind, image: string, length?: number): boolean {
    try {
      const size = fs.statSync(this.file(layer, kind, image)).size;
      return size > 0 && (length === undefined ? size % 4 === 0 : size === 4 * length);
    } catch {
      return false;
    }
  }

  /**
   * Written to a temporary name and renamed, so a cancelled run never leaves a short file. The
   * name is the writer's own: the pool's workers share the process id, and two runs on the same
   * images (a rerun started while a cancelled one still finishes its batch) may write one file at once.
   */
  write(layer: string, kind: FeatureKind, image: string, data: Float32Array): void {
    const file = this.file(layer, kind, image);
    const tmp = `${file}.${process.pid}-${threadId}-${crypto.randomBytes(4).toString('hex')}.tmp`;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(tmp, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      fs.renameSync(tmp, file);
    } catch (err) {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // A stray temporary file is never read as a vector.
      }
      // A folder that is a file, read-only or full: one line saying where and why.
      throw new UserError(`cannot write to the TCAV activation cache ${this.root}: ${fsErrorReason(err)} (${path.relative(this.root, file)})`);
    }
  }
}

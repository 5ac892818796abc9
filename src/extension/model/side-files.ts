/**
 * How a model's files are read: the model file itself (a path the user gave) and the side files
 * it names (TF.js weight shards, ONNX external data) or that sit beside it (metadata.json,
 * `<file>.json`, labels.txt).
 *
 * The rule for side files: a side file is named relative to the model file's folder and is read
 * only when
 * - its name is relative (no absolute path, no NUL byte) and stays inside that folder as written
 *   (`../x` is refused without looking at the disk), and
 * - its real path, after every symbolic link, lies inside the real path of that folder, or inside
 *   the folder of the model file's own real path when the model file is itself a link (a Hugging
 *   Face cache snapshot links each file of a checkpoint into the repository's blobs folder), and
 * - it is a regular file (not a device such as /dev/zero, a FIFO or a socket), and
 * - it is as large as the model says it is: no more is read than the model describes.
 * A refusal says which rule was broken and never anything about the file outside (its size, or
 * whether it exists). The model file itself may be anywhere the user can read, but it must be a
 * regular file of a size its format can hold.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../shared/errors';

/** Where a side file is, or why it is not read. */
export type SideFileLookup =
  | { ok: true; real: string; size: number }
  /** `absolute`: an absolute name; `outside`: outside the folder (as written or after links); `missing`: no such file in the folder; `special`: not a regular file. */
  | { ok: false; problem: 'absolute' | 'outside' | 'missing' | 'special' };

function within(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** The folder a model's side files must lie in (see the rule above). */
export class ModelFolder {
  /** The model file's folder as given (names are resolved against it). */
  readonly dir: string;
  /** Real folders a side file's real path may lie in. */
  private readonly roots: string[];

  constructor(readonly modelFile: string) {
    this.dir = path.resolve(path.dirname(modelFile));
    const roots: string[] = [];
    for (const root of [() => fs.realpathSync(this.dir), () => path.dirname(fs.realpathSync(modelFile))]) {
      try {
        const r = root();
        if (!roots.includes(r)) roots.push(r);
      } catch {
        // A model file that is gone: its side files are missing, which lookup says.
      }
    }
    this.roots = roots;
  }

  private inside(real: string): boolean {
    return this.roots.some((r) => within(r, real));
  }

  /**
   * Looks a side file up by the name the model gives it, component by component, so that a link
   * leading out of the folder is refused before anything beyond it is looked at.
   */
  lookup(name: string): SideFileLookup {
    if (typeof name !== 'string' || name === '' || name.includes('\0')) return { ok: false, problem: 'outside' };
    if (path.isAbsolute(name) || path.win32.isAbsolute(name)) return { ok: false, problem: 'absolute' };
    const target = path.resolve(this.dir, name);
    if (target === this.dir || !within(this.dir, target)) return { ok: false, problem: 'outside' };
    let cur = this.dir;
    let real = '';
    for (const part of path.relative(this.dir, target).split(path.sep)) {
      cur = path.join(cur, part);
      try {
        real = fs.realpathSync(cur);
      } catch {
        // Everything before `cur` is inside the folder: whether `cur` itself is there says nothing
        // about other places. A link that leads nowhere is treated as leading out.
        try {
          fs.lstatSync(cur);
        } catch {
          return { ok: false, problem: 'missing' };
        }
        return { ok: false, problem: 'outside' };
      }
      if (!this.inside(real)) return { ok: false, problem: 'outside' };
    }
    let st: fs.Stats;
    try {
      st = fs.statSync(real);
    } catch {
      return { ok: false, problem: 'missing' };
    }
    if (!st.isFile()) return { ok: false, problem: 'special' };
    return { ok: true, real, size: st.size };
  }
}

/**
 * A model file that is not a regular file, or larger than `maxBytes`, as a one-line UserError
 * (`what` completes "more than the 2 GiB XAI Lens reads from …"); its stats otherwise.
 */
export function regularFileStats(file: string, maxBytes: number, what: string): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!st.isFile()) throw new UserError(`${file} is not a regular file (it is a folder, a device, a pipe or a socket)`);
  if (st.size > maxBytes) throw new UserError(`${file} has ${st.size} bytes, more than the ${formatBytes(maxBytes)} XAI Lens reads from ${what}`);
  return st;
}

/** `n` bytes for people: 2 GiB, 256 MiB, 1000 bytes. */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30 && n % 2 ** 30 === 0) return `${n / 2 ** 30} GiB`;
  if (n >= 2 ** 30 - 1 && (n + 1) % 2 ** 30 === 0) return `${(n + 1) / 2 ** 30} GiB`;
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`;
  return `${n} bytes`;
}

/**
 * Reads `length` bytes at `offset` of `file` into `into` (at `at`), or a new Buffer. Throws a
 * UserError when the file holds fewer (it shrank since it was looked at) or cannot be read;
 * reads no more than asked, whatever the file holds beyond.
 */
export function readRange(file: string, offset: number, length: number, shownAs: string, into?: Uint8Array, at = 0): Buffer {
  let out: Buffer;
  try {
    out = into ? Buffer.from(into.buffer, into.byteOffset + at, length) : Buffer.allocUnsafeSlow(length);
  } catch (err) {
    throw new UserError(`cannot read ${length} bytes of ${shownAs}: ${(err as Error).message.split('\n')[0]}`);
  }
  let fd: number | undefined;
  let got = 0;
  try {
    fd = fs.openSync(file, 'r');
    if (!fs.fstatSync(fd).isFile()) throw new UserError(`${shownAs} is not a regular file`);
    while (got < length) {
      const n = fs.readSync(fd, out, got, Math.min(length - got, 1 << 30), offset + got);
      if (n === 0) break;
      got += n;
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot read ${shownAs}: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  if (got < length) throw new UserError(`${shownAs} is truncated: it ends after ${offset + got} bytes, the model needs ${offset + length}`);
  return out;
}

/** A whole model file (checked with regularFileStats first), read up to the size it had when checked. */
export function readModelFile(file: string, maxBytes: number, what: string): Buffer {
  const st = regularFileStats(file, maxBytes, what);
  return readRange(file, 0, st.size, file);
}

/** The largest model.json, metadata or labels file read (TF.js keeps weights in shards, not in model.json). */
export const MAX_JSON_BYTES = 256 * 2 ** 20;
/** The largest side text file beside a model (metadata.json, labels.txt). */
export const MAX_SIDE_TEXT_BYTES = 64 * 2 ** 20;
/** The largest single model file (.onnx, .keras, .h5): protobuf's 2 GiB limit, and Node's for one read. */
export const MAX_MODEL_FILE_BYTES = 2 ** 31 - 1;

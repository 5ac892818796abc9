/**
 * A small read-only view of an HDF5 file held in memory: groups, attributes (numbers, strings and
 * string arrays such as Keras' `weight_names`, `model_config`, `keras_version`) and numeric
 * datasets as Float32Array plus shape.
 *
 * Built on jsfive (pure JavaScript, read-only; the NIST team's port of pyfive) rather than h5wasm
 * (the HDF5 C library compiled to WebAssembly): jsfive is a plain CommonJS/ESM package that
 * esbuild bundles into the extension as it is, opens a file straight from an ArrayBuffer and
 * reads it synchronously, and covers what h5py writes for Keras (contiguous and chunked datasets,
 * gzip and shuffle filters, fixed and variable-length string attributes). h5wasm would ship a
 * WebAssembly binary beside the bundle, is ESM-only (an async import from our CommonJS build) and
 * reads through an emscripten virtual file system (copying each file in); its extra reach (writing,
 * SWMR, exotic filters) is nothing we need to read model weights.
 */
import * as jsfive from 'jsfive';
import { safeLine } from '../../../util/excerpt';

export type Hdf5Attr = string | number | boolean | string[] | number[] | null;

export interface Hdf5Dataset {
  readonly kind: 'dataset';
  readonly path: string;
  readonly shape: number[];
  /** HDF5 dtype as jsfive reports it (`<f4`, `<f8`, `<i8`, …). */
  readonly dtype: string;
  attr(name: string): Hdf5Attr | undefined;
  /** The values as float32, row-major. */
  float32(): Float32Array;
}

export interface Hdf5Group {
  readonly kind: 'group';
  readonly path: string;
  /** Names of the members, sorted as HDF5 lists them. */
  readonly keys: string[];
  attr(name: string): Hdf5Attr | undefined;
  /** A member by relative path (`a/b/c`); undefined when it does not exist. */
  get(path: string): Hdf5Group | Hdf5Dataset | undefined;
  group(path: string): Hdf5Group | undefined;
  dataset(path: string): Hdf5Dataset | undefined;
}

export class Hdf5Error extends Error {
  constructor(
    message: string,
    /** The file is shorter than its superblock says: cut short, e.g. a save still being written. */
    readonly truncated = false,
  ) {
    super(message);
  }
}

const decoder = new TextDecoder('utf-8');

/**
 * What jsfive threw, in words. It throws strings of its own ("incorrect node type",
 * "InvalidHDF5File('unknown Data Object Header')"), a TypeError "thing is not a function" when one
 * of its assertions fails (a header whose signature or version is not the expected one), and
 * JavaScript's own errors when a damaged address or size sends it outside the file.
 */
export function jsfiveProblem(err: unknown): string {
  if (err instanceof Hdf5Error) return err.message;
  if (typeof err === 'string') {
    const inner = /^\w+\((['"])(.*)\1\)?$/.exec(err.trim());
    const text = (inner ? inner[2] : err).replace(/^(NotImplementedError|ValueError|InvalidHDF5File):?\s*/, '').trim();
    return safeLine(text === '' ? 'a part of it is not what HDF5 expects there' : text, 200);
  }
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof RangeError) {
    if (/bounds|out of range|outside/i.test(message)) return 'an address or size in it points past the end of the file';
    if (/call stack/i.test(message)) return 'its structure refers back to itself without end';
    return 'a size in it is larger than any array can be';
  }
  if (err instanceof TypeError && /thing is not a function/.test(message)) return 'a header in it has a signature or version that is not what HDF5 expects there';
  return 'its structure is inconsistent (a header, table or heap is not where another part of it points)';
}

/** jsfive's internals the checks below read (not part of its typed API). */
interface DataObjectsInternals {
  readonly fh: ArrayBuffer;
  readonly msgs: Map<string, number>[];
  readonly chunks: number[] | null;
}

const internals = (x: jsfive.Group | jsfive.Dataset) => (x as unknown as { _dataobjects?: DataObjectsInternals })._dataobjects;

const ATTRIBUTE_MSG = 12;
const checkedAttributes = new WeakSet<object>();

/**
 * jsfive reads an attribute's values in a loop as long as its dataspace says, and reads past the
 * end of the file without complaint for fixed-length strings (Keras' layer_names and weight_names
 * are such): a damaged dimension makes it loop billions of times. An attribute's values are
 * stored inside its header message, at least one byte each, so an attribute claiming more values
 * than its message has bytes is damage; variable-length sequences (Keras writes none) have
 * lengths of their own, unchecked, and are refused too.
 */
function checkAttributes(node: jsfive.Group | jsfive.Dataset, path: string): void {
  const d = internals(node);
  if (!d || checkedAttributes.has(d)) return;
  const fh = d.fh;
  if (!(fh instanceof ArrayBuffer) || !Array.isArray(d.msgs)) return;
  const view = new DataView(fh);
  const u8 = (at: number) => (at >= 0 && at < fh.byteLength ? view.getUint8(at) : undefined);
  const u16 = (at: number) => (at >= 0 && at + 2 <= fh.byteLength ? view.getUint16(at, true) : undefined);
  const u32 = (at: number) => (at >= 0 && at + 4 <= fh.byteLength ? view.getUint32(at, true) : undefined);
  const pastEnd = () => new Hdf5Error(`an attribute of ${path} lies past the end of the file`);
  for (const msg of d.msgs) {
    if (!(msg instanceof Map) || msg.get('type') !== ATTRIBUTE_MSG) continue;
    const at = Number(msg.get('offset_to_message'));
    const size = Number(msg.get('size'));
    const version = u8(at);
    if (version !== 1 && version !== 3) continue; // jsfive refuses those itself
    const nameSize = u16(at + 2);
    const typeSize = u16(at + 4);
    const spaceSize = u16(at + 6);
    if (nameSize === undefined || typeSize === undefined || spaceSize === undefined) throw pastEnd();
    const pad = (n: number) => (version === 1 ? Math.ceil(n / 8) * 8 : n);
    const typeAt = at + (version === 1 ? 8 : 9) + pad(nameSize);
    const spaceAt = typeAt + pad(typeSize);
    const typeClass = u8(typeAt);
    const typeBits = u8(typeAt + 1);
    const spaceVersion = u8(spaceAt);
    const rank = u8(spaceAt + 1);
    if (typeClass === undefined || typeBits === undefined || spaceVersion === undefined || rank === undefined) throw pastEnd();
    if ((typeClass & 0x0f) === 9 && (typeBits & 0x0f) === 0) {
      throw new Hdf5Error(`an attribute of ${path} holds variable-length sequences, which a Keras file does not have`);
    }
    if (spaceVersion !== 1 && spaceVersion !== 2) continue; // jsfive refuses those itself
    const dimsAt = spaceAt + (spaceVersion === 1 ? 8 : 4);
    let values = 1;
    for (let i = 0; i < rank; i++) {
      const dim = u32(dimsAt + 8 * i); // jsfive reads the low 32 bits of each 64-bit dimension
      if (dim === undefined) throw pastEnd();
      values *= dim;
    }
    if (values > size) {
      throw new Hdf5Error(`an attribute of ${path} claims ${values} values, more than its ${size}-byte header message can hold`);
    }
  }
  checkedAttributes.add(d);
}

const OBJECT_CONTINUATION_MSG = 16;
const SYMBOL_TABLE_MSG = 17;
const walkedGroups = new WeakMap<ArrayBuffer, Set<number>>();

/**
 * jsfive lists a group's members by reading every node of the group's B-tree and every symbol
 * table its leaves point to, level by level, with no check that a node is not listed twice: a
 * damaged file whose nodes list the same child thousands of times makes it read that child (and
 * its children) that many times over, for hours. In an intact file each node, entry and symbol
 * table is listed once, so the entries and symbols read add up to less than the file: the same
 * walk is made here first (the object header at `header`, as jsfive reads it), and a group whose
 * index lists a node twice or more entries than the file can hold is damage. Anything else
 * unexpected is left for jsfive to report.
 */
function checkGroupIndex(fh: ArrayBuffer, header: number, path: string): void {
  let walked = walkedGroups.get(fh);
  if (!walked) walkedGroups.set(fh, (walked = new Set()));
  if (walked.has(header)) return;
  const len = fh.byteLength;
  const view = new DataView(fh);
  const fits = (at: number, n: number) => Number.isSafeInteger(at) && at >= 0 && at + n <= len;
  const u8 = (at: number) => (fits(at, 1) ? view.getUint8(at) : undefined);
  const u16 = (at: number) => (fits(at, 2) ? view.getUint16(at, true) : undefined);
  const u32 = (at: number) => (fits(at, 4) ? view.getUint32(at, true) : undefined);
  const u64 = (at: number) => (fits(at, 8) ? Number(view.getBigUint64(at, true)) : undefined);
  const damaged = (what: string) => new Hdf5Error(`the index of group ${path} ${what}`);

  const walkBTree = (root: number) => {
    const seen = new Set<number>([root]);
    let entries = 0;
    const count = (n: number, size: number) => {
      entries += n * size;
      if (entries > len) throw damaged(`lists more entries than the file can hold`);
    };
    const depth = u8(root + 5);
    if (depth === undefined) return;
    let level: number[] = [root];
    for (let l = depth; l >= 0; l--) {
      const next: number[] = [];
      for (const node of level) {
        const used = u16(node + 6);
        if (used === undefined || !fits(node + 24, used * 16 + 8)) return; // jsfive reports it
        count(used, 16);
        for (let i = 0; i < used; i++) {
          const child = u64(node + 24 + 16 * i + 8)!;
          if (seen.has(child)) throw damaged(`lists the same entry twice (byte ${child})`);
          seen.add(child);
          if (l > 0) {
            if (u8(child + 5) !== l - 1) return; // jsfive reports a node of the wrong level
            next.push(child);
          } else {
            // A symbol table node: jsfive reads its entries (40 bytes each).
            const symbols = u16(child + 6);
            if (symbols === undefined) return;
            count(symbols, 40);
          }
        }
      }
      level = next;
    }
  };

  // The object header (version 1, as h5py writes them by default), its messages as jsfive reads them.
  if (u8(header) === 1) {
    const messages = u16(header + 2) ?? 0;
    const blocks: [number, number][] = [[header + 16, u32(header + 8) ?? 0]];
    let block = 0;
    let local = 0;
    for (let i = 0; i < messages; i++) {
      if (local >= blocks[block][1]) {
        if (++block >= blocks.length) break;
        local = 0;
      }
      const at = blocks[block][0] + local;
      const type = u16(at);
      const size = u16(at + 2);
      if (type === undefined || size === undefined) break;
      if (type === OBJECT_CONTINUATION_MSG) {
        const offset = u64(at + 8);
        const length = u64(at + 16);
        if (offset === undefined || length === undefined) break;
        blocks.push([offset, length]);
      } else if (type === SYMBOL_TABLE_MSG) {
        const btree = u64(at + 8);
        if (btree !== undefined) walkBTree(btree);
      }
      local += 8 + size;
    }
  }
  walked.add(header);
}

/**
 * jsfive assembles a chunked dataset by walking every element of every chunk it lists, and the
 * chunk shape is read from the file: a damaged chunk dimension (billions) makes it loop for
 * hours. HDF5 keeps the chunks of a fixed-size dataset (Keras writes no other) within its shape.
 */
function checkChunks(d: jsfive.Dataset, path: string, shape: number[]): void {
  let chunks: number[] | null | undefined;
  try {
    chunks = internals(d)?.chunks;
  } catch (err) {
    throw new Hdf5Error(`cannot read dataset ${path}: ${jsfiveProblem(err)}`);
  }
  if (chunks == null) return;
  const list = Array.from(chunks as ArrayLike<number>, Number);
  if (list.length !== shape.length || list.some((c, i) => !Number.isSafeInteger(c) || c < 1 || c > Math.max(shape[i], 1))) {
    throw new Hdf5Error(`dataset ${path} of shape [${shape.join(', ')}] is stored in chunks of shape [${list.join(', ')}], which do not fit it`);
  }
}

const DATA_LAYOUT_MSG = 8;
const UNDEFINED_ADDRESS = 0xffffffffffffffffn;

/**
 * The values of a little-endian float32 dataset stored contiguously (as h5py stores Keras'
 * weights), copied straight from the file: jsfive reads them one DataView call at a time into a
 * JavaScript array (a ResNet50's 25M weights: seconds and as much garbage). Undefined for any
 * other layout (compact, chunked), which jsfive reads.
 */
function contiguousFloat32(d: jsfive.Dataset, path: string, count: number): Float32Array | undefined {
  const o = internals(d);
  if (!o || !(o.fh instanceof ArrayBuffer) || !Array.isArray(o.msgs)) return undefined;
  const fh = o.fh;
  const msg = o.msgs.find((m) => m instanceof Map && m.get('type') === DATA_LAYOUT_MSG);
  if (!msg) return undefined;
  const at = Number(msg.get('offset_to_message'));
  if (!Number.isSafeInteger(at) || at < 0 || at + 16 > fh.byteLength) return undefined;
  const view = new DataView(fh);
  const version = view.getUint8(at);
  // Versions 1 and 2: version, rank, class, 5 reserved bytes, then the address; 3 and 4: version, class, address.
  const layoutClass = version === 1 || version === 2 ? view.getUint8(at + 2) : version === 3 || version === 4 ? view.getUint8(at + 1) : undefined;
  if (layoutClass !== 1) return undefined;
  const props = version <= 2 ? at + 8 : at + 2;
  if (props + 8 > fh.byteLength) throw new Hdf5Error(`dataset ${path} lies past the end of the file`);
  const address = view.getBigUint64(props, true);
  if (address === UNDEFINED_ADDRESS) return new Float32Array(count); // never written: the fill value, 0
  const start = Number(address);
  if (!Number.isSafeInteger(start) || start + count * 4 > fh.byteLength) throw new Hdf5Error(`dataset ${path} lies past the end of the file`);
  return new Float32Array(fh.slice(start, start + count * 4));
}

function attrValue(v: unknown): Hdf5Attr | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return decoder.decode(v);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return v as string[];
    if (v.every((x) => x instanceof Uint8Array)) return v.map((x: Uint8Array) => decoder.decode(x));
    if (v.every((x) => typeof x === 'number' || typeof x === 'bigint')) return v.map(Number);
    // A string array whose members came back as one-character arrays or mixed: join what we can.
    return v.map((x) => (typeof x === 'string' ? x : x instanceof Uint8Array ? decoder.decode(x) : String(x)));
  }
  return String(v);
}

function join(base: string, rel: string): string {
  return base === '/' ? `/${rel}` : `${base}/${rel}`;
}

function wrapDataset(d: jsfive.Dataset, path: string): Hdf5Dataset {
  let dtype: string;
  let shape: number[];
  try {
    dtype = typeof d.dtype === 'string' ? d.dtype : safeLine(JSON.stringify(d.dtype) ?? String(d.dtype), 80);
    shape = Array.from((d.shape ?? []) as ArrayLike<number>, Number);
  } catch (err) {
    throw new Hdf5Error(`cannot read dataset ${path}: ${jsfiveProblem(err)}`);
  }
  return {
    kind: 'dataset',
    path,
    shape: [...shape],
    dtype,
    attr: (name) => {
      try {
        checkAttributes(d, path);
        return attrValue(d.attrs?.[name]);
      } catch (err) {
        throw new Hdf5Error(`cannot read attribute ${safeLine(name, 80)} of ${path}: ${jsfiveProblem(err)}`);
      }
    },
    float32: () => {
      if (!/^[<>|]?[fiu]\d$/.test(dtype)) throw new Hdf5Error(`dataset ${path} holds ${dtype} values, not numbers`);
      checkChunks(d, path, shape);
      const n = shape.reduce((a, b) => a * b, 1);
      // Little-endian float32 (what Keras writes) on a little-endian machine (every target).
      const direct = dtype === '<f4' ? contiguousFloat32(d, path, n) : undefined;
      if (direct) return direct;
      let v: unknown;
      try {
        v = d.value;
      } catch (err) {
        throw new Hdf5Error(`cannot read dataset ${path}: ${jsfiveProblem(err)}`);
      }
      let out: Float32Array;
      if (v instanceof Float32Array) out = v;
      else if (Array.isArray(v) || ArrayBuffer.isView(v)) out = Float32Array.from(v as ArrayLike<number>, Number);
      else if (typeof v === 'number' || typeof v === 'bigint') out = Float32Array.of(Number(v));
      else throw new Hdf5Error(`dataset ${path} has no numeric values`);
      if (out.length !== n) throw new Hdf5Error(`dataset ${path} has ${out.length} values for shape [${shape.join(', ')}]`);
      return out;
    },
  };
}

function wrapGroup(g: jsfive.Group, path: string): Hdf5Group {
  const get = (rel: string): Hdf5Group | Hdf5Dataset | undefined => {
    const clean = rel.replace(/^\/+|\/+$/g, '');
    if (clean === '') return self;
    let node: jsfive.Group | jsfive.Dataset | null | undefined;
    try {
      // jsfive throws on a missing member; check membership level by level first.
      let cur: jsfive.Group = g;
      const parts = clean.split('/');
      for (let i = 0; i < parts.length; i++) {
        if (!cur.keys.includes(parts[i])) return undefined;
        const target = (cur as unknown as { _links?: Record<string, unknown> })._links?.[parts[i]];
        const fh = internals(cur)?.fh;
        if (typeof target === 'number' && fh instanceof ArrayBuffer) checkGroupIndex(fh, target, safeLine(join(path, parts.slice(0, i + 1).join('/')), 200));
        const next = cur.get(parts[i]);
        if (i === parts.length - 1) node = next;
        else if (next instanceof jsfive.Group) cur = next;
        else return undefined;
      }
    } catch (err) {
      throw new Hdf5Error(`cannot read ${safeLine(join(path, clean), 200)}: ${jsfiveProblem(err)}`);
    }
    // The path names the member in messages: its names come from the file (and the config).
    const shown = safeLine(join(path, clean), 200);
    if (node instanceof jsfive.Group) return wrapGroup(node, shown);
    if (node instanceof jsfive.Dataset) return wrapDataset(node, shown);
    return undefined;
  };
  const self: Hdf5Group = {
    kind: 'group',
    path,
    get keys() {
      return [...g.keys];
    },
    attr: (name) => {
      try {
        checkAttributes(g, path);
        return attrValue(g.attrs[name]);
      } catch (err) {
        throw new Hdf5Error(`cannot read attribute ${safeLine(name, 80)} of ${path}: ${jsfiveProblem(err)}`);
      }
    },
    get,
    group: (rel) => {
      const n = get(rel);
      return n?.kind === 'group' ? n : undefined;
    },
    dataset: (rel) => {
      const n = get(rel);
      return n?.kind === 'dataset' ? n : undefined;
    },
  };
  return self;
}

/** The HDF5 signature, at offset 0 of every file h5py writes. */
export const HDF5_MAGIC = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Where the superblock says the file ends (base address + end-of-file address), or undefined when
 * the superblock is of a version not known here, is itself cut short, or leaves the address undefined.
 * Superblock versions 0 and 1 (h5py's default) and 2 and 3 (libver='latest') are read.
 */
export function hdf5DeclaredEnd(bytes: Uint8Array): number | undefined {
  if (bytes.length < 12) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[8];
  let sizeOfOffsets: number;
  let base: number;
  if (version === 0 || version === 1) {
    if (bytes.length < 16) return undefined;
    sizeOfOffsets = bytes[13];
    base = version === 0 ? 24 : 28;
  } else if (version === 2 || version === 3) {
    sizeOfOffsets = bytes[9];
    base = 12;
  } else {
    return undefined;
  }
  if (sizeOfOffsets !== 2 && sizeOfOffsets !== 4 && sizeOfOffsets !== 8) return undefined;
  // base address, then (v0/1: the free-space address; v2/3: the superblock extension address), then the end-of-file address
  const eofAt = base + 2 * sizeOfOffsets;
  if (eofAt + sizeOfOffsets > bytes.length) return undefined;
  const read = (at: number): number | undefined => {
    let v: bigint;
    if (sizeOfOffsets === 8) v = view.getBigUint64(at, true);
    else v = BigInt(sizeOfOffsets === 4 ? view.getUint32(at, true) : view.getUint16(at, true));
    const undef = (1n << BigInt(8 * sizeOfOffsets)) - 1n;
    return v === undef || v > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
  };
  const baseAddress = read(base);
  const eof = read(eofAt);
  if (baseAddress === undefined || eof === undefined) return undefined;
  return baseAddress + eof;
}

/**
 * Opens an HDF5 file from its bytes; throws Hdf5Error when it is not one, is shorter than its
 * superblock says (`truncated`), or is damaged.
 */
export function openHdf5(bytes: Uint8Array): Hdf5Group {
  if (bytes.length < 8 || !HDF5_MAGIC.equals(Buffer.from(bytes.buffer, bytes.byteOffset, 8))) {
    throw new Hdf5Error('it is not an HDF5 file (no HDF5 signature)');
  }
  const end = hdf5DeclaredEnd(bytes);
  if (end !== undefined && end > bytes.length) {
    throw new Hdf5Error(`it has ${bytes.length} bytes, but its HDF5 superblock says it ends at byte ${end}`, true);
  }
  if (end === undefined && bytes.length < 64) throw new Hdf5Error(`it has ${bytes.length} bytes, too few for an HDF5 superblock`, true);
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let f: jsfive.File;
  try {
    // The root group's object header: after the root symbol table entry's name offset (superblock
    // version 0, 56 bytes), or in the superblock (versions 2 and 3).
    const view = new DataView(ab);
    const root = bytes[8] === 0 && ab.byteLength >= 72 ? Number(view.getBigUint64(64, true)) : (bytes[8] === 2 || bytes[8] === 3) && ab.byteLength >= 44 ? Number(view.getBigUint64(36, true)) : undefined;
    if (root !== undefined) checkGroupIndex(ab, root, '/');
    f = new jsfive.File(ab, 'model');
    void f.keys;
  } catch (err) {
    throw new Hdf5Error(`its HDF5 structure cannot be read (${jsfiveProblem(err)})`);
  }
  return wrapGroup(f, '/');
}

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
  const dtype = typeof d.dtype === 'string' ? d.dtype : JSON.stringify(d.dtype);
  return {
    kind: 'dataset',
    path,
    shape: [...(d.shape ?? [])],
    dtype,
    attr: (name) => attrValue(d.attrs?.[name]),
    float32: () => {
      if (!/^[<>|]?[fiu]\d$/.test(dtype)) throw new Hdf5Error(`dataset ${path} holds ${dtype} values, not numbers`);
      let v: unknown;
      try {
        v = d.value;
      } catch (err) {
        throw new Hdf5Error(`cannot read dataset ${path}: ${(err as Error).message}`);
      }
      const n = (d.shape ?? []).reduce((a, b) => a * b, 1);
      let out: Float32Array;
      if (v instanceof Float32Array) out = v;
      else if (Array.isArray(v) || ArrayBuffer.isView(v)) out = Float32Array.from(v as ArrayLike<number>, Number);
      else if (typeof v === 'number' || typeof v === 'bigint') out = Float32Array.of(Number(v));
      else throw new Hdf5Error(`dataset ${path} has no numeric values`);
      if (out.length !== n) throw new Hdf5Error(`dataset ${path} has ${out.length} values for shape [${d.shape.join(', ')}]`);
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
        const next = cur.get(parts[i]);
        if (i === parts.length - 1) node = next;
        else if (next instanceof jsfive.Group) cur = next;
        else return undefined;
      }
    } catch (err) {
      throw new Hdf5Error(`cannot read ${join(path, clean)}: ${(err as Error).message}`);
    }
    if (node instanceof jsfive.Group) return wrapGroup(node, join(path, clean));
    if (node instanceof jsfive.Dataset) return wrapDataset(node, join(path, clean));
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
        return attrValue(g.attrs[name]);
      } catch (err) {
        throw new Hdf5Error(`cannot read attribute ${name} of ${path}: ${(err as Error).message}`);
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
    f = new jsfive.File(ab, 'model');
    void f.keys;
  } catch (err) {
    throw new Hdf5Error(`its HDF5 structure cannot be read (${(err as Error).message ?? String(err)})`);
  }
  return wrapGroup(f, '/');
}

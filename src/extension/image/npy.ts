/**
 * NumPy `.npy` files (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
 * attribution maps are written as float32 so that Python users can `np.load` them, and maps made
 * in Python can be read back.
 */
import { UserError } from '../../shared/errors';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
/** NumPy pads the header so that the data starts on a multiple of 64 bytes. */
const ALIGN = 64;
/** NumPy leaves room for the first axis to grow to this many digits when rewriting in place. */
const GROWTH_AXIS_MAX_DIGITS = 21;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Python's repr of a tuple of ints: `()`, `(5,)`, `(2, 3)`. */
function pythonTuple(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** Encodes float32 data of the given shape (C order) as a version 1.0 `.npy` file, byte for byte as `np.save` does. */
export function encodeNpy(data: Float32Array, shape: number[]): Buffer {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new RangeError(`invalid shape (${shape.join(', ')})`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`shape (${shape.join(', ')}) holds ${count} values, data has ${data.length}`);

  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${pythonTuple(shape)}, }`;
  if (shape.length > 0) dict += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  const prefixLength = MAGIC.length + 2 + 2; // magic, version, uint16 header length
  const unpadded = prefixLength + dict.length + 1; // + the closing '\n'
  const header = dict + ' '.repeat((ALIGN - (unpadded % ALIGN)) % ALIGN) + '\n';
  if (header.length > 0xffff) throw new RangeError('shape too long for a version 1.0 .npy header');

  const out = Buffer.alloc(prefixLength + header.length + data.byteLength);
  MAGIC.copy(out, 0);
  out[6] = 1; // format version 1.0
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, prefixLength, 'latin1');
  const body = prefixLength + header.length;
  if (HOST_LITTLE_ENDIAN) {
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, body);
  } else {
    for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], body + 4 * i);
  }
  return out;
}

type Reader = (view: DataView, offset: number, littleEndian: boolean) => number;

/** Readers and item sizes for the numeric dtypes NumPy may write (kind + size, e.g. 'f4'). */
const READERS: Record<string, [number, Reader]> = {
  b1: [1, (v, o) => v.getUint8(o)],
  u1: [1, (v, o) => v.getUint8(o)],
  i1: [1, (v, o) => v.getInt8(o)],
  u2: [2, (v, o, le) => v.getUint16(o, le)],
  i2: [2, (v, o, le) => v.getInt16(o, le)],
  u4: [4, (v, o, le) => v.getUint32(o, le)],
  i4: [4, (v, o, le) => v.getInt32(o, le)],
  u8: [8, (v, o, le) => Number(v.getBigUint64(o, le))],
  i8: [8, (v, o, le) => Number(v.getBigInt64(o, le))],
  f4: [4, (v, o, le) => v.getFloat32(o, le)],
  f8: [8, (v, o, le) => v.getFloat64(o, le)],
};

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

function parseHeader(text: string): NpyHeader {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new UserError(`not a valid .npy file: malformed header ${JSON.stringify(text.trim())}`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s.replace(/L$/, ''))); // Python 2 wrote longs as 3L
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new UserError(`not a valid .npy file: bad shape (${shapeText})`);
  return { descr, fortranOrder: fortran === 'True', shape };
}

/** Reorders values stored in Fortran (column-major) order into C (row-major) order. */
function fortranToC(shape: number[], values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  const strides = shape.map((_, k) => shape.slice(0, k).reduce((a, b) => a * b, 1));
  const index = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < out.length; i++) {
    let src = 0;
    for (let k = 0; k < shape.length; k++) src += index[k] * strides[k];
    out[i] = values[src];
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++index[k] < shape[k]) break;
      index[k] = 0;
    }
  }
  return out;
}

/**
 * Decodes a `.npy` file (versions 1–3) of any real numeric dtype into float32 values in C order.
 * Throws a UserError for anything else (object arrays, structured dtypes, complex, truncated files).
 */
export function decodeNpy(buf: Buffer): { data: Float32Array; shape: number[] } {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new UserError('not a .npy file (it does not start with \\x93NUMPY)');
  const major = buf[6];
  if (major < 1 || major > 3) throw new UserError(`unsupported .npy format version ${major}.${buf[7]}`);
  const lengthBytes = major === 1 ? 2 : 4;
  if (buf.length < 8 + lengthBytes) throw new UserError('truncated .npy file');
  const headerLength = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const dataStart = 8 + lengthBytes + headerLength;
  if (buf.length < dataStart) throw new UserError('truncated .npy file (incomplete header)');
  const header = parseHeader(buf.toString(major === 3 ? 'utf8' : 'latin1', 8 + lengthBytes, dataStart));

  const dtype = /^([<>|=])([biuf]\d+)$/.exec(header.descr);
  const reader = dtype ? READERS[dtype[2]] : undefined;
  if (!dtype || !reader) throw new UserError(`unsupported .npy dtype '${header.descr}' (expected a real number type such as '<f4')`);
  const [itemSize, read] = reader;
  // '=' is native order; NumPy writes '<' or '>' explicitly, and '|' only for one-byte types.
  const littleEndian = dtype[1] === '>' ? false : dtype[1] === '=' ? HOST_LITTLE_ENDIAN : true;

  const count = header.shape.reduce((a, b) => a * b, 1);
  if (buf.length < dataStart + count * itemSize) {
    throw new UserError(`truncated .npy file: shape (${header.shape.join(', ')}) needs ${count * itemSize} data bytes, found ${buf.length - dataStart}`);
  }
  let data: Float32Array;
  if (header.descr === '<f4' && HOST_LITTLE_ENDIAN) {
    // Copy into a fresh, aligned buffer: the file's data may start at any byte offset.
    data = new Float32Array(count);
    new Uint8Array(data.buffer).set(buf.subarray(dataStart, dataStart + count * 4));
  } else {
    const view = new DataView(buf.buffer, buf.byteOffset + dataStart, count * itemSize);
    data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = read(view, i * itemSize, littleEndian);
  }
  if (header.fortranOrder && header.shape.length > 1) data = fortranToC(header.shape, data);
  return { data, shape: header.shape };
}

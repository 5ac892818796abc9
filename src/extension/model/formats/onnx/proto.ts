/**
 * Reading ONNX files: the protobuf messages (a reduced onnx.proto, field numbers as ONNX's own),
 * decoded with protobufjs straight from a Node Buffer, so `raw_data` fields are views into the
 * file's bytes (no copy while decoding), and tensors (initializers, TENSOR attributes) turned into
 * values and tfjs tensors that own their memory (nothing made from the file keeps its bytes
 * alive), including tensors whose bytes live in external data files beside the model.
 */
import * as protobuf from 'protobufjs';
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../../../shared/errors';
import { MAX_MODEL_FILE_BYTES, ModelFolder, readModelFile, readRange } from '../../side-files';
import { safeLine } from '../../../util/excerpt';

/** The messages XAI Lens reads, as in onnx/onnx.proto (fields it does not read are skipped on decoding). */
const ONNX_PROTO = `
syntax = "proto2";
package onnx;
message AttributeProto {
  optional string name = 1;
  optional string ref_attr_name = 21;
  optional int32 type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
}
message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
  repeated StringStringEntryProto metadata_props = 9;
}
message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}
message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}
message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
  repeated StringStringEntryProto metadata_props = 16;
}
message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
  repeated StringStringEntryProto external_data = 13;
  optional int32 data_location = 14;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
}
message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
  optional string denotation = 6;
}
message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
`;

/** int64 fields decode to numbers or Long objects (protobufjs ships long.js). */
export type Int64 = number | { toNumber(): number };

export interface StringStringEntry { key: string; value: string }
export interface Dimension { dim_value?: Int64; dim_param?: string }
export interface TypeProto { tensor_type?: { elem_type?: number; shape?: { dim?: Dimension[] } } }
export interface ValueInfo { name: string; type?: TypeProto }
export interface TensorProto {
  dims: Int64[];
  data_type: number;
  float_data: number[];
  int32_data: number[];
  int64_data: Int64[];
  double_data: number[];
  uint64_data: Int64[];
  name: string;
  raw_data?: Buffer;
  external_data: StringStringEntry[];
  data_location: number;
}
export interface AttributeProto {
  name: string;
  ref_attr_name?: string;
  type: number;
  f: number;
  i: Int64;
  s?: Buffer;
  t?: TensorProto;
  g?: unknown;
  floats: number[];
  ints: Int64[];
  strings: Buffer[];
  tensors: TensorProto[];
  graphs: unknown[];
}
export interface NodeProto {
  input: string[];
  output: string[];
  name: string;
  op_type: string;
  domain: string;
  attribute: AttributeProto[];
  metadata_props: StringStringEntry[];
}
export interface GraphProto {
  node: NodeProto[];
  name: string;
  initializer: TensorProto[];
  input: ValueInfo[];
  output: ValueInfo[];
  value_info: ValueInfo[];
}
export interface ModelProto {
  ir_version: Int64;
  opset_import: { domain: string; version: Int64 }[];
  producer_name: string;
  producer_version: string;
  graph?: GraphProto;
  metadata_props: StringStringEntry[];
}

/** ONNX TensorProto.DataType values XAI Lens reads. */
export const DataType = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13,
} as const;

const DATA_TYPE_NAMES: Record<number, string> = {
  0: 'undefined', 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool', 10: 'float16', 11: 'float64',
  12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128', 16: 'bfloat16',
};

export function dataTypeName(t: number): string {
  return DATA_TYPE_NAMES[t] ?? `type ${t}`;
}

let modelType: protobuf.Type | undefined;
function modelProtoType(): protobuf.Type {
  if (!modelType) modelType = protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

export function toNumber(v: Int64 | undefined): number {
  if (v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** int64 → int32 (tfjs has no int64), clamped: Slice's INT64_MAX "to the end" stays "to the end". */
export function clampInt32(v: number): number {
  return v > 2147483647 ? 2147483647 : v < -2147483648 ? -2147483648 : v;
}

/** The first bytes of a ModelProto: field 1 (ir_version) as a varint, the first field every exporter writes. */
export function looksLikeOnnx(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x08 && head[1] > 0 && head[1] < 0x80;
}

/**
 * Decodes a ModelProto. `bytes` stays referenced by the result (raw_data fields are views into it).
 * Throws a one-line UserError naming `file` for corrupt or truncated data.
 */
export function decodeModel(bytes: Buffer, file: string): ModelProto {
  if (!looksLikeOnnx(bytes)) throw new UserError(`${file} is not a valid ONNX model: it does not start like an ONNX ModelProto`);
  let model: ModelProto;
  try {
    const type = modelProtoType();
    // The decoded message itself (defaults on its prototype): no second copy of the tree.
    model = type.decode(protobuf.Reader.create(bytes)) as unknown as ModelProto;
  } catch (err) {
    const message = (err as Error).message.split('\n')[0];
    if (/index out of range/.test(message)) throw new UserError(`${file} is truncated (${bytes.length} bytes; it ends inside a field)`);
    throw new UserError(`${file} is not a valid ONNX model: ${message}`);
  }
  if (!model.graph || model.graph.node.length === 0) throw new UserError(`${file} is not a valid ONNX model: it has no graph`);
  return model;
}

/**
 * Encodes a ModelProto, or a plain object of its fields, with the reduced schema above: fields it
 * lacks are not written (a decoded model re-encoded loses them).
 */
export function encodeModel(model: ModelProto | Record<string, unknown>): Uint8Array {
  return modelProtoType().encode(model).finish();
}

/** Completes "more than the 2 GiB XAI Lens reads from …". */
export const ONNX_WHAT = 'one .onnx file (larger models keep their weights in external data files)';

/** Reads and decodes an .onnx file. */
export function readModel(file: string): ModelProto {
  return decodeModel(readModelFile(file, MAX_MODEL_FILE_BYTES, ONNX_WHAT), file);
}

/** The external-data fields of a tensor. */
export function externalDataOf(t: TensorProto): { location: string; offset: number; length?: number } | undefined {
  if (t.data_location !== 1) return undefined;
  const entry = (k: string) => t.external_data.find((e) => e.key === k)?.value;
  const location = entry('location');
  if (location === undefined || location === '') throw new UserError(`the tensor ${t.name} is stored outside the model but names no file`);
  const offset = Number(entry('offset') ?? 0);
  const len = entry('length');
  return { location, offset, length: len === undefined ? undefined : Number(len) };
}

/**
 * Reads the external data of one model, checked as every side file is (side-files.ts): inside
 * the model's folder (after links), a regular file, large enough for what the tensors ask of it.
 * Each tensor's bytes are read alone, at its offset: no more of a file is read than the model's
 * tensors take.
 */
export class ExternalData {
  private readonly folder: ModelFolder;
  private readonly found = new Map<string, { real: string; size: number }>();

  constructor(private readonly modelFile: string) {
    this.folder = new ModelFolder(modelFile);
  }

  private locate(location: string): { real: string; size: number } {
    const known = this.found.get(location);
    if (known) return known;
    const name = this.modelFile;
    const loc = safeLine(location);
    const r = this.folder.lookup(location);
    if (!r.ok) {
      switch (r.problem) {
        case 'absolute':
          throw new UserError(`${name} names external data at an absolute path (${loc}); only files in the model's folder are read`);
        case 'outside':
          throw new UserError(`${name} names external data outside its folder (${loc}); only files in the model's folder are read`);
        case 'special':
          throw new UserError(`${name} names external data ${loc}, which is not a regular file (a device, a pipe or a folder)`);
        default:
          throw new UserError(`${name} keeps weights in ${loc}, which is missing`);
      }
    }
    this.found.set(location, r);
    return r;
  }

  /** The real path of an external-data location, or a UserError when it is not a safe regular file. */
  resolve(location: string): string {
    return this.locate(location).real;
  }

  /** Checks that the tensor's bytes are there (see bytes) without reading them; the file's real path. */
  check(t: TensorProto, location: string, offset: number, length: number | undefined, needed: number): string {
    const { real, size } = this.locate(location);
    const len = length ?? needed;
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(len) || len < 0 || offset + len > size) {
      throw new UserError(`${this.modelFile}: the tensor ${safeLine(t.name)} lies at bytes ${offset}..${offset + len} of ${safeLine(location)}, which has ${size} bytes (truncated?)`);
    }
    return real;
  }

  /** The tensor's bytes: `needed` of them (fewer when its length says fewer), read at its offset. */
  bytes(t: TensorProto, location: string, offset: number, length: number | undefined, needed: number): Buffer {
    const real = this.check(t, location, offset, length, needed);
    const len = Math.min(length ?? needed, needed);
    return readRange(real, offset, len, `${safeLine(location)} (external data of ${this.modelFile})`);
  }
}

/** A typed array over `bytes` when it is aligned, else over a copy. */
function view<T>(bytes: Buffer, ctor: { new (b: ArrayBufferLike, o: number, n: number): T; new (n: number): T; BYTES_PER_ELEMENT: number }, n: number): T {
  const size = ctor.BYTES_PER_ELEMENT;
  if (bytes.byteOffset % size === 0) return new ctor(bytes.buffer, bytes.byteOffset, n);
  const copy = new Uint8Array(n * size);
  copy.set(bytes.subarray(0, n * size));
  return new ctor(copy.buffer, 0, n);
}

function float16ToFloat32(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const x = h[i];
    const sign = x & 0x8000 ? -1 : 1;
    const exp = (x >> 10) & 0x1f;
    const frac = x & 0x3ff;
    out[i] = exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** A typed array that owns its memory: `a` itself, or a copy when `a` is a view into a larger buffer (the file's). */
function own<T extends Float32Array | Int32Array>(a: T): T {
  return a.byteOffset === 0 && a.buffer.byteLength === a.byteLength ? a : (a.slice() as T);
}

/** The values of a TensorProto, as a tfjs tensor would hold them. */
export interface ProtoValues {
  values: Float32Array | Int32Array | Uint8Array;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
}

/**
 * The values of a TensorProto: float types → float32, integer types → int32 (int64 clamped),
 * bool → bool. The arrays own their memory (never views of the file's bytes), so a tensor made
 * from them keeps nothing of the file alive, on any backend.
 */
const ELEM_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8 };

/** Bytes per element of a TensorProto data type; undefined for the types XAI Lens does not read. */
export function elementBytes(dataType: number): number | undefined {
  return ELEM_BYTES[dataType];
}

/** Elements a tensor of a model may have: 2³¹ − 1, what a typed array of 1-byte values can hold. */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

/** A TensorProto's dims, checked: whole numbers ≥ 0 whose product a typed array can hold. */
function shapeOf(t: TensorProto): { shape: number[]; n: number } {
  const what = `the tensor ${safeLine(t.name || '(unnamed)')}`;
  const shape = t.dims.map(toNumber);
  const bad = shape.find((d) => !Number.isSafeInteger(d) || d < 0);
  if (bad !== undefined) throw new UserError(`${what} has the dimension ${bad} (dimensions are whole numbers ≥ 0)`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n > MAX_TENSOR_ELEMENTS) throw new UserError(`${what} has the shape [${shape.join(', ')}]: ${n.toPrecision(3)} values, more than the ${MAX_TENSOR_ELEMENTS} a tensor can hold`);
  return { shape, n };
}

/** How many values a TensorProto stores in its typed field (when it has no raw or external bytes). */
function storedValues(t: TensorProto): number {
  switch (t.data_type) {
    case DataType.FLOAT: return t.float_data.length;
    case DataType.DOUBLE: return t.double_data.length;
    case DataType.INT64: return t.int64_data.length;
    case DataType.UINT32: case DataType.UINT64: return t.uint64_data.length;
    default: return t.int32_data.length;
  }
}

/**
 * The errors valuesFromProto would throw for `t` (a missing or short external file, too few
 * bytes, a type XAI Lens does not read), found without reading external data: a tensor read
 * later fails at load as one read at once would.
 */
export function checkTensorProto(t: TensorProto, external?: ExternalData): void {
  const { n } = shapeOf(t);
  const what = `the tensor ${safeLine(t.name || '(unnamed)')}`;
  if (ELEM_BYTES[t.data_type] === undefined) throw new UserError(`${what} holds ${dataTypeName(t.data_type)} values, which XAI Lens does not read`);
  const ext = externalDataOf(t);
  if (ext) {
    if (!external) throw new UserError(`the tensor ${t.name} is stored outside the model, where it cannot be read`);
    external.check(t, ext.location, ext.offset, ext.length, n * ELEM_BYTES[t.data_type]);
    if (ext.length !== undefined && ext.length < n * ELEM_BYTES[t.data_type]) {
      throw new UserError(`${what} has ${ext.length} bytes of data for ${n} ${dataTypeName(t.data_type)} values`);
    }
  } else if (t.raw_data && t.raw_data.length > 0) {
    if (t.raw_data.length < n * ELEM_BYTES[t.data_type]) throw new UserError(`${what} has ${t.raw_data.length} bytes of data for ${n} ${dataTypeName(t.data_type)} values`);
  } else if (storedValues(t) !== n) {
    throw new UserError(`${what} stores ${storedValues(t)} values for its ${n} (shape [${t.dims.map(toNumber).join(', ')}])`);
  }
}

export function valuesFromProto(t: TensorProto, external?: ExternalData): ProtoValues {
  const { shape, n } = shapeOf(t);
  const ext = externalDataOf(t);
  const elemBytes = ELEM_BYTES;
  let raw = t.raw_data && t.raw_data.length > 0 ? t.raw_data : undefined;
  if (ext) {
    if (!external) throw new UserError(`the tensor ${t.name} is stored outside the model, where it cannot be read`);
    raw = external.bytes(t, ext.location, ext.offset, ext.length, n * (elemBytes[t.data_type] ?? 0));
  }
  const what = `the tensor ${safeLine(t.name || '(unnamed)')}`;
  if (raw && elemBytes[t.data_type] !== undefined && raw.length < n * elemBytes[t.data_type]) {
    throw new UserError(`${what} has ${raw.length} bytes of data for ${n} ${dataTypeName(t.data_type)} values`);
  }
  if (!raw && elemBytes[t.data_type] !== undefined && storedValues(t) !== n) {
    throw new UserError(`${what} stores ${storedValues(t)} values for its ${n} (shape [${shape.join(', ')}])`);
  }
  const float = (values: Float32Array): ProtoValues => ({ values, shape, dtype: 'float32' });
  const int = (values: Int32Array): ProtoValues => ({ values, shape, dtype: 'int32' });
  const ints = (values: ArrayLike<number>) => {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = clampInt32(values[i]);
    return int(out);
  };
  switch (t.data_type) {
    case DataType.FLOAT:
      return float(raw ? own(view(raw, Float32Array, n)) : Float32Array.from(t.float_data));
    case DataType.DOUBLE:
      return float(Float32Array.from(raw ? view(raw, Float64Array, n) : t.double_data));
    case DataType.FLOAT16:
      return float(float16ToFloat32(raw ? view(raw, Uint16Array, n) : Uint16Array.from(t.int32_data)));
    case DataType.INT32:
      return int(raw ? own(view(raw, Int32Array, n)) : Int32Array.from(t.int32_data));
    case DataType.INT64: {
      if (!raw) return ints(t.int64_data.map(toNumber));
      const big = view(raw, BigInt64Array, n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = clampInt32(Number(big[i]));
      return int(out);
    }
    case DataType.UINT32:
      return ints(raw ? view(raw, Uint32Array, n) : t.uint64_data.map(toNumber));
    case DataType.UINT64:
      return ints(raw ? Array.from(view(raw, BigUint64Array, n), Number) : t.uint64_data.map(toNumber));
    case DataType.INT8:
      return ints(raw ? view(raw, Int8Array, n) : t.int32_data);
    case DataType.UINT8:
      return ints(raw ? view(raw, Uint8Array, n) : t.int32_data);
    case DataType.INT16:
      return ints(raw ? view(raw, Int16Array, n) : t.int32_data);
    case DataType.UINT16:
      return ints(raw ? view(raw, Uint16Array, n) : t.int32_data);
    case DataType.BOOL: {
      const src = raw ? view(raw, Uint8Array, n) : t.int32_data;
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = src[i] ? 1 : 0;
      return { values: out, shape, dtype: 'bool' };
    }
    default:
      throw new UserError(`${what} holds ${dataTypeName(t.data_type)} values, which XAI Lens does not read`);
  }
}

/** A TensorProto as a tfjs tensor (see valuesFromProto). */
export function tensorFromProto(t: TensorProto, external?: ExternalData): tf.Tensor {
  const { values, shape, dtype } = valuesFromProto(t, external);
  return tf.tensor(values, shape, dtype);
}

/** The external-data files a model names (model-relative locations, each once), read from its tensors. */
export function externalLocations(model: ModelProto): string[] {
  const out = new Set<string>();
  const visit = (t: TensorProto | undefined) => {
    if (t && t.data_location === 1) {
      const loc = t.external_data.find((e) => e.key === 'location')?.value;
      if (loc) out.add(loc);
    }
  };
  for (const t of model.graph?.initializer ?? []) visit(t);
  for (const n of model.graph?.node ?? []) for (const a of n.attribute) visit(a.t);
  return [...out];
}

/**
 * An ONNX model's bytes as ONNX Runtime is given them. ONNX Runtime returns only graph outputs, so
 * inner values (the logits under a Softmax head, a layer's activations) are added as outputs by
 * appending a ModelProto that holds only those: protobuf merges a message field written twice and
 * appends to its repeated fields, so the file's own graph is kept byte for byte. Weights kept in
 * external data files are inlined first, read through ExternalData: the files, checked the same
 * way, that the tfjs loader reads.
 */
import { UserError } from '../../../../shared/errors';
import { MAX_MODEL_FILE_BYTES, readModelFile } from '../../side-files';
import { ONNX_WHAT, dataTypeName, decodeModel, elementBytes, encodeModel, ExternalData, externalDataOf, toNumber, type ModelProto, type TensorProto } from './proto';

/** The largest message protobuf (and so ONNX Runtime) reads. */
const MAX_MODEL_BYTES = 2 ** 31 - 1;

function externalTensors(model: ModelProto): TensorProto[] {
  const g = model.graph!;
  const inAttributes = g.node.flatMap((n) => n.attribute.flatMap((a) => [a.t, ...(a.tensors ?? [])]));
  return [...g.initializer, ...inAttributes].filter((t): t is TensorProto => !!t && t.data_location === 1);
}

/** The model re-encoded with the external tensors' bytes in place (fields the reduced schema lacks are dropped). */
function inlined(model: ModelProto, file: string, tensors: TensorProto[]): Uint8Array {
  const external = new ExternalData(file);
  let total = 0;
  for (const t of tensors) {
    const ext = externalDataOf(t)!;
    const size = elementBytes(t.data_type);
    if (size === undefined) throw new UserError(`the tensor ${t.name} holds ${dataTypeName(t.data_type)} values, which XAI Lens does not read`);
    const n = t.dims.map(toNumber).reduce((a, b) => a * b, 1);
    t.raw_data = external.bytes(t, ext.location, ext.offset, ext.length, n * size);
    t.external_data = [];
    t.data_location = 0;
    total += t.raw_data.length;
  }
  if (total > MAX_MODEL_BYTES) throw new UserError(`its weights (${(total / 2 ** 30).toFixed(1)} GiB) do not fit in one ONNX message (2 GiB)`);
  return encodeModel(model);
}

/**
 * The bytes of `file` (and its external data) with `outputs` (value names) among the graph's
 * outputs. Throws a UserError naming what failed.
 */
export function ortModelBytes(file: string, outputs: readonly string[]): Uint8Array {
  const bytes = readModelFile(file, MAX_MODEL_FILE_BYTES, ONNX_WHAT);
  const model = decodeModel(bytes, file);
  const external = externalTensors(model);
  const base = external.length > 0 ? inlined(model, file, external) : bytes;
  const declared = new Set(model.graph!.output.map((o) => o.name));
  const extra = [...new Set(outputs)].filter((o) => !declared.has(o));
  if (extra.length === 0) return base;
  // Outputs without a type: ONNX Runtime takes the type its inference gives the value.
  const tail = encodeModel({ graph: { output: extra.map((name) => ({ name })) } });
  const out = new Uint8Array(base.length + tail.length);
  out.set(base);
  out.set(tail, base.length);
  return out;
}

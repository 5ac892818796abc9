/**
 * What the token views need from an attention model: its token inputs (or why it is not a token
 * model), and one layer's attention as a [queries, keys] matrix of one head or of the fused heads.
 */
import { UserError } from '../../shared/errors';
import type { AttentionLayerInfo, HeadFusion } from '../../shared/attention';
import type { AttentionModel } from './attention-model';
import { checkHead, headRows } from './fuse-heads';

/** Token inputs of an attention model, or a UserError saying why it is not a token model. */
export function tokenInputs(model: AttentionModel) {
  const inputs = model.inputs.filter((x) => x.kind === 'tokens');
  if (inputs.length !== model.inputs.length) throw new UserError(`${model.name} takes an image: open an image and use its Attention tab (XAI Lens: Show Attention on the image)`);
  return inputs as Extract<AttentionModel['inputs'][number], { kind: 'tokens' }>[];
}

export interface RawRequest {
  /** The layer's name (default: the last layer). */
  layer?: string;
  /** A head, or the mean (default), max or min over the heads. */
  head?: number | HeadFusion;
  /** One query token, whose row is also given on its own. */
  query?: number;
}

export interface RawMatrix {
  layer: string;
  head: number | HeadFusion;
  /** The query tokens (rows) and key tokens (columns) as strings (indices when the side has none). */
  queries: string[];
  keys: string[];
  /** [queries][keys]. */
  matrix: number[][];
  query?: number;
  row?: number[];
}

/**
 * One layer's attention as a matrix. `shapes`: each layer's [heads, q, k]; `strings`: the token
 * strings by side (model input name).
 */
export function rawMatrix(
  modelName: string, layers: readonly AttentionLayerInfo[], shapes: readonly number[][], probabilities: readonly Float32Array[],
  strings: ReadonlyMap<string, string[]>, req: RawRequest,
): RawMatrix {
  const li = req.layer === undefined ? layers.length - 1 : layers.findIndex((l) => l.name === req.layer);
  if (li < 0) throw new UserError(`${req.layer} is not an attention layer of ${modelName} (its attention layers: ${layers.map((l) => l.name).join(', ')})`);
  const l = layers[li];
  const [heads, q, k] = shapes[li];
  const head = req.head ?? 'mean';
  checkHead(head, heads, l.name);
  if (req.query !== undefined && !(Number.isInteger(req.query) && req.query >= 0 && req.query < q)) {
    throw new UserError(`query ${req.query} is out of range: ${l.name} has ${q} query tokens (0..${q - 1})`);
  }
  const values = headRows(probabilities[li], heads, q, k, head);
  const matrix = Array.from({ length: q }, (_, i) => Array.from(values.subarray(i * k, (i + 1) * k)));
  const indices = (n: number) => Array.from({ length: n }, (_, i) => String(i));
  return {
    layer: l.name, head,
    queries: strings.get(l.querySide) ?? indices(q),
    keys: strings.get(l.keySide) ?? indices(k),
    matrix,
    ...(req.query !== undefined ? { query: req.query, row: matrix[req.query] } : {}),
  };
}

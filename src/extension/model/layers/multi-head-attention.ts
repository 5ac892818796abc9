/**
 * Keras' `MultiHeadAttention` layer for tfjs-layers (which does not ship one), so Keras-converted
 * Transformer models load: the tf.keras 2.x config, weights named and shaped as Keras' EinsumDense
 * sublayers write them (`<layer>/query/kernel` …), scaled dot-product attention over the sequence
 * axis (or other `attention_axes`), optional attention / causal masks and attention scores.
 * Importing this module registers the class under Keras' class name.
 */
import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { layers, SymbolicTensor, type LayerVariable } from '@tensorflow/tfjs-layers';
import { deepCopy, resolveInitializer, trainingOnlyConfigs, type Initializer, type InitializerSpec, type KernelBiasArgs } from './layer-config';

type LayerArgs = NonNullable<ConstructorParameters<typeof layers.Layer>[0]>;
type Shape = (number | null)[];
type ConfigValue = serialization.ConfigDictValue;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Kwargs = { [key: string]: any };

export type { InitializerSpec };

export interface MultiHeadAttentionArgs extends LayerArgs, KernelBiasArgs {
  numHeads: number;
  /** Size of each attention head for query and key. */
  keyDim: number;
  /** Size of each attention head for value; null means keyDim. */
  valueDim?: number | null;
  /** Dropout on the attention probabilities: kept in the config, ignored (inference only). */
  dropout?: number;
  useBias?: boolean;
  /** Output size (or shape) of the last axis; null means the query's last dimension. */
  outputShape?: number | number[] | null;
  /** Axes attended over; null means every axis but the batch and feature axes. */
  attentionAxes?: number | number[] | null;
  /** Input shapes Keras records once the layer is built (kept for the config round-trip). */
  queryShape?: Shape | null;
  keyShape?: Shape | null;
  valueShape?: Shape | null;
}

/** Call options a layer call carries in its inbound node (Keras' call kwargs other than tensors). */
interface CallDefaults {
  useCausalMask?: boolean;
  returnAttentionScores?: boolean;
  /** An attention mask Keras serialised as a constant (nested numbers). */
  attentionMask?: ConfigValue;
}

const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);
const flag = (kw: Kwargs, camel: string, snake: string): boolean | undefined => {
  const v = kw[camel] ?? kw[snake];
  return v == null ? undefined : Boolean(v);
};
const isTensorLike = (x: unknown): x is tf.Tensor | SymbolicTensor => x instanceof tf.Tensor || x instanceof SymbolicTensor;

/**
 * Multi-head scaled dot-product attention, as tf.keras 2.x `MultiHeadAttention`.
 *
 * Inputs: the query alone (self-attention), `[query, value]`, `[query, value, key]` or
 * `[query, value, key, attentionMask]` (the form Keras models' tensor kwargs are rewritten to by
 * `normalizeKerasTopology`). Call kwargs: `attentionMask` (1 = attend; broadcast to
 * [batch, heads, q, k] like Keras), `useCausalMask`, `returnAttentionScores` (the output is then
 * `[output, scores]`, scores [batch, heads, q_len, k_len]); snake_case spellings are accepted too.
 * tfjs-layers runs a layer's graph calls without the kwargs recorded in its inbound node, so the
 * boolean and constant-mask kwargs of the layer's symbolic call become its defaults.
 */
export class MultiHeadAttention extends layers.Layer {
  static className = 'MultiHeadAttention';

  readonly numHeads: number;
  /**
   * Sees (and may replace) the attention probabilities [batch, heads, q, k] before they weight the
   * values: how explanations read the attention of a normal forward pass, and take gradients with
   * respect to it (by adding a zero tensor they differentiate against). Not serialised.
   */
  probabilitiesHook?: (probs: tf.Tensor) => tf.Tensor;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly dropout: number;
  readonly useBias: boolean;
  private readonly outputShapeArg: number | number[] | null;
  private readonly attentionAxesArg: number[] | null;
  private readonly kernelInit: { init: Initializer; config: serialization.ConfigDict };
  private readonly biasInit: { init: Initializer; config: serialization.ConfigDict };
  private readonly trainingOnly: ReturnType<typeof trainingOnlyConfigs>;
  private queryShape: Shape | null;
  private keyShape: Shape | null;
  private valueShape: Shape | null;
  private callDefaults: CallDefaults | undefined;
  private readonly dtypeArg: string;
  private kernels: { query?: LayerVariable; key?: LayerVariable; value?: LayerVariable; output?: LayerVariable } = {};
  private biases: { query?: LayerVariable; key?: LayerVariable; value?: LayerVariable; output?: LayerVariable } = {};

  constructor(args: MultiHeadAttentionArgs) {
    super(args);
    const positiveInt = (v: unknown, what: string) => {
      if (!Number.isInteger(v) || (v as number) <= 0) throw new Error(`MultiHeadAttention: ${what} must be a positive integer, got ${JSON.stringify(v)}`);
      return v as number;
    };
    this.dtypeArg = this.dtype ?? args.dtype ?? 'float32';
    this.numHeads = positiveInt(args.numHeads, 'num_heads');
    this.keyDim = positiveInt(args.keyDim, 'key_dim');
    this.valueDim = args.valueDim == null ? this.keyDim : positiveInt(args.valueDim, 'value_dim');
    this.dropout = args.dropout ?? 0;
    this.useBias = args.useBias ?? true;
    const out = args.outputShape ?? null;
    if (out !== null) (Array.isArray(out) ? out : [out]).forEach((d) => positiveInt(d, 'output_shape'));
    this.outputShapeArg = Array.isArray(out) ? [...out] : out;
    const axes = args.attentionAxes ?? null;
    this.attentionAxesArg = axes === null ? null : Array.isArray(axes) ? [...axes] : [axes];
    this.attentionAxesArg?.forEach((a) => {
      if (!Number.isInteger(a)) throw new Error(`MultiHeadAttention: attention_axes must be integers, got ${JSON.stringify(axes)}`);
    });
    this.kernelInit = resolveInitializer(args.kernelInitializer, 'glorotUniform', 'MultiHeadAttention');
    this.biasInit = resolveInitializer(args.biasInitializer, 'zeros', 'MultiHeadAttention');
    this.trainingOnly = trainingOnlyConfigs(args);
    this.queryShape = deepCopy(args.queryShape ?? null);
    this.keyShape = deepCopy(args.keyShape ?? null);
    this.valueShape = deepCopy(args.valueShape ?? null);
  }

  /** The size of each output axis after the query's non-feature axes. */
  private outputDims(queryDim: number): number[] {
    if (this.outputShapeArg === null) return [queryDim];
    return Array.isArray(this.outputShapeArg) ? this.outputShapeArg : [this.outputShapeArg];
  }

  /** The attended axes of inputs of rank `rank` (batch axis 0, feature axis rank − 1). */
  private attentionAxes(rank: number): number[] {
    if (rank < 3) throw new Error(`MultiHeadAttention "${this.name}": inputs must have rank 3 or more ([batch, ..., features]), got rank ${rank}`);
    const all = Array.from({ length: rank - 2 }, (_, i) => i + 1);
    if (this.attentionAxesArg === null) return all;
    const axes = this.attentionAxesArg;
    const bad = axes.length === 0 || new Set(axes).size !== axes.length || axes.some((a) => a < 1 || a > rank - 2);
    if (bad) {
      throw new Error(
        `MultiHeadAttention "${this.name}": attention_axes ${JSON.stringify(axes)} is not supported for ${rank}-D inputs; ` +
        `give distinct axes between 1 and ${rank - 2} (not the batch axis 0, the feature axis ${rank - 1} or negative axes)`,
      );
    }
    return axes;
  }

  override build(inputShape: Shape | Shape[]): void {
    const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as Shape[];
    const [query, value = query, key = value] = shapes;
    const last = (s: Shape, what: string) => {
      const d = s[s.length - 1];
      if (d == null) throw new Error(`MultiHeadAttention "${this.name}": the ${what}'s last dimension must be known, got shape [${s.join(', ')}]`);
      return d;
    };
    const rank = query.length;
    this.attentionAxes(rank);
    if (value.length !== rank || key.length !== rank) {
      throw new Error(`MultiHeadAttention "${this.name}": query, value and key must have the same rank, got [${query}], [${value}], [${key}]`);
    }
    const [dq, dv, dk] = [last(query, 'query'), last(value, 'value'), last(key, 'key')];
    this.queryShape = [...query];
    this.valueShape = [...value];
    this.keyShape = [...key];
    const heads = this.numHeads;
    const out = this.outputDims(dq);
    // Keras' order: query, key, value, attention_output; each kernel then its bias.
    const dense = (name: 'query' | 'key' | 'value' | 'attention_output', kernelShape: number[], biasShape: number[]) => {
      const slot = name === 'attention_output' ? 'output' : name;
      this.kernels[slot] = this.addWeight(`${name}/kernel`, kernelShape, 'float32', this.kernelInit.init, undefined, true);
      if (this.useBias) this.biases[slot] = this.addWeight(`${name}/bias`, biasShape, 'float32', this.biasInit.init, undefined, true);
    };
    dense('query', [dq, heads, this.keyDim], [heads, this.keyDim]);
    dense('key', [dk, heads, this.keyDim], [heads, this.keyDim]);
    dense('value', [dv, heads, this.valueDim], [heads, this.valueDim]);
    dense('attention_output', [heads, this.valueDim, ...out], out);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as Shape[];
    const [query, value = query] = shapes;
    const rank = query.length;
    const dq = query[rank - 1];
    if (dq == null) throw new Error(`MultiHeadAttention "${this.name}": the query's last dimension must be known`);
    const output = [...query.slice(0, -1), ...this.outputDims(dq)];
    if (!this.callDefaults?.returnAttentionScores) return output;
    const axes = this.attentionAxes(rank);
    const others = Array.from({ length: rank - 2 }, (_, i) => i + 1).filter((a) => !axes.includes(a));
    const scores = [query[0], ...others.map((a) => query[a]), this.numHeads, ...axes.map((a) => query[a]), ...axes.map((a) => value[a])];
    return [output, scores];
  }

  /**
   * Symbolic calls (building a model, or loading one) record their boolean / constant-mask kwargs
   * as the layer's call defaults, and move tensor kwargs (`value`, `key`, `attentionMask`) into
   * the positional inputs, where tfjs-layers can track them.
   */
  override apply(
    inputs: tf.Tensor | tf.Tensor[] | SymbolicTensor | SymbolicTensor[],
    kwargs?: Kwargs,
  ): tf.Tensor | tf.Tensor[] | SymbolicTensor | SymbolicTensor[] {
    const list = (Array.isArray(inputs) ? inputs : [inputs]) as (tf.Tensor | SymbolicTensor)[];
    if (!list.every((x) => x instanceof SymbolicTensor)) return super.apply(inputs, kwargs);
    const args: Kwargs = { ...(kwargs ?? {}) };
    const take = (camel: string, snake: string): SymbolicTensor | undefined => {
      const v = args[camel] ?? args[snake];
      if (!(v instanceof SymbolicTensor)) return undefined;
      delete args[camel];
      delete args[snake];
      return v;
    };
    const value = take('value', 'value');
    const key = take('key', 'key');
    const mask = take('attentionMask', 'attention_mask');
    for (const [k, v] of Object.entries(args)) {
      const isRef = Array.isArray(v) && v.length === 3 && typeof v[0] === 'string';
      if (v != null && (k === 'value' || k === 'key' || (isRef && (k === 'attentionMask' || k === 'attention_mask')))) {
        throw new Error(
          `MultiHeadAttention "${this.name}": its ${k} kwarg is ${JSON.stringify(v)}, not a tensor; a Keras topology that passes ` +
          'tensors as call kwargs must be rewritten with normalizeKerasTopology before it is deserialised',
        );
      }
    }
    let syms = list as SymbolicTensor[];
    if (value || key || mask) {
      if (syms.length !== 1) throw new Error(`MultiHeadAttention "${this.name}": give value/key/attention_mask either as inputs or as kwargs, not both`);
      const q = syms[0];
      const v = value ?? q;
      syms = mask ? [q, v, key ?? v, mask] : key ? [q, v, key] : [q, v];
    }
    if (syms.length > 4) throw new Error(`MultiHeadAttention "${this.name}": expected at most 4 inputs (query, value, key, attention mask), got ${syms.length}`);
    const constantMask = args.attentionMask ?? args.attention_mask;
    const defaults: CallDefaults = {
      useCausalMask: flag(args, 'useCausalMask', 'use_causal_mask'),
      returnAttentionScores: flag(args, 'returnAttentionScores', 'return_attention_scores'),
      attentionMask: constantMask == null || isTensorLike(constantMask) ? undefined : deepCopy(constantMask as ConfigValue),
    };
    if (this.callDefaults && JSON.stringify(this.callDefaults) !== JSON.stringify(defaults)) {
      throw new Error(
        `MultiHeadAttention "${this.name}" is called more than once with different use_causal_mask / return_attention_scores / ` +
        'constant attention_mask arguments; tfjs-layers runs every call of a layer with the same arguments, so this is not supported',
      );
    }
    this.callDefaults = defaults;
    return super.apply(syms.length === 1 ? syms[0] : syms, args);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => {
      const kw = kwargs ?? {};
      const list = Array.isArray(inputs) ? inputs : [inputs];
      if (list.length < 1 || list.length > 4) throw new Error(`MultiHeadAttention "${this.name}": expected 1 to 4 inputs (query, value, key, attention mask), got ${list.length}`);
      const kwTensor = (camel: string, snake: string): tf.Tensor | undefined => {
        const v = kw[camel] ?? kw[snake];
        return v instanceof tf.Tensor ? v : undefined;
      };
      const query = list[0];
      const value = list[1] ?? kwTensor('value', 'value') ?? query;
      const key = list[2] ?? kwTensor('key', 'key') ?? value;
      let mask = list[3] ?? kwTensor('attentionMask', 'attention_mask');
      const constant = this.callDefaults?.attentionMask;
      if (mask === undefined && constant != null) mask = tf.tensor(constant as number[]);
      const causal = flag(kw, 'useCausalMask', 'use_causal_mask') ?? this.callDefaults?.useCausalMask ?? false;
      const withScores = flag(kw, 'returnAttentionScores', 'return_attention_scores') ?? this.callDefaults?.returnAttentionScores ?? false;
      const [output, scores] = this.attend(query, value, key, mask, causal);
      return withScores ? [output, scores] : output;
    });
  }

  /**
   * The layer's output and its attention scores ([batch, heads, q_len, k_len] for 3-D inputs),
   * whatever the layer's return_attention_scores setting. Builds the layer on first use. The
   * tensors are the caller's to dispose (call it inside the caller's tidy).
   */
  callWithScores(query: tf.Tensor, value?: tf.Tensor, key?: tf.Tensor, mask?: tf.Tensor): [tf.Tensor, tf.Tensor] {
    const inputs = key ? [query, value ?? query, key] : value ? [query, value] : [query];
    const kwargs: Kwargs = { returnAttentionScores: true };
    if (mask) kwargs.attentionMask = mask;
    const out = this.apply(inputs.length === 1 ? inputs[0] : inputs, kwargs) as tf.Tensor[];
    return [out[0], out[1]];
  }

  /** Attention of `query` over `key` / `value`: the output and the scores in Keras' layout. */
  private attend(query: tf.Tensor, value: tf.Tensor, key: tf.Tensor, mask: tf.Tensor | undefined, causal: boolean): [tf.Tensor, tf.Tensor] {
    const { query: wq, key: wk, value: wv, output: wo } = this.kernels;
    if (!wq || !wk || !wv || !wo) throw new Error(`MultiHeadAttention "${this.name}" is not built`);
    const rank = query.rank;
    const axes = this.attentionAxes(rank);
    if (value.rank !== rank || key.rank !== rank) {
      throw new Error(`MultiHeadAttention "${this.name}": query, value and key must have the same rank, got [${query.shape}], [${value.shape}], [${key.shape}]`);
    }
    // Batch-like axes (the batch axis and the axes not attended over) first, attended axes next.
    const others = Array.from({ length: rank - 2 }, (_, i) => i + 1).filter((a) => !axes.includes(a));
    const perm = [0, ...others, ...axes, rank - 1];
    const identity = perm.every((p, i) => p === i);
    const lead = [0, ...others].map((a) => query.shape[a]);
    const tDims = axes.map((a) => query.shape[a]);
    const sDims = axes.map((a) => value.shape[a]);
    const sameLead = (x: tf.Tensor) => [0, ...others].every((a, i) => x.shape[a] === lead[i]);
    if (!sameLead(value) || !sameLead(key) || !axes.every((a) => key.shape[a] === value.shape[a])) {
      throw new Error(
        `MultiHeadAttention "${this.name}": value and key must match the query's batch axes and each other's attended axes, ` +
        `got query [${query.shape}], value [${value.shape}], key [${key.shape}]`,
      );
    }
    const batch = prod(lead), t = prod(tDims), s = prod(sDims);
    const heads = this.numHeads;
    const project = (x: tf.Tensor, len: number, kernel: LayerVariable, bias: LayerVariable | undefined, size: number) => {
      const inDim = x.shape[rank - 1];
      const rows = tf.reshape(identity ? x : tf.transpose(x, perm), [batch * len, inDim]);
      let y = tf.matMul(rows, tf.reshape(kernel.read(), [inDim, heads * size]));
      if (bias) y = tf.add(y, tf.reshape(bias.read(), [heads * size]));
      return tf.transpose(tf.reshape(y, [batch, len, heads, size]), [0, 2, 1, 3]);
    };
    const q = project(query, t, wq, this.biases.query, this.keyDim); // [batch, heads, t, keyDim]
    const k = project(key, s, wk, this.biases.key, this.keyDim); // [batch, heads, s, keyDim]
    const v = project(value, s, wv, this.biases.value, this.valueDim); // [batch, heads, s, valueDim]
    let logits = tf.matMul(tf.mul(q, 1 / Math.sqrt(this.keyDim)), k, false, true); // [batch, heads, t, s]
    const scoresShape = [...lead, heads, ...tDims, ...sDims];
    const m = this.combinedMask(mask, causal, scoresShape, axes.length, [batch, heads, t, s]);
    if (m) logits = tf.add(logits, tf.mul(tf.sub(1, m), -1e9));
    const softmax = tf.softmax(logits);
    const probs = this.probabilitiesHook ? this.probabilitiesHook(softmax) : softmax;
    const context = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [batch * t, heads * this.valueDim]);
    const outDims = this.outputDims(query.shape[rank - 1]);
    let out = tf.matMul(context, tf.reshape(wo.read(), [heads * this.valueDim, prod(outDims)]));
    if (this.biases.output) out = tf.add(out, tf.reshape(this.biases.output.read(), [prod(outDims)]));
    out = tf.reshape(out, [...lead, ...tDims, ...outDims]);
    if (!identity) {
      const back = [...Array.from({ length: rank - 1 }, (_, a) => perm.indexOf(a)), ...outDims.map((_, j) => rank - 1 + j)];
      out = tf.transpose(out, back);
    }
    return [out, tf.reshape(probs, scoresShape)];
  }

  /** The attention mask (1 = attend) in the flat [batch, heads, t, s] layout, or undefined for none. */
  private combinedMask(mask: tf.Tensor | undefined, causal: boolean, scoresShape: number[], nAxes: number, flat: number[]): tf.Tensor | undefined {
    let m: tf.Tensor | undefined;
    if (mask) {
      // As Keras: expand from the heads axis until the mask has the scores' rank, then broadcast.
      let e = tf.cast(mask, 'float32');
      while (e.rank < scoresShape.length) e = tf.expandDims(e, -2 * nAxes - 1);
      try {
        if (e.rank !== scoresShape.length) throw new Error('rank too large');
        e = tf.add(e, tf.zeros(scoresShape));
      } catch {
        throw new Error(`MultiHeadAttention "${this.name}": an attention mask of shape [${mask.shape}] does not broadcast to the attention scores [${scoresShape}]`);
      }
      m = tf.reshape(e, flat);
    }
    if (causal) {
      if (nAxes !== 1) throw new Error(`MultiHeadAttention "${this.name}": use_causal_mask needs attention over a single axis`);
      const [, , t, s] = flat;
      const tri = new Float32Array(t * s);
      for (let i = 0; i < t; i++) for (let j = 0; j <= Math.min(i, s - 1); j++) tri[i * s + j] = 1;
      const c = tf.tensor4d(tri, [1, 1, t, s]);
      m = m ? tf.mul(tf.cast(tf.notEqual(m, 0), 'float32'), c) : c;
    }
    return m;
  }

  override getConfig(): serialization.ConfigDict {
    const config: serialization.ConfigDict = {
      numHeads: this.numHeads,
      keyDim: this.keyDim,
      valueDim: this.valueDim,
      dropout: this.dropout,
      useBias: this.useBias,
      outputShape: deepCopy(this.outputShapeArg),
      attentionAxes: deepCopy(this.attentionAxesArg),
      kernelInitializer: deepCopy(this.kernelInit.config),
      biasInitializer: deepCopy(this.biasInit.config),
      ...deepCopy(this.trainingOnly),
      queryShape: deepCopy(this.queryShape),
      keyShape: deepCopy(this.keyShape),
      valueShape: deepCopy(this.valueShape),
    };
    // tfjs-layers' base config has a dtype only for layers given an input shape; Keras always writes one.
    return { ...super.getConfig(), dtype: this.dtypeArg, ...config };
  }
}

serialization.registerClass(MultiHeadAttention);

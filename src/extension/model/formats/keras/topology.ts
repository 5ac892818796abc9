/**
 * Turns a Keras model config (Keras 3's `config.json` / the `model_config` attribute of an `.h5`
 * file, or tf.keras 2's) into the layers-model topology tfjs-layers deserialises:
 *
 * - Keras 3 `{module, class_name, config, registered_name, build_config}` entries become
 *   `{class_name, config, name, inbound_nodes}`; dtype policies become their dtype name; an
 *   InputLayer's `batch_shape` becomes `batch_input_shape`; Sequential models lose their
 *   InputLayer entry to their first layer's `batch_input_shape`.
 * - Keras 3 inbound nodes `{args: [keras tensors or lists of them, constants], kwargs}` become
 *   tfjs' `[[layer, node, tensor, kwargs], …]`: lists of tensors (Add, Concatenate) are spread,
 *   MultiHeadAttention's value / key / attention_mask tensors (positional or kwargs) become its
 *   positional inputs `[query, value, key?, mask?]`, `keras.ops` calls on one tensor and a number
 *   become `KerasScalarOp` layers.
 * - Initializers, regularizers and constraints keep their class (Keras 3's `LecunNormal` →
 *   tfjs' `LeCunNormal`, `L2` → `L1L2`, …) so sanity checks re-initialise with the configured
 *   initializer; activations tfjs lacks map to the ones `layers/keras3-layers.ts` registers.
 * - `GlobalAveragePooling2D(keepdims=True)` becomes `GlobalAveragePooling2DKeepDims`.
 *
 * Every layer class that neither tfjs-layers nor this project registers is counted, so the caller
 * can fail once, naming them all.
 */
import { serialization } from '@tensorflow/tfjs-core';
import { UserError } from '../../../../shared/errors';
import { safeLine } from '../../../util/excerpt';
import { normalizeKerasTopology } from '../../layers/keras-topology';
import '../../layers/multi-head-attention';
import '../../layers/vit-layers';
import '../../layers/keras3-layers';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Obj = { [key: string]: Json };

export const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

export interface ConvertedTopology {
  /** The model topology (snake_case, as in a model.json) for tfjs-layers. */
  topology: Obj;
  /** Unsupported layer classes (or activations) with how many layers use each. */
  unknown: Map<string, number>;
  warnings: string[];
}

interface Ctx {
  kerasMajor: number;
  /**
   * Names of the nested models in the model being converted. tfjs-layers (like tf.keras 2) gives
   * a model used as a layer an inbound node of its own (index 0) before the calls to it, Keras 3
   * does not: Keras 3 references to their outputs are shifted by one.
   */
  nestedModels: Set<string>;
  unknown: Map<string, number>;
  warnings: Set<string>;
}

const MODEL_CLASSES = new Set(['Functional', 'Model', 'Sequential']);

/** Keras class names that tfjs registers under another spelling. */
const INITIALIZER_ALIASES: Record<string, string> = {
  LecunNormal: 'LeCunNormal',
  LecunUniform: 'LeCunUniform',
  IdentityInitializer: 'Identity',
  OrthogonalInitializer: 'Orthogonal',
  lecun_normal: 'LeCunNormal',
  lecun_uniform: 'LeCunUniform',
};

const registry = () => serialization.SerializationMap.getMap().classNameMap;
const camel = (s: string) => s.replace(/[_-]+(\w)/g, (_m, c: string) => c.toUpperCase());

function countUnknown(ctx: Ctx, what: string): void {
  ctx.unknown.set(what, (ctx.unknown.get(what) ?? 0) + 1);
}

/** A Keras activation name as a class tfjs has registered; undefined when there is none. */
function activationName(spec: Json, ctx: Ctx): string | undefined {
  let name: Json = spec;
  if (isObj(spec)) name = typeof spec.config === 'string' ? spec.config : typeof spec.class_name === 'string' ? spec.class_name : null;
  if (name == null) return 'linear';
  if (typeof name !== 'string') return undefined;
  const mapped =
    name === 'silu' ? 'swish'
      : name === 'hard_sigmoid' && ctx.kerasMajor >= 3 ? 'keras3_hard_sigmoid'
        : name === 'softmax_v2' ? 'softmax'
          : name;
  return registry()[camel(mapped)] ? mapped : undefined;
}

function initializer(spec: Json, ctx: Ctx): Json {
  if (spec == null) return null;
  if (typeof spec === 'string') {
    const alias = INITIALIZER_ALIASES[spec];
    if (alias) return { class_name: alias, config: {} };
    const name = camel(spec);
    const cls = name[0].toUpperCase() + name.slice(1);
    return registry()[cls] ? { class_name: cls, config: {} } : null;
  }
  if (!isObj(spec) || typeof spec.class_name !== 'string') return null;
  const cls = INITIALIZER_ALIASES[spec.class_name] ?? spec.class_name;
  if (!registry()[cls]) {
    ctx.warnings.add(`the initializer ${spec.class_name} is not available here; sanity checks re-initialise those weights from their trained statistics`);
    return null;
  }
  const config: Obj = isObj(spec.config) ? { ...spec.config } : {};
  delete config.input_axes;
  delete config.output_axes;
  if (cls === 'VarianceScaling' && typeof config.distribution === 'string') {
    // tfjs' VarianceScaling draws a truncated normal for "normal" and treats anything else as uniform.
    config.distribution = config.distribution === 'uniform' ? 'uniform' : 'normal';
  }
  return { class_name: cls, config };
}

function regularizer(spec: Json): Json {
  if (!isObj(spec) || typeof spec.class_name !== 'string') return null;
  const c = isObj(spec.config) ? spec.config : {};
  const num = (v: Json) => (typeof v === 'number' ? v : 0);
  switch (spec.class_name) {
    case 'L1':
      return { class_name: 'L1L2', config: { l1: num(c.l1), l2: 0 } };
    case 'L2':
      return { class_name: 'L1L2', config: { l1: 0, l2: num(c.l2) } };
    case 'L1L2':
      return { class_name: 'L1L2', config: { l1: num(c.l1), l2: num(c.l2) } };
    default:
      return null; // regularizers only act in training
  }
}

function constraint(spec: Json): Json {
  if (!isObj(spec) || typeof spec.class_name !== 'string') return null;
  return ['MaxNorm', 'NonNeg', 'UnitNorm', 'MinMaxNorm'].includes(spec.class_name) ? { class_name: spec.class_name, config: isObj(spec.config) ? { ...spec.config } : {} } : null;
}

function dtypeName(spec: Json, ctx: Ctx): string {
  let name: Json = spec;
  if (isObj(spec)) name = isObj(spec.config) ? spec.config.name : null;
  if (typeof name !== 'string' || name === 'float32') return 'float32';
  if (/^(mixed_)?(b?float16)$/.test(name) || name === 'float64') {
    ctx.warnings.add(`layers computed in ${name} in Keras are computed in float32 here`);
    return 'float32';
  }
  return name;
}

/** A Keras 3 `__keras_tensor__` reference as `[layer, node, tensor]`. */
function tensorRef(x: Json, ctx: Ctx): [string, number, number] | undefined {
  if (!isObj(x) || x.class_name !== '__keras_tensor__' || !isObj(x.config)) return undefined;
  const h = x.config.keras_history;
  if (!Array.isArray(h) || typeof h[0] !== 'string') return undefined;
  return [h[0], Number(h[1] ?? 0) + (ctx.nestedModels.has(h[0]) ? 1 : 0), Number(h[2] ?? 0)];
}

interface ParsedNode {
  /** Tensor arguments in call order (lists spread). */
  tensors: [string, number, number][];
  /** Number arguments with their position among the positional arguments. */
  constants: { index: number; value: number }[];
  tensorKwargs: Record<string, [string, number, number]>;
  kwargs: Obj;
  hasOtherArgs: boolean;
}

function parseKeras3Node(node: Obj, ctx: Ctx): ParsedNode {
  const out: ParsedNode = { tensors: [], constants: [], tensorKwargs: {}, kwargs: {}, hasOtherArgs: false };
  const args = Array.isArray(node.args) ? node.args : [];
  args.forEach((a, index) => {
    const ref = tensorRef(a, ctx);
    if (ref) out.tensors.push(ref);
    else if (Array.isArray(a) && a.length > 0 && a.every((t) => tensorRef(t, ctx))) a.forEach((t) => out.tensors.push(tensorRef(t, ctx)!));
    else if (typeof a === 'number') out.constants.push({ index, value: a });
    else if (a != null) out.hasOtherArgs = true;
  });
  for (const [k, v] of Object.entries(isObj(node.kwargs) ? node.kwargs : {})) {
    const ref = tensorRef(v, ctx);
    if (ref) out.tensorKwargs[k] = ref;
    else if (v != null && k !== 'training' && k !== 'mask') out.kwargs[k] = v;
  }
  return out;
}

const isKeras3Node = (n: Json): n is Obj => isObj(n) && ('args' in n || 'kwargs' in n);

function nodeEntries(refs: [string, number, number][], kwargs: Obj): Json {
  return refs.map((r) => [r[0], r[1], r[2], { ...kwargs }]);
}

const OPS: Record<string, string> = { Add: 'add', Subtract: 'subtract', Multiply: 'multiply', Divide: 'divide', TrueDivide: 'divide' };
const MERGE_OF_OP: Record<string, string> = { Add: 'Add', Subtract: 'Subtract', Multiply: 'Multiply' };

/** A `keras.ops` node: a scalar op layer, a merge layer, or undefined when unsupported. */
function convertOp(entry: Obj, ctx: Ctx): Obj | undefined {
  const cls = String(entry.class_name);
  const name = String(entry.name ?? (isObj(entry.config) ? entry.config.name : cls));
  const nodes = Array.isArray(entry.inbound_nodes) ? entry.inbound_nodes : [];
  if (nodes.length !== 1 || !isKeras3Node(nodes[0])) return undefined;
  const p = parseKeras3Node(nodes[0], ctx);
  if (p.hasOtherArgs || Object.keys(p.tensorKwargs).length) return undefined;
  if (p.tensors.length === 1 && p.constants.length === 1 && OPS[cls]) {
    return {
      class_name: 'KerasScalarOp',
      config: { name, trainable: false, dtype: 'float32', op: OPS[cls], constant: p.constants[0].value, constant_first: p.constants[0].index === 0 },
      name,
      inbound_nodes: [nodeEntries(p.tensors, {})],
    };
  }
  if (p.tensors.length === 2 && p.constants.length === 0 && MERGE_OF_OP[cls]) {
    return { class_name: MERGE_OF_OP[cls], config: { name, trainable: true, dtype: 'float32' }, name, inbound_nodes: [nodeEntries(p.tensors, {})] };
  }
  return undefined;
}

/**
 * Whether a Keras 3 entry of class Add / Multiply / … is a `keras.ops` call rather than the merge
 * layer: `.h5` files drop the module, but a merge layer takes one list argument, an op two.
 */
function isOpEntry(entry: Obj, module: string): boolean {
  if (module.startsWith('keras.src.ops') || module.startsWith('keras.ops')) return true;
  if (module !== '' || !OPS[String(entry.class_name)]) return false;
  const nodes = Array.isArray(entry.inbound_nodes) ? entry.inbound_nodes : [];
  if (nodes.length === 0 || !isKeras3Node(nodes[0])) return false;
  const args = Array.isArray(nodes[0].args) ? nodes[0].args : [];
  return !(args.length === 1 && Array.isArray(args[0]));
}

function convertNodes(className: string, nodes: Json, ctx: Ctx): Json {
  if (!Array.isArray(nodes)) return [];
  return nodes.map((n) => {
    if (!isKeras3Node(n)) return n; // tf.keras 2 form: already what tfjs reads
    const p = parseKeras3Node(n, ctx);
    if (className === 'MultiHeadAttention') {
      const [q, v0, k0] = p.tensors;
      const value = p.tensorKwargs.value ?? v0 ?? q;
      const key = p.tensorKwargs.key ?? k0;
      const mask = p.tensorKwargs.attention_mask;
      const inputs = mask ? [q, value, key ?? value, mask] : key ? [q, value, key] : [q, value];
      const kwargs: Obj = {};
      for (const k of ['use_causal_mask', 'return_attention_scores']) if (p.kwargs[k] != null) kwargs[k] = p.kwargs[k];
      return nodeEntries(inputs, kwargs);
    }
    return nodeEntries([...p.tensors, ...Object.values(p.tensorKwargs)], p.kwargs);
  });
}

const DROP_KEYS = new Set(['registered_name', 'module', 'build_config', 'compile_config', 'shared_object_id']);

/** One layer's config, keys and values mapped for tfjs. */
function convertConfig(className: string, config: Obj, ctx: Ctx): { className: string; config: Obj } | undefined {
  const out: Obj = {};
  for (const [k, v] of Object.entries(config)) {
    if (DROP_KEYS.has(k)) continue;
    if (k === 'dtype') out.dtype = dtypeName(v, ctx);
    else if (k.endsWith('_initializer')) out[k] = initializer(v, ctx);
    else if (k.endsWith('_regularizer')) out[k] = regularizer(v);
    else if (k.endsWith('_constraint')) out[k] = constraint(v);
    else if (k === 'activation' || k === 'recurrent_activation') {
      const act = activationName(v, ctx);
      if (act === undefined) {
        countUnknown(ctx, `${className}(activation=${typeof v === 'string' ? v : JSON.stringify(v)})`);
        return undefined;
      }
      out[k] = act;
    } else out[k] = v;
  }
  let cls = className;
  switch (className) {
    case 'InputLayer':
      if (out.batch_shape !== undefined) out.batch_input_shape = out.batch_shape;
      delete out.batch_shape;
      delete out.optional;
      delete out.ragged;
      if (out.sparse === false) delete out.sparse;
      break;
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      if (out.keepdims === true) cls = `${className}KeepDims`;
      delete out.keepdims;
      break;
    case 'GlobalAveragePooling1D':
    case 'GlobalMaxPooling1D':
      if (out.keepdims === true) {
        countUnknown(ctx, `${className}(keepdims=True)`);
        return undefined;
      }
      delete out.keepdims;
      break;
    case 'ReLU': {
      const slope = Number(out.negative_slope ?? 0);
      const threshold = Number(out.threshold ?? 0);
      delete out.negative_slope;
      delete out.threshold;
      if (threshold !== 0 || (slope !== 0 && out.max_value != null)) {
        countUnknown(ctx, 'ReLU(threshold / negative_slope with max_value)');
        return undefined;
      }
      if (slope !== 0) {
        cls = 'LeakyReLU';
        out.alpha = slope;
        delete out.max_value;
      }
      break;
    }
    case 'LeakyReLU':
      if (out.negative_slope !== undefined) out.alpha = out.negative_slope;
      delete out.negative_slope;
      break;
    case 'Dropout':
    case 'SpatialDropout1D':
    case 'SpatialDropout2D':
      delete out.noise_shape;
      delete out.seed;
      break;
    case 'Conv2D':
    case 'Conv1D':
    case 'Conv2DTranspose':
      if (out.groups != null && out.groups !== 1) {
        countUnknown(ctx, `${className}(groups=${JSON.stringify(out.groups)})`);
        return undefined;
      }
      delete out.groups;
      break;
    case 'MultiHeadAttention':
      if (out.use_gate === true || out.sliding_window != null) {
        countUnknown(ctx, 'MultiHeadAttention(use_gate / sliding_window)');
        return undefined;
      }
      delete out.use_gate;
      delete out.sliding_window;
      delete out.seed;
      delete out.flash_attention;
      break;
    case 'Dense':
    case 'EinsumDense':
      delete out.lora_rank;
      delete out.lora_alpha;
      delete out.quantization_config;
      if (out.gptq_unpacked_column_size != null) delete out.gptq_unpacked_column_size;
      break;
    case 'GRU':
      if (out.reset_after === true) {
        countUnknown(ctx, 'GRU(reset_after=True)');
        return undefined;
      }
      break;
    case 'LayerNormalization':
      if (out.rms_scaling === true) {
        countUnknown(ctx, 'LayerNormalization(rms_scaling=True)');
        return undefined;
      }
      delete out.rms_scaling;
      break;
    case 'BatchNormalization':
      if (out.renorm === true) ctx.warnings.add('batch renormalisation only acts in training; inference uses the moving statistics');
      for (const k of ['renorm', 'renorm_clipping', 'renorm_momentum', 'synchronized']) delete out[k];
      break;
    default:
      break;
  }
  return { className: cls, config: out };
}

/** A name from the config, quoted for a one-line message. */
const q = (name: Json | undefined) => `"${safeLine(typeof name === 'string' ? name : JSON.stringify(name) ?? String(name), 80)}"`;

/** A config value as it reads in a one-line message. */
const shown = (v: Json) => safeLine(JSON.stringify(v)?.replace(/,/g, ', ') ?? String(v), 60);

/** The largest size of one dimension (a tensor has at most 2^31 − 1 values). */
const MAX_DIM = 2 ** 31 - 1;

const isInt = (v: Json | undefined): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const positive = (v: Json | undefined) => isInt(v) && v >= 1 && v <= MAX_DIM;
const nonNegative = (v: Json | undefined) => isInt(v) && v >= 0 && v <= MAX_DIM;
const finite = (v: Json | undefined) => typeof v === 'number' && Number.isFinite(v);
/** A number, or a non-empty list of them, each passing `ok`. */
const oneOrList = (ok: (v: Json) => boolean) => (v: Json) => ok(v) || (Array.isArray(v) && v.length > 0 && v.length <= 8 && v.every(ok));
/** ZeroPadding2D / Cropping2D: a number, a list, or a list of pairs. */
const nestedList = (ok: (v: Json) => boolean) => (v: Json) => oneOrList(ok)(v) || (Array.isArray(v) && v.length > 0 && v.length <= 8 && v.every(oneOrList(ok)));
/** A batch shape: a list of sizes (null: any). */
const batchShape = (v: Json) => Array.isArray(v) && v.length >= 1 && v.length <= 8 && v.every((d) => d === null || positive(d));

interface Setting {
  key: string;
  /** The setting in words ("the kernel size"). */
  what: string;
  ok: (v: Json) => boolean;
  /** What it must be, in words. */
  rule: string;
  /** The layer classes it applies to (all when absent). */
  classes?: RegExp;
  /** A layer of these classes cannot be made without it. */
  required?: RegExp;
  /** null stands for the default. */
  nullable?: boolean;
}

const WHOLE = 'whole numbers from 1 up';
const SETTINGS: Setting[] = [
  { key: 'filters', what: 'the number of filters', ok: positive, rule: 'a whole number from 1 up', required: /^(Conv[123]D|Conv[23]DTranspose|SeparableConv[12]D)$/ },
  { key: 'kernel_size', what: 'the kernel size', ok: oneOrList(positive), rule: WHOLE, required: /^(Conv[123]D|Conv[23]DTranspose|SeparableConv[12]D|DepthwiseConv[12]D)$/ },
  { key: 'strides', what: 'the strides', ok: oneOrList(positive), rule: WHOLE, nullable: true },
  { key: 'dilation_rate', what: 'the dilation rate', ok: oneOrList(positive), rule: WHOLE },
  { key: 'pool_size', what: 'the pool size', ok: oneOrList(positive), rule: WHOLE },
  { key: 'depth_multiplier', what: 'the depth multiplier', ok: positive, rule: 'a whole number from 1 up' },
  { key: 'units', what: 'the number of units', ok: positive, rule: 'a whole number from 1 up', required: /^(Dense|LSTM|GRU|SimpleRNN)$/ },
  { key: 'num_heads', what: 'the number of heads', ok: positive, rule: 'a whole number from 1 up', required: /^MultiHeadAttention$/ },
  { key: 'key_dim', what: 'the key size', ok: positive, rule: 'a whole number from 1 up', required: /^MultiHeadAttention$/ },
  { key: 'value_dim', what: 'the value size', ok: positive, rule: 'a whole number from 1 up', nullable: true },
  { key: 'size', what: 'the upsampling size', ok: oneOrList(positive), rule: WHOLE, classes: /^UpSampling[123]D$/ },
  { key: 'padding', what: 'the padding', ok: nestedList(nonNegative), rule: 'whole numbers from 0 up', classes: /^ZeroPadding[123]D$/ },
  { key: 'cropping', what: 'the cropping', ok: nestedList(nonNegative), rule: 'whole numbers from 0 up', classes: /^Cropping[123]D$/ },
  { key: 'padding', what: 'the padding', ok: (v) => v === 'valid' || v === 'same' || v === 'causal', rule: '"valid", "same" or "causal"', classes: /^(?!ZeroPadding)/ },
  { key: 'data_format', what: 'the data format', ok: (v) => v === 'channels_last' || v === 'channels_first', rule: '"channels_last" or "channels_first"', nullable: true },
  { key: 'rate', what: 'the dropout rate', ok: (v) => finite(v) && (v as number) >= 0 && (v as number) <= 1, rule: 'a number from 0 to 1', classes: /Dropout/ },
  { key: 'epsilon', what: 'the epsilon', ok: (v) => finite(v) && (v as number) >= 0, rule: 'a number from 0 up' },
  { key: 'momentum', what: 'the momentum', ok: finite, rule: 'a number' },
  { key: 'axis', what: 'the axis', ok: oneOrList((v) => isInt(v) && Math.abs(v) <= 8), rule: 'whole numbers between -8 and 8', nullable: true },
  { key: 'scale', what: 'the scale', ok: oneOrList(finite), rule: 'a number', classes: /^Rescaling$/ },
  { key: 'offset', what: 'the offset', ok: oneOrList(finite), rule: 'a number', classes: /^Rescaling$/ },
  { key: 'alpha', what: 'the alpha', ok: finite, rule: 'a number', classes: /^(LeakyReLU|ELU)$/ },
  { key: 'negative_slope', what: 'the negative slope', ok: finite, rule: 'a number', classes: /^(LeakyReLU|ReLU)$/ },
  { key: 'max_value', what: 'the maximum value', ok: (v) => finite(v) && (v as number) >= 0, rule: 'a number from 0 up', classes: /^ReLU$/, nullable: true },
  { key: 'target_shape', what: 'the target shape', ok: (v) => Array.isArray(v) && v.length >= 1 && v.length <= 8 && v.every((d) => positive(d) || d === -1), rule: 'a list of whole numbers from 1 up (or -1)', classes: /^Reshape$/, required: /^Reshape$/ },
  { key: 'dims', what: 'the axis order', ok: (v) => Array.isArray(v) && v.length >= 1 && v.length <= 8 && v.every((d) => positive(d) && (d as number) <= 8), rule: 'a list of axes from 1 up', classes: /^Permute$/, required: /^Permute$/ },
  { key: 'batch_shape', what: 'the input shape', ok: batchShape, rule: 'a list of sizes from 1 up (or null)', nullable: true },
  { key: 'batch_input_shape', what: 'the input shape', ok: batchShape, rule: 'a list of sizes from 1 up (or null)', nullable: true },
];

/**
 * The settings of a layer that decide the shapes of its weights and outputs: numbers tfjs-layers
 * takes as they are (a stride of 0 gives outputs of infinite size, a kernel size of -3 a weight
 * no tensor can have) are refused here, naming the layer and the setting.
 */
function checkSettings(className: string, name: Json | undefined, config: Obj): void {
  const layer = `the layer ${q(name)} (${safeLine(className, 60)})`;
  for (const s of SETTINGS) {
    if (s.classes && !s.classes.test(className)) continue;
    const v = config[s.key];
    if (v === undefined || v === null) {
      if (s.required?.test(className)) throw new Error(`${layer} has no ${s.key} (${s.what.replace(/^the /, '')})`);
      if (v === undefined || s.nullable) continue;
    }
    if (!s.ok(v)) throw new Error(`${layer} has ${s.what} ${shown(v)}; it must be ${s.rule}`);
  }
}

function convertLayer(entry: Json, ctx: Ctx): Json {
  if (!isObj(entry) || typeof entry.class_name !== 'string') {
    countUnknown(ctx, 'malformed layer entry');
    return entry;
  }
  const cls = entry.class_name;
  const config = isObj(entry.config) ? entry.config : {};
  const name = typeof entry.name === 'string' ? entry.name : typeof config.name === 'string' ? config.name : cls;
  const module = typeof entry.module === 'string' ? entry.module : '';
  if (isOpEntry(entry, module)) {
    const op = convertOp(entry, ctx);
    if (!op) countUnknown(ctx, `keras.ops.${cls}`);
    return op ?? entry;
  }
  if (MODEL_CLASSES.has(cls)) {
    return { class_name: cls === 'Model' ? 'Functional' : cls, config: convertModelConfig(cls, config, ctx), name, inbound_nodes: convertNodes(cls, entry.inbound_nodes ?? [], ctx) };
  }
  checkSettings(cls, name, config);
  const converted = convertConfig(cls, config, ctx);
  if (!converted) return entry;
  if (!registry()[converted.className]) {
    countUnknown(ctx, cls);
    return entry;
  }
  return { class_name: converted.className, config: { ...converted.config, name }, name, inbound_nodes: convertNodes(cls, entry.inbound_nodes ?? [], ctx) };
}

/** Keras 3 writes a single input / output as one `[layer, node, tensor]` triple. */
function refList(x: Json, ctx: Ctx): Json {
  const list = Array.isArray(x) && x.length > 0 && typeof x[0] === 'string' ? [x] : Array.isArray(x) ? x : [];
  if (ctx.kerasMajor < 3) return list;
  return list.map((r) => (Array.isArray(r) && typeof r[0] === 'string' && ctx.nestedModels.has(r[0]) ? [r[0], Number(r[1] ?? 0) + 1, ...r.slice(2)] : r));
}

function convertModelConfig(cls: string, config: Obj, parent: Ctx): Obj {
  const layerEntries = Array.isArray(config.layers) ? config.layers : [];
  const nested = layerEntries.filter((l): l is Obj => isObj(l) && MODEL_CLASSES.has(String(l.class_name)));
  const ctx: Ctx = {
    ...parent,
    nestedModels: new Set(parent.kerasMajor >= 3 ? nested.map((l) => String(l.name ?? (isObj(l.config) ? l.config.name : ''))) : []),
  };
  if (cls === 'Sequential') {
    let batchInputShape: Json = Array.isArray(config.build_input_shape) ? config.build_input_shape : null;
    let inputDtype: Json = null;
    const kept: Json[] = [];
    for (const l of layerEntries) {
      if (isObj(l) && l.class_name === 'InputLayer' && isObj(l.config)) {
        checkSettings('InputLayer', l.name ?? l.config.name, l.config);
        batchInputShape = (l.config.batch_shape ?? l.config.batch_input_shape ?? batchInputShape) as Json;
        inputDtype = typeof l.config.dtype === 'string' ? l.config.dtype : null;
        continue;
      }
      kept.push(convertLayer(l, ctx));
    }
    const first = kept[0];
    if (isObj(first) && isObj(first.config) && batchInputShape != null && first.config.batch_input_shape == null) {
      first.config.batch_input_shape = batchInputShape;
      if (inputDtype) first.config.dtype = inputDtype;
    }
    return { name: config.name ?? 'sequential', layers: kept };
  }
  return {
    name: config.name ?? 'model',
    layers: layerEntries.map((l) => convertLayer(l, ctx)),
    input_layers: refList(config.input_layers ?? null, ctx),
    output_layers: refList(config.output_layers ?? null, ctx),
  };
}

/**
 * The tfjs layers-model topology of a Keras model config (the object with `class_name` and
 * `config`), for Keras 3 (`kerasVersion` "3.x") and tf.keras 2 configs alike.
 */
export function kerasConfigToTopology(modelConfig: Json, kerasVersion: string | undefined): ConvertedTopology {
  const kerasMajor = Number.parseInt(String(kerasVersion ?? '3'), 10) || 3;
  const ctx: Ctx = { kerasMajor, nestedModels: new Set(), unknown: new Map(), warnings: new Set() };
  if (!isObj(modelConfig) || typeof modelConfig.class_name !== 'string' || !isObj(modelConfig.config)) {
    throw new Error('the model config has no class_name / config');
  }
  const cls = modelConfig.class_name;
  if (!MODEL_CLASSES.has(cls)) {
    countUnknown(ctx, `${cls} (a subclassed model: only Functional and Sequential models can be rebuilt without their Python code)`);
    return { topology: {}, unknown: ctx.unknown, warnings: [...ctx.warnings] };
  }
  const converted = {
    class_name: cls === 'Model' ? 'Functional' : cls,
    config: convertModelConfig(cls, modelConfig.config, ctx),
    keras_version: `tfjs-layers (from Keras ${kerasVersion ?? 'unknown'})`,
    backend: 'tensor_flow.js',
  };
  return { topology: normalizeKerasTopology(converted) as Obj, unknown: ctx.unknown, warnings: [...ctx.warnings] };
}

const isIndex = (v: Json | undefined): v is number => isInt(v) && v >= 0;

/** How many outputs a layer's calls give (Infinity: not known from its config). */
function outputCount(l: Obj): number {
  const cls = String(l.class_name);
  const config = isObj(l.config) ? l.config : {};
  if (MODEL_CLASSES.has(cls)) {
    if (cls === 'Sequential') return 1;
    const outs = config.output_layers;
    return Array.isArray(outs) && outs.length > 0 && typeof outs[0] !== 'string' ? outs.length : 1;
  }
  if (config.return_state === true) return Infinity;
  if (cls === 'MultiHeadAttention') {
    // The attention scores are a second output when the call asks for them.
    const nodes = Array.isArray(l.inbound_nodes) ? l.inbound_nodes : [];
    const scores = nodes.some((n) => Array.isArray(n) && n.some((e) => Array.isArray(e) && isObj(e[3]) && e[3].return_attention_scores === true));
    return scores ? 2 : 1;
  }
  return 1;
}

/** A model's input or output references as a list (Keras 3 writes a single one as one triple). */
function refsOf(x: Json | undefined): Json[] {
  if (Array.isArray(x) && x.length > 0 && typeof x[0] === 'string') return [x];
  return Array.isArray(x) ? x : [];
}

/**
 * Checks what tfjs-layers looks up by index without checking, for every functional model of a
 * converted topology (nested ones too), after checkLayersWiring found every inbound node callable:
 * the model's inputs (InputLayers of the model) and outputs (a call and an output each layer has),
 * the output of each call a layer takes, and that the outputs are computed from the inputs alone.
 * tfjs-layers meets these with "Cannot read properties of undefined" or an error of no words.
 */
export function checkModelReferences(topology: Json, where: string, depth = 0): void {
  if (!isObj(topology) || depth > 20) return;
  const config = topology.config;
  const model = depth === 0 ? 'the model' : `the nested model ${q(topology.name ?? (isObj(config) ? config.name : null))}`;
  const bad = (what: string) => new UserError(`${where} is malformed: ${what}`);
  const layers = isObj(config) && Array.isArray(config.layers) ? config.layers : Array.isArray(config) ? config : [];
  if (layers.length === 0) throw bad(`${model} has no layers`);
  for (const l of layers) if (isObj(l) && MODEL_CLASSES.has(String(l.class_name))) checkModelReferences(l, where, depth + 1);
  if (topology.class_name === 'Sequential' || !isObj(config)) return;
  const byName = new Map<string, Obj>();
  for (const l of layers) if (isObj(l) && typeof l.name === 'string' && !byName.has(l.name)) byName.set(l.name, l);
  const calls = (l: Obj) => (l.class_name === 'InputLayer' || MODEL_CLASSES.has(String(l.class_name)) ? 1 : 0) + (Array.isArray(l.inbound_nodes) ? l.inbound_nodes.filter((n) => Array.isArray(n) && n.length > 0).length : 0);
  const outputs = (l: Obj, t: number, what: () => string) => {
    const n = outputCount(l);
    if (t >= n) throw bad(`${what()} output ${t} of the layer ${q(l.name)}, which has ${n === 1 ? 'one output' : `${n} outputs`}`);
  };
  for (const l of layers) {
    if (!isObj(l) || !Array.isArray(l.inbound_nodes)) continue;
    for (const node of l.inbound_nodes) {
      if (!Array.isArray(node)) continue;
      for (const ref of node) {
        if (!Array.isArray(ref) || typeof ref[0] !== 'string') continue;
        const from = byName.get(ref[0]);
        if (from && isIndex(ref[2])) outputs(from, ref[2], () => `the layer ${q(l.name)} takes`);
      }
    }
  }
  const check = (key: 'input_layers' | 'output_layers', what: 'inputs' | 'outputs'): string[] => {
    const list = refsOf(config[key]);
    if (list.length === 0) throw bad(`${model} lists no ${what}`);
    return list.map((r) => {
      if (!Array.isArray(r) || typeof r[0] !== 'string' || !isIndex(r[1]) || !isIndex(r[2])) throw bad(`the ${what} of ${model} are not [layer, node, tensor] references: ${shown(r)}`);
      const l = byName.get(r[0]);
      if (!l) throw bad(`the ${what} of ${model} name the layer ${q(r[0])}, which is not in it`);
      if (what === 'inputs' && l.class_name !== 'InputLayer') throw bad(`the inputs of ${model} name the layer ${q(r[0])}, a ${safeLine(String(l.class_name), 60)} and not an InputLayer`);
      const n = calls(l);
      if (r[1] >= n) throw bad(`the ${what} of ${model} name call ${r[1]} of the layer ${q(r[0])}, which is called ${n === 1 ? 'once' : `${n} times`}`);
      outputs(l, r[2], () => `the ${what} of ${model} name`);
      return r[0];
    });
  };
  const inputs = new Set(check('input_layers', 'inputs'));
  // The layers the outputs are computed from: every InputLayer among them must be an input.
  const seen = new Set<string>();
  const todo = check('output_layers', 'outputs');
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const l = byName.get(name);
    if (!l) continue;
    if (l.class_name === 'InputLayer' && !inputs.has(name)) throw bad(`the outputs of ${model} are computed from the InputLayer ${q(name)}, which is not among its inputs`);
    for (const node of Array.isArray(l.inbound_nodes) ? l.inbound_nodes : []) {
      for (const ref of Array.isArray(node) ? node : []) if (Array.isArray(ref) && typeof ref[0] === 'string') todo.push(ref[0]);
    }
  }
}

/** `model.keras uses layers XAI Lens does not support: Foo ×2, Bar ×1` */
export function unknownLayersMessage(file: string, unknown: Map<string, number>): string {
  // The class names come from the file: each on one line, and the list of a bounded length.
  const list = [...unknown.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k, n]) => `${k.trim() === '' ? '(a layer with no class name)' : safeLine(k, 120)} ×${n}`);
  const shownList = list.length > 20 ? [...list.slice(0, 20), `and ${list.length - 20} more`] : list;
  return `${file} uses layers XAI Lens does not support: ${shownList.join(', ')}`;
}

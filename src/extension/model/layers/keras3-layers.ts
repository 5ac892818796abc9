/**
 * Keras 3 layers and activations that tfjs-layers does not ship, under Keras' class names, config
 * keys and weight names, so Keras 3 models (`.keras` archives and `.h5` files) load:
 *
 * - `EinsumDense`: `y = einsum(equation, x, kernel) + bias`, weights `kernel` then `bias`
 *   (Keras 3's order), with `...` in the equation and `bias_axes` as in Keras.
 * - `Normalization`: `(x − mean) / max(√variance, 1e-7)` (or its inverse), the adapted statistics
 *   as the weights `mean`, `variance`, `count` (Keras 3's order), or constants from the config.
 * - `GlobalAveragePooling2DKeepDims` / `GlobalMaxPooling2DKeepDims`: Keras' global pooling with
 *   `keepdims=True` ([b, h, w, c] → [b, 1, 1, c]); tfjs' own pooling layers have no keepdims, and
 *   the Keras format loader rewrites those layers to these class names.
 * - Activations tfjs lacks or defines differently: `hardSilu` / `hardSwish` (x · relu6(x + 3) / 6),
 *   `keras3HardSigmoid` (relu6(x + 3) / 6: Keras 3's hard_sigmoid; tfjs' hardSigmoid is Keras 2's
 *   clip(0.2x + 0.5)), `leakyRelu` (slope 0.2, Keras 3's default) and `exponential`.
 *
 * Importing this module registers everything with tfjs' serialization registry.
 */
import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { initializers, layers, type LayerVariable } from '@tensorflow/tfjs-layers';
import { deepCopy, resolveInitializer, trainingOnlyConfigs, type Initializer, type KernelBiasArgs } from './layer-config';

type LayerArgs = NonNullable<ConstructorParameters<typeof layers.Layer>[0]>;
type Shape = (number | null)[];
type ConfigValue = serialization.ConfigDictValue;


/** The one input shape of a single-input layer (tfjs passes it bare or in a one-element list). */
function singleShape(inputShape: Shape | Shape[]): Shape {
  return (Array.isArray(inputShape[0]) ? (inputShape as Shape[])[0] : inputShape) as Shape;
}

function singleTensor(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

/** Keras writes a dtype in every layer's config; tfjs-layers' base config has one only for input layers. */
function withDtype(layer: layers.Layer, config: serialization.ConfigDict): serialization.ConfigDict {
  return { ...config, dtype: layer.dtype ?? 'float32' };
}

// ---------------------------------------------------------------------------------------------
// Activations

abstract class KerasActivation extends serialization.Serializable {
  abstract apply(x: tf.Tensor): tf.Tensor;
  getConfig(): serialization.ConfigDict {
    return {};
  }
}

/** x · relu6(x + 3) / 6 (Keras' hard_silu, alias hard_swish). */
export class HardSilu extends KerasActivation {
  static className = 'hardSilu';
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6)));
  }
}

export class HardSwish extends HardSilu {
  static override className = 'hardSwish';
}

/** relu6(x + 3) / 6: Keras 3's hard_sigmoid. */
export class Keras3HardSigmoid extends KerasActivation {
  static className = 'keras3HardSigmoid';
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.div(tf.relu6(tf.add(x, 3)), 6));
  }
}

/** Keras 3's leaky_relu activation (negative slope 0.2). */
export class KerasLeakyRelu extends KerasActivation {
  static className = 'leakyRelu';
  apply(x: tf.Tensor): tf.Tensor {
    return tf.leakyRelu(x, 0.2);
  }
}

export class Exponential extends KerasActivation {
  static className = 'exponential';
  apply(x: tf.Tensor): tf.Tensor {
    return tf.exp(x);
  }
}

function activationFrom(spec: unknown): KerasActivation {
  const name = typeof spec === 'string' ? spec : spec == null ? 'linear' : (spec as { className?: string }).className ?? 'linear';
  const entry = serialization.SerializationMap.getMap().classNameMap[name];
  if (!entry) throw new Error(`unknown activation ${name}`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, {}) as unknown as KerasActivation;
}

// ---------------------------------------------------------------------------------------------
// EinsumDense

export interface EinsumDenseArgs extends LayerArgs, KernelBiasArgs {
  equation: string;
  outputShape: number | (number | null)[];
  activation?: string | null;
  biasAxes?: string | null;
}

interface EinsumPlan {
  input: string;
  weight: string;
  output: string;
  kernelShape: number[];
  biasShape: number[] | null;
  outputShape: Shape;
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Keras' `_analyze_einsum_string`, with `...` expanded into letters of their own. */
function planEinsum(equation: string, biasAxes: string | null, inputShape: Shape, outputShapeArg: number | (number | null)[]): EinsumPlan {
  const eq = equation.replace(/\s+/g, '');
  const m = /^([a-zA-Z.]+),([a-zA-Z]+)->([a-zA-Z.]+)$/.exec(eq);
  if (!m) throw new Error(`EinsumDense: unsupported equation ${equation}`);
  const wSpec = m[2];
  let [inSpec, outSpec] = [m[1], m[3]];
  const leftElided = inSpec.startsWith('...');
  const rightElided = !leftElided && inSpec.endsWith('...');
  const bare = inSpec.replace('...', '');
  const elided = inputShape.length - bare.length;
  if (inSpec.includes('...') !== outSpec.includes('...')) throw new Error(`EinsumDense: unsupported equation ${equation}`);
  const extra = LETTERS.slice(0, Math.max(0, elided));
  if (inSpec.includes('...')) {
    inSpec = inSpec.replace('...', extra);
    outSpec = outSpec.replace('...', extra);
  }
  if (inSpec.length !== inputShape.length) throw new Error(`EinsumDense: equation ${equation} does not fit an input of rank ${inputShape.length}`);
  const given = Array.isArray(outputShapeArg) ? [...outputShapeArg] : [outputShapeArg];
  // Keras' output_shape excludes the batch axis and the elided axes.
  const full: Shape = [];
  let gi = 0;
  for (const ch of outSpec) {
    const inAt = inSpec.indexOf(ch);
    if (ch === outSpec[0] && inAt === 0) full.push(inputShape[0]);
    else if (extra.includes(ch)) full.push(inputShape[inAt]);
    else full.push(given[gi++] ?? (inAt >= 0 ? inputShape[inAt] : null));
  }
  const dimOf = (ch: string): number => {
    const o = outSpec.indexOf(ch);
    if (o >= 0 && full[o] != null) return full[o] as number;
    const i = inSpec.indexOf(ch);
    if (i >= 0 && inputShape[i] != null) return inputShape[i] as number;
    throw new Error(`EinsumDense: the size of axis ${ch} of ${equation} is unknown`);
  };
  const kernelShape = [...wSpec].map(dimOf);
  let biasShape: number[] | null = null;
  if (biasAxes) {
    const first = Math.min(...[...biasAxes].map((c) => {
      const at = outSpec.indexOf(c);
      if (at < 0) throw new Error(`EinsumDense: bias axis ${c} is not in the output of ${equation}`);
      return at;
    }));
    biasShape = [...outSpec.slice(first)].map((c) => (biasAxes.includes(c) ? dimOf(c) : 1));
    if (rightElided) biasShape.push(...Array<number>(elided).fill(1));
  }
  return { input: inSpec, weight: wSpec, output: outSpec, kernelShape, biasShape, outputShape: full };
}

/** einsum(x, w) for one input and one weight, as transposes, reshapes and one matMul (all differentiable). */
function einsum2(plan: EinsumPlan, x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  const { input: I, weight: W, output: O } = plan;
  // Axes only in the input and not in the output are summed out first.
  let xi = x;
  let iSpec = I;
  const sumAxes = [...I].map((c, i) => (!W.includes(c) && !O.includes(c) ? i : -1)).filter((i) => i >= 0);
  if (sumAxes.length) {
    xi = tf.sum(xi, sumAxes);
    iSpec = [...I].filter((_, i) => !sumAxes.includes(i)).join('');
  }
  const contracted = [...iSpec].filter((c) => W.includes(c) && !O.includes(c));
  const freeIn = [...iSpec].filter((c) => O.includes(c) && !W.includes(c));
  const freeW = [...W].filter((c) => O.includes(c) && !iSpec.includes(c));
  if ([...iSpec].some((c) => W.includes(c) && O.includes(c))) throw new Error('EinsumDense: axes shared by input, kernel and output are not supported');
  if ([...W].some((c) => !iSpec.includes(c) && !O.includes(c))) throw new Error('EinsumDense: kernel axes must appear in the input or the output');
  const size = (t: tf.Tensor, spec: string, cs: string[]) => cs.map((c) => t.shape[spec.indexOf(c)]);
  const prod = (a: number[]) => a.reduce((p, q) => p * q, 1);
  const xPerm = [...freeIn, ...contracted].map((c) => iSpec.indexOf(c));
  const wPerm = [...contracted, ...freeW].map((c) => W.indexOf(c));
  const fiDims = size(xi, iSpec, freeIn);
  const cDims = size(xi, iSpec, contracted);
  const fwDims = size(w, W, freeW);
  const x2 = tf.reshape(tf.transpose(xi, xPerm), [prod(fiDims), prod(cDims)]);
  const w2 = tf.reshape(tf.transpose(w, wPerm), [prod(cDims), prod(fwDims)]);
  const y = tf.reshape(tf.matMul(x2, w2), [...fiDims, ...fwDims]);
  const have = [...freeIn, ...freeW];
  const perm = [...O].map((c) => have.indexOf(c));
  return perm.every((p, i) => p === i) ? y : tf.transpose(y, perm);
}

export class EinsumDense extends layers.Layer {
  static className = 'EinsumDense';
  readonly equation: string;
  readonly biasAxes: string | null;
  private readonly outputShapeArg: number | (number | null)[];
  private readonly activationFn: KerasActivation;
  private readonly activationName: string;
  private readonly kernelInit: { init: Initializer; config: serialization.ConfigDict };
  private readonly biasInit: { init: Initializer; config: serialization.ConfigDict };
  private readonly training: Record<string, ConfigValue>;
  private plan?: EinsumPlan;
  private kernel?: LayerVariable;
  private bias?: LayerVariable;

  constructor(args: EinsumDenseArgs) {
    super(args);
    if (typeof args.equation !== 'string') throw new Error('EinsumDense: equation is required');
    this.equation = args.equation;
    this.biasAxes = args.biasAxes ?? null;
    this.outputShapeArg = deepCopy(args.outputShape);
    this.activationName = typeof args.activation === 'string' ? args.activation : 'linear';
    this.activationFn = activationFrom(this.activationName);
    this.kernelInit = resolveInitializer(args.kernelInitializer, 'glorotUniform', 'EinsumDense');
    this.biasInit = resolveInitializer(args.biasInitializer, 'zeros', 'EinsumDense');
    this.training = trainingOnlyConfigs(args);
  }

  override build(inputShape: Shape | Shape[]): void {
    this.plan = planEinsum(this.equation, this.biasAxes, singleShape(inputShape), this.outputShapeArg);
    this.kernel = this.addWeight('kernel', this.plan.kernelShape, 'float32', this.kernelInit.init, undefined, true);
    if (this.plan.biasShape) this.bias = this.addWeight('bias', this.plan.biasShape, 'float32', this.biasInit.init, undefined, true);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return [...planEinsum(this.equation, this.biasAxes, singleShape(inputShape), this.outputShapeArg).outputShape];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs);
      if (!this.kernel) throw new Error(`EinsumDense "${this.name}" is not built`);
      const plan = planEinsum(this.equation, this.biasAxes, x.shape, this.outputShapeArg);
      let y = einsum2(plan, x, this.kernel.read());
      if (this.bias) y = tf.add(y, this.bias.read());
      return this.activationFn.apply(y);
    });
  }

  override getConfig(): serialization.ConfigDict {
    return withDtype(this, {
      ...super.getConfig(),
      equation: this.equation,
      outputShape: deepCopy(this.outputShapeArg) as ConfigValue,
      activation: this.activationName,
      biasAxes: this.biasAxes,
      kernelInitializer: deepCopy(this.kernelInit.config),
      biasInitializer: deepCopy(this.biasInit.config),
      ...deepCopy(this.training),
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Normalization

export interface NormalizationArgs extends LayerArgs {
  axis?: number | number[] | null;
  invert?: boolean;
  mean?: number | number[] | null;
  variance?: number | number[] | null;
}

const EPSILON = 1e-7;

export class Normalization extends layers.Layer {
  static className = 'Normalization';
  private readonly axisArg: number[];
  readonly invert: boolean;
  private readonly meanArg: number | number[] | null;
  private readonly varianceArg: number | number[] | null;
  private broadcast: number[] = [];
  private meanVar?: LayerVariable;
  private varianceVar?: LayerVariable;

  constructor(args: NormalizationArgs = {}) {
    super(args);
    const axis = args.axis ?? -1;
    this.axisArg = axis === null ? [] : Array.isArray(axis) ? [...axis] : [axis];
    this.invert = args.invert ?? false;
    this.meanArg = deepCopy(args.mean ?? null);
    this.varianceArg = deepCopy(args.variance ?? null);
    if ((this.meanArg === null) !== (this.varianceArg === null)) throw new Error('Normalization: give both mean and variance, or neither');
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape);
    const rank = shape.length;
    const keep = this.axisArg.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
    keep.forEach((d) => {
      if (d < 0 || d >= rank || shape[d] == null) throw new Error(`Normalization "${this.name}": axis ${d} of input [${shape}] must exist and be known`);
    });
    this.broadcast = shape.map((s, d) => (keep.includes(d) ? (s as number) : 1));
    if (this.meanArg === null) {
      const statShape = keep.map((d) => shape[d] as number);
      this.meanVar = this.addWeight('mean', statShape, 'float32', initializers.zeros(), undefined, false);
      this.varianceVar = this.addWeight('variance', statShape, 'float32', initializers.ones(), undefined, false);
      this.addWeight('count', [], 'float32', initializers.zeros(), undefined, false);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return [...singleShape(inputShape)];
  }

  /** A constant mean / variance from the config, aligned to the kept axes from the right as Keras does. */
  private constant(v: number | number[]): tf.Tensor {
    const t = tf.tensor(v as number[]);
    if (t.rank === 0) return t;
    const shape = [...Array(Math.max(0, this.broadcast.length - t.rank)).fill(1), ...t.shape];
    return tf.reshape(t, shape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs);
      const mean = this.meanVar ? tf.reshape(this.meanVar.read(), this.broadcast) : this.constant(this.meanArg as number | number[]);
      const variance = this.varianceVar ? tf.reshape(this.varianceVar.read(), this.broadcast) : this.constant(this.varianceArg as number | number[]);
      const std = tf.maximum(tf.sqrt(variance), EPSILON);
      return this.invert ? tf.add(mean, tf.mul(x, std)) : tf.div(tf.sub(x, mean), std);
    });
  }

  override getConfig(): serialization.ConfigDict {
    return withDtype(this, {
      ...super.getConfig(),
      axis: [...this.axisArg],
      invert: this.invert,
      mean: deepCopy(this.meanArg),
      variance: deepCopy(this.varianceArg),
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Global pooling with keepdims

class GlobalPooling2DKeepDims extends layers.Layer {
  constructor(args: LayerArgs & { dataFormat?: string }, private readonly kind: 'avg' | 'max') {
    super(args);
    if (args.dataFormat === 'channelsFirst') throw new Error('global pooling with keepdims: channels-first data is not supported');
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = singleShape(inputShape);
    return [s[0], 1, 1, s[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = singleTensor(inputs);
    return this.kind === 'avg' ? tf.mean(x, [1, 2], true) : tf.max(x, [1, 2], true);
  }

  override getConfig(): serialization.ConfigDict {
    return withDtype(this, { ...super.getConfig(), dataFormat: 'channelsLast', keepdims: true });
  }
}

export class GlobalAveragePooling2DKeepDims extends GlobalPooling2DKeepDims {
  static className = 'GlobalAveragePooling2DKeepDims';
  constructor(args: LayerArgs = {}) {
    super(args, 'avg');
  }
}

export class GlobalMaxPooling2DKeepDims extends GlobalPooling2DKeepDims {
  static className = 'GlobalMaxPooling2DKeepDims';
  constructor(args: LayerArgs = {}) {
    super(args, 'max');
  }
}

serialization.registerClass(HardSilu);
serialization.registerClass(HardSwish);
serialization.registerClass(Keras3HardSigmoid);
serialization.registerClass(KerasLeakyRelu);
serialization.registerClass(Exponential);
serialization.registerClass(EinsumDense);
serialization.registerClass(Normalization);
serialization.registerClass(GlobalAveragePooling2DKeepDims);
serialization.registerClass(GlobalMaxPooling2DKeepDims);

// ---------------------------------------------------------------------------------------------
// Keras 3 ops on one tensor and a constant (`x + 3.0`, `x * (1 / 6)` in functional models)

export interface ScalarOpArgs extends LayerArgs {
  /** `add`, `subtract`, `multiply` or `divide`. */
  op: string;
  /** The constant operand. */
  constant: number;
  /** Whether the constant is the left operand (`3 - x`). */
  constantFirst?: boolean;
}

const SCALAR_OPS = ['add', 'subtract', 'multiply', 'divide'] as const;

/**
 * A Keras 3 `keras.ops` call recorded in a functional model with one tensor and one number
 * (`keras.src.ops.numpy.Add` of `x + 3.0` and the like): the Keras format loader rewrites those
 * nodes to this layer. No weights.
 */
export class KerasScalarOp extends layers.Layer {
  static className = 'KerasScalarOp';
  readonly op: (typeof SCALAR_OPS)[number];
  readonly constant: number;
  readonly constantFirst: boolean;

  constructor(args: ScalarOpArgs) {
    super(args);
    const op = SCALAR_OPS.find((o) => o === args.op);
    if (!op) throw new Error(`KerasScalarOp: unsupported op ${args.op}`);
    if (typeof args.constant !== 'number') throw new Error('KerasScalarOp: constant must be a number');
    this.op = op;
    this.constant = args.constant;
    this.constantFirst = args.constantFirst ?? false;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return [...singleShape(inputShape)];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = singleTensor(inputs);
    const c = tf.scalar(this.constant, x.dtype);
    const [a, b] = this.constantFirst ? [c, x] : [x, c];
    switch (this.op) {
      case 'add':
        return tf.add(a, b);
      case 'subtract':
        return tf.sub(a, b);
      case 'multiply':
        return tf.mul(a, b);
      default:
        return tf.div(a, b);
    }
  }

  override getConfig(): serialization.ConfigDict {
    return withDtype(this, { ...super.getConfig(), op: this.op, constant: this.constant, constantFirst: this.constantFirst });
  }
}

serialization.registerClass(KerasScalarOp);

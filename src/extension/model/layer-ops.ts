/**
 * Functional forms of Keras layers for explanation: weights are read as constants at call time
 * (so weight gradients are never computed and re-initialised weights are picked up), batch norm
 * is an affine map (so a missing gamma or beta cannot crash its gradient), and ReLU-like
 * activations, fused or not, go through one hook so methods can change their backward rule.
 * Layers without a functional form here run through tfjs-layers' own `apply`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { layers as tfl } from '@tensorflow/tfjs-layers';
import type { ReluBackward } from './types';
import { dilateFilter } from './dilate-filter';

type Layer = tfl.Layer;

export interface OpContext {
  /** Replaces the backward rule of ReLU/ReLU6. */
  reluBackward?: ReluBackward;
  /** When true, the op returns its pre-activation (the head's activation is stripped). */
  stripActivation?: boolean;
}

export type LayerOp = (inputs: tf.Tensor[], ctx: OpContext) => tf.Tensor[];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Config = Record<string, any>;

/** Activations whose backward rule is hookable and can be fused into conv / matmul kernels. */
export type FusableActivation = 'linear' | 'relu' | 'relu6';

function activationName(layer: Layer): string {
  const cfg = layer.getConfig() as Config;
  return typeof cfg.activation === 'string' ? cfg.activation : 'linear';
}

/**
 * dy where the unit is active (0 < y, and y < 6 for ReLU6), else 0. Written with step() on float
 * tensors: on wasm, comparisons producing bool tensors were measured ~4× slower.
 */
function trueReluGrad(kind: 'relu' | 'relu6', dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const active = kind === 'relu' ? tf.step(y) : tf.step(tf.mul(y, tf.sub(6, y)));
  return tf.mul(dy, active);
}

function activationBackward(kind: FusableActivation, dy: tf.Tensor, y: tf.Tensor, ctx: OpContext): tf.Tensor {
  if (kind === 'linear') return dy;
  const grad = trueReluGrad(kind, dy, y);
  return ctx.reluBackward ? ctx.reluBackward(dy, grad) : grad;
}

/** y = act(f(x)) computed by a fused kernel, with a backward pass that only computes dx. */
function fusedWithInputGrad(
  x: tf.Tensor,
  kind: FusableActivation,
  forward: (x: tf.Tensor, act: FusableActivation) => tf.Tensor,
  backwardLinear: (dz: tf.Tensor, xShape: number[], constants: tf.Tensor[]) => tf.Tensor,
  ctx: OpContext,
  /**
   * Tensors the backward pass reads that outlive the call (a cached folded kernel, a layer's
   * weight). They are handed over as they are: saving them would record a copy on every call
   * (and on wasm, XNNPACK would re-pack the copied filter each time).
   */
  constants: tf.Tensor[] = [],
): tf.Tensor {
  const shape = x.shape;
  const op = tf.customGrad(((xi: tf.Tensor, save: tf.GradSaveFunc) => {
    const y = forward(xi, kind);
    // Only the activation's mask needs the output; the input gradient needs the input's shape.
    save(kind === 'linear' ? [] : [y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => backwardLinear(kind === 'linear' ? dy : activationBackward(kind, dy, saved[0], ctx), shape, constants),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x);
}

/**
 * Runs a fused kernel directly. tf.fused.* fall back to separate conv, bias and activation kernels
 * whenever a gradient is being recorded (their own fused gradient cannot be trusted for every
 * activation); under fusedWithInputGrad the backward pass is ours, so the fused kernel is safe.
 */
function fusedKernel(name: string, inputs: Record<string, tf.Tensor | undefined>, attrs: Record<string, unknown>): tf.Tensor {
  const present = Object.fromEntries(Object.entries(inputs).filter(([, v]) => v !== undefined)) as tf.NamedTensorMap;
  return tf.engine().runKernel(name, present, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** ReLU / ReLU6 as standalone ops, through the same hook. */
export function reluLike(x: tf.Tensor, kind: 'relu' | 'relu6', ctx: OpContext): tf.Tensor {
  return fusedWithInputGrad(x, kind, (xi) => (kind === 'relu' ? tf.relu(xi) : tf.relu6(xi)), (dz) => dz, ctx);
}

function applyActivation(x: tf.Tensor, name: string, layer: Layer, ctx: OpContext): tf.Tensor {
  if (name === 'linear') return x;
  if (name === 'relu' || name === 'relu6') return reluLike(x, name, ctx);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const act = (layer as any).activation;
  if (act && typeof act.apply === 'function') return act.apply(x) as tf.Tensor;
  throw new Error(`unsupported activation ${name} in layer ${layer.name}`);
}

function weight(layer: Layer, i: number): tf.Tensor {
  return layer.weights[i].read();
}

function pair(v: number | number[] | undefined, d: number): [number, number] {
  if (v === undefined || v === null) return [d, d];
  return Array.isArray(v) ? [v[0], v.length > 1 ? v[1] : v[0]] : [v, v];
}

/** Conv2D and DepthwiseConv2D share everything but the kernels they call. */
function convOp(layer: Layer): LayerOp | undefined {
  if (!convFusable(layer)) return undefined;
  const act = activationName(layer);
  const hookable = act === 'linear' || act === 'relu' || act === 'relu6';
  const chain = convChainOp(layer, undefined, hookable ? (act as FusableActivation) : 'linear');
  const linear = convChainOp(layer, undefined, 'linear');
  return (xs, ctx) => {
    if (ctx.stripActivation) return linear(xs, ctx);
    const [y] = chain(xs, ctx);
    return [hookable ? y : applyActivation(y, act, layer, ctx)];
  };
}

/** A dilated kernel's taps may span at most this many pixels (spreading it makes a kernel this wide). */
const MAX_DILATED_SPAN = 1024;

/**
 * A conv layer's dilation when it has a functional form here: channels-last, whole dilation rates
 * ≥ 1 whose spread kernel stays small, stride 1 when dilated (as Keras requires). tfjs has no
 * gradient for dilated convolutions, so a dilated kernel is spread (dilate-filter.ts) and run
 * with dilation 1: the same values, and a gradient.
 */
function fusableDilation(layer: Layer): [number, number] | undefined {
  const className = layer.getClassName();
  if (className !== 'Conv2D' && className !== 'DepthwiseConv2D') return undefined;
  const cfg = layer.getConfig() as Config;
  const dilations = pair(cfg.dilationRate, 1);
  const kernel = pair(cfg.kernelSize, 1);
  const strides = pair(cfg.strides, 1);
  if (cfg.dataFormat === 'channelsFirst' || !((cfg.depthMultiplier ?? 1) >= 1)) return undefined;
  if (!dilations.every((d) => Number.isInteger(d) && d >= 1)) return undefined;
  if (dilations.some((d) => d > 1) && strides.some((st) => st !== 1)) return undefined;
  if (kernel.some((k, i) => (k - 1) * dilations[i] + 1 > MAX_DILATED_SPAN)) return undefined;
  return dilations;
}

/** True when a conv layer has a functional form here (see fusableDilation). */
export function convFusable(layer: Layer): boolean {
  return fusableDilation(layer) !== undefined;
}

/**
 * Why TensorFlow.js computes no gradient through `layer` (a dilated convolution without a
 * functional form here), or undefined.
 */
export function noGradientThrough(layer: Layer): string | undefined {
  const cfg = layer.getConfig() as Config;
  if (!('dilationRate' in cfg) || convFusable(layer)) return undefined;
  const dilations = Array.isArray(cfg.dilationRate) ? cfg.dilationRate : [cfg.dilationRate];
  if (dilations.every((d) => d === undefined || d === null || d === 1)) return undefined;
  return `TensorFlow.js computes no gradient through the ${layer.getClassName()} layer ${layer.name} (dilation rate ${dilations.join('×')})`;
}

/**
 * conv → optional batch norm → activation as one fused kernel: the batch norm is folded into
 * the conv's kernel and bias (it is affine at inference), and the backward pass is the
 * activation's mask followed by the conv's input gradient.
 */
/** A fused op that keeps what it derives from the weights (a folded kernel) between calls. */
export type CachingLayerOp = LayerOp & {
  /** Derives it now, so that calls leave the tensor count as they found it. */
  prepare(): void;
  dispose(): void;
};

export function convChainOp(conv: Layer, bn: Layer | undefined, act: FusableActivation): CachingLayerOp {
  const cfg = conv.getConfig() as Config;
  const depthwise = conv.getClassName() === 'DepthwiseConv2D';
  const dilations = fusableDilation(conv) ?? [1, 1];
  const dilated = dilations[0] > 1 || dilations[1] > 1;
  const strides = pair(cfg.strides, 1);
  const pad = cfg.padding as 'same' | 'valid';
  // As tfjs-layers decides (`if (this.useBias)`): any falsy useBias leaves the layer without a bias.
  const hasBias = cfg.useBias == null || !!cfg.useBias;
  const fold = (): { kernel: tf.Tensor4D; bias: tf.Tensor1D | undefined } => {
    let kernel = weight(conv, 0) as tf.Tensor4D;
    let bias = hasBias ? (weight(conv, 1) as tf.Tensor1D) : undefined;
    if (bn) {
      const { mul, shift } = batchNormAffine(bn);
      const [, , c, m] = kernel.shape;
      kernel = tf.mul(kernel, depthwise ? tf.reshape(mul, [c, m]) : mul) as tf.Tensor4D;
      bias = (bias ? tf.add(tf.mul(bias, mul), shift) : shift) as tf.Tensor1D;
    }
    if (dilated) kernel = dilateFilter(kernel, dilations);
    return { kernel, bias };
  };
  // The folded (and, when dilated, spread) kernel and bias, made once per set of weight buffers (again when a weight is
  // re-assigned, e.g. by the randomizer): folding per call would copy the kernel every time and
  // make XNNPACK re-pack it, since it keys its packed operators on the filter's buffer.
  let folded: { ids: tf.DataId[]; kernel: tf.Tensor4D; bias: tf.Tensor1D | undefined } | undefined;
  const dropFolded = () => {
    if (folded) tf.dispose([folded.kernel, ...(folded.bias ? [folded.bias] : [])]);
    folded = undefined;
  };
  const weights = (): { kernel: tf.Tensor4D; bias: tf.Tensor1D | undefined } => {
    if (!bn && !dilated) return fold();
    const ids = [...conv.weights, ...(bn?.weights ?? [])].map((w) => w.read().dataId);
    if (folded && !folded.kernel.isDisposed && folded.ids.length === ids.length && folded.ids.every((id, i) => id === ids[i])) return folded;
    dropFolded();
    const made = tf.tidy(() => {
      const r = fold();
      return r.bias ? [r.kernel, r.bias] : [r.kernel];
    });
    tf.keep(made[0]);
    if (made[1]) tf.keep(made[1]);
    folded = { ids, kernel: made[0] as tf.Tensor4D, bias: made[1] as tf.Tensor1D | undefined };
    return folded;
  };
  const op: CachingLayerOp = ([x], ctx) => {
    const { kernel, bias } = weights();
    const k = kernel;
    return [fusedWithInputGrad(
      x,
      act,
      (xi, a) =>
        depthwise
          ? fusedKernel('FusedDepthwiseConv2D', { x: xi, filter: k, bias }, { strides, pad, dataFormat: 'NHWC', dilations: [1, 1], activation: a })
          : fusedKernel('FusedConv2D', { x: xi, filter: k, bias }, { strides, pad, dataFormat: 'NHWC', dilations: [1, 1], activation: a }),
      (dz, xShape, [kk]) =>
        depthwise
          ? tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: dz, filter: kk }, {
              strides, pad, dilations: [1, 1], inputShape: xShape,
            } as unknown as tf.NamedAttrMap) as tf.Tensor
          : tf.conv2dTranspose(dz as tf.Tensor4D, kk as tf.Tensor4D, xShape as [number, number, number, number], strides, pad),
      ctx,
      [k],
    )];
  };
  op.dispose = dropFolded;
  op.prepare = () => {
    if (bn || dilated) weights();
  };
  return op;
}

function denseOp(layer: Layer): LayerOp {
  const cfg = layer.getConfig() as Config;
  const act = activationName(layer);
  const hookable = act === 'linear' || act === 'relu';
  // As tfjs-layers decides (`if (this.useBias)`): any falsy useBias leaves the layer without a bias.
  const hasBias = cfg.useBias == null || !!cfg.useBias;
  return ([x], ctx) => {
    const kernel = weight(layer, 0) as tf.Tensor2D;
    const bias = hasBias ? weight(layer, 1) : undefined;
    if (x.rank !== 2) {
      // Dense on [batch, ..., features]: fold the leading axes.
      const lead = x.shape.slice(0, -1);
      const flat = tf.reshape(x, [-1, x.shape[x.rank - 1]]);
      const y = denseOp(layer)([flat], ctx)[0];
      return [tf.reshape(y, [...lead, y.shape[1]] as number[])];
    }
    const fusedAct: FusableActivation = ctx.stripActivation || !hookable ? 'linear' : (act as FusableActivation);
    const y = fusedWithInputGrad(
      x,
      fusedAct,
      // The kernel takes rank-3 (batched) operands, as tf.fused.matMul passes them.
      (xi, a) => tf.reshape(fusedKernel('_FusedMatMul', { a: tf.expandDims(xi, 0), b: tf.expandDims(kernel, 0), bias }, { transposeA: false, transposeB: false, activation: a }), [xi.shape[0], kernel.shape[1]]),
      (dz) => tf.matMul(dz as tf.Tensor2D, kernel, false, true),
      ctx,
    );
    if (ctx.stripActivation || hookable) return [y];
    return [applyActivation(y, act, layer, ctx)];
  };
}

/** Inference-mode batch norm as y = x·mul + shift; gamma and beta may be absent. */
function batchNormAffine(layer: Layer): { mul: tf.Tensor1D; shift: tf.Tensor1D } {
  const cfg = layer.getConfig() as Config;
  const eps = Number(cfg.epsilon ?? 1e-3);
  // Weight order in tfjs-layers: [gamma?, beta?, movingMean, movingVariance].
  let i = 0;
  const gamma = cfg.scale !== false ? weight(layer, i++) : undefined;
  const beta = cfg.center !== false ? weight(layer, i++) : undefined;
  const mean = weight(layer, i++);
  const variance = weight(layer, i++);
  let mul = tf.rsqrt(tf.add(variance, eps));
  if (gamma) mul = tf.mul(mul, gamma);
  let shift = tf.neg(tf.mul(mean, mul));
  if (beta) shift = tf.add(shift, beta);
  return { mul: mul as tf.Tensor1D, shift: shift as tf.Tensor1D };
}

/** True for a batch norm over the last axis, which a preceding conv can absorb. */
export function batchNormOnLastAxis(layer: Layer): boolean {
  if (layer.getClassName() !== 'BatchNormalization') return false;
  const axis = ((layer.getConfig() as Config).axis as number) ?? -1;
  return axis === -1 || axis === 3;
}

function batchNormOp(layer: Layer): LayerOp {
  const axis = ((layer.getConfig() as Config).axis as number) ?? -1;
  return ([x]) => {
    const { mul, shift } = batchNormAffine(layer);
    const ax = axis < 0 ? x.rank + axis : axis;
    if (ax !== x.rank - 1) {
      const shape = x.shape.map((d, k) => (k === ax ? d : 1));
      return [tf.add(tf.mul(x, tf.reshape(mul, shape)), tf.reshape(shift, shape))];
    }
    return [tf.add(tf.mul(x, mul), shift)];
  };
}

/** The ReLU kind a standalone activation layer applies, if it is one that fuses into a conv. */
export function standaloneRelu(layer: Layer): 'relu' | 'relu6' | undefined {
  const className = layer.getClassName();
  const cfg = layer.getConfig() as Config;
  if (className === 'ReLU') return cfg.maxValue == null ? 'relu' : cfg.maxValue === 6 ? 'relu6' : undefined;
  if (className === 'Activation') {
    const act = activationName(layer);
    return act === 'relu' || act === 'relu6' ? act : undefined;
  }
  return undefined;
}

function poolOp(layer: Layer, kind: 'max' | 'avg'): LayerOp | undefined {
  const cfg = layer.getConfig() as Config;
  if (cfg.dataFormat === 'channelsFirst') return undefined;
  const size = pair(cfg.poolSize, 2);
  const strides = pair(cfg.strides ?? cfg.poolSize, 2);
  const pad = cfg.padding as 'same' | 'valid';
  return ([x]) => [kind === 'max' ? tf.maxPool(x as tf.Tensor4D, size, strides, pad) : tf.avgPool(x as tf.Tensor4D, size, strides, pad)];
}

function globalPoolOp(layer: Layer, kind: 'max' | 'avg'): LayerOp | undefined {
  const cfg = layer.getConfig() as Config;
  if (cfg.dataFormat === 'channelsFirst') return undefined;
  const keepDims = cfg.keepdims === true;
  return ([x]) => {
    const axes = x.rank === 4 ? [1, 2] : [1];
    return [kind === 'max' ? tf.max(x, axes, keepDims) : tf.mean(x, axes, keepDims)];
  };
}

function mergeOp(className: string, layer: Layer): LayerOp | undefined {
  switch (className) {
    case 'Add':
      return (xs) => [xs.length === 2 ? tf.add(xs[0], xs[1]) : tf.addN(xs)];
    case 'Multiply':
      return (xs) => [xs.reduce((a, b) => tf.mul(a, b))];
    case 'Subtract':
      return ([a, b]) => [tf.sub(a, b)];
    case 'Average':
      return (xs) => [tf.div(tf.addN(xs), xs.length)];
    case 'Maximum':
      return (xs) => [xs.reduce((a, b) => tf.maximum(a, b))];
    case 'Minimum':
      return (xs) => [xs.reduce((a, b) => tf.minimum(a, b))];
    case 'Concatenate': {
      const axis = ((layer.getConfig() as Config).axis as number) ?? -1;
      return (xs) => [tf.concat(xs, axis)];
    }
    default:
      return undefined;
  }
}

const IDENTITY_AT_INFERENCE = new Set([
  'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization',
]);

/** The functional op of a layer, or undefined when tfjs-layers' own apply must be used. */
export function functionalOp(layer: Layer): LayerOp | undefined {
  const className = layer.getClassName();
  if (IDENTITY_AT_INFERENCE.has(className)) return (xs) => [xs[0]];
  const cfg = layer.getConfig() as Config;
  switch (className) {
    case 'Conv2D':
    case 'DepthwiseConv2D':
      return convOp(layer);
    case 'Dense':
      return denseOp(layer);
    case 'BatchNormalization':
      return batchNormOp(layer);
    case 'Activation': {
      const act = activationName(layer);
      return ([x], ctx) => [ctx.stripActivation ? x : applyActivation(x, act, layer, ctx)];
    }
    case 'ReLU': {
      const max = cfg.maxValue as number | null | undefined;
      if (max === 6) return ([x], ctx) => [reluLike(x, 'relu6', ctx)];
      if (max == null) return ([x], ctx) => [reluLike(x, 'relu', ctx)];
      return undefined;
    }
    case 'Softmax':
      return ([x], ctx) => [ctx.stripActivation ? x : tf.softmax(x, (cfg.axis as number) ?? -1)];
    case 'MaxPooling2D':
      return poolOp(layer, 'max');
    case 'AveragePooling2D':
      return poolOp(layer, 'avg');
    case 'GlobalAveragePooling2D':
    case 'GlobalAveragePooling1D':
      return globalPoolOp(layer, 'avg');
    case 'GlobalMaxPooling2D':
    case 'GlobalMaxPooling1D':
      return globalPoolOp(layer, 'max');
    case 'Flatten':
      return ([x]) => [tf.reshape(x, [x.shape[0], -1])];
    case 'Reshape':
      return ([x]) => [tf.reshape(x, [x.shape[0], ...(cfg.targetShape as number[])])];
    case 'ZeroPadding2D': {
      if (cfg.dataFormat === 'channelsFirst') return undefined;
      const p = cfg.padding as number | [number, number] | [[number, number], [number, number]];
      const [[t, b], [l, r]] =
        typeof p === 'number' ? [[p, p], [p, p]] : typeof p[0] === 'number' ? [[p[0], p[0]], [p[1] as number, p[1] as number]] : (p as [[number, number], [number, number]]);
      return ([x]) => [tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]])];
    }
    default:
      return mergeOp(className, layer);
  }
}

/** Which head activation a layer applies, when it is the model's output layer. */
export function layerHeadActivation(layer: Layer): 'softmax' | 'sigmoid' | 'linear' {
  const className = layer.getClassName();
  if (className === 'Softmax') return 'softmax';
  const act = activationName(layer);
  if (['Dense', 'Conv2D', 'Activation', 'DepthwiseConv2D'].includes(className) && (act === 'softmax' || act === 'sigmoid')) {
    return act;
  }
  return 'linear';
}

/** Types shared by the model loader, the model adapters and the explanation methods. */
import type * as tf from '@tensorflow/tfjs-core';
import type { AttentionModel } from '../attention/attention-model';

/** What an explanation explains: one scalar per input in the batch. */
export interface Target {
  /** Index into the model's output vector (a class, or any scalar output). */
  index: number;
  /**
   * `logit`: the score before the output layer's softmax/sigmoid (the raw output when there is
   * none); `probability`: the output after it.
   */
  space: 'logit' | 'probability';
}

/** The activation the model applies to its last layer's output. */
export type HeadActivation = 'softmax' | 'sigmoid' | 'linear';

export interface LayerInfo {
  /** Layer name (layers models) or node name (graph models). */
  name: string;
  /** Keras class name (layers models) or op name (graph models). */
  className: string;
  /** Output shape with the batch dimension as -1 or null. */
  outputShape: (number | null)[];
  /** True when the output is [batch, h, w, c] with h, w > 1: usable for CAM methods. */
  spatial: boolean;
}

/**
 * How the gradient flows back through a ReLU-like activation: given the incoming gradient `dy`
 * and the true gradient `grad` (= dy where the unit is active, 0 elsewhere), return the gradient
 * to pass on. Guided Backprop returns relu(grad); the default returns grad.
 */
export type ReluBackward = (dy: tf.Tensor, grad: tf.Tensor) => tf.Tensor;

export interface GradientOptions {
  /**
   * Replaces the backward rule of every ReLU/ReLU6 (including activations fused into
   * convolutions). Default: the true gradient. Guided Backprop passes its own rule.
   */
  reluBackward?: ReluBackward;
}

export interface ScoredGradient {
  /** d target / d (input or layer output), same shape as what was differentiated. */
  grad: tf.Tensor;
  /** The target value per batch element, [batch]. */
  scores: tf.Tensor1D;
}

export interface LayerGradient extends ScoredGradient {
  /** The layer's output for the input, [batch, ...]. */
  activation: tf.Tensor;
}

/**
 * A forward-only engine beside the tfjs graph (ONNX Runtime for ONNX models): the same outputs,
 * faster, without gradients. Inputs are NHWC float32 values, `batch` images of the adapter's
 * inputShape; the results are plain arrays (no tensors are made).
 */
export interface ForwardRunner {
  /** The engine for people, e.g. "onnxruntime 1.31.1 (cpu, 1 thread)". */
  readonly description: string;
  /** Why the engine differs from the one asked for (an execution provider that did not start); else undefined. */
  readonly note?: string;
  /** The target per image, [batch]: as ModelAdapter.score. */
  scores(x: Float32Array, batch: number, target: Target): Promise<Float32Array>;
  /** The output after the head activation, [batch, outputSize]: as ModelAdapter.probabilities. */
  probabilities(x: Float32Array, batch: number): Promise<Float32Array>;
  /** A layer's output for the batch, rank-4 outputs NHWC: as ModelAdapter.activations. */
  activations?(x: Float32Array, batch: number, layer: string): Promise<{ data: Float32Array; shape: number[] }>;
}

/** How ONNX models run their forward-only passes (LoadOptions.onnxRuntime). */
export interface OnnxRuntimeOptions {
  /** Use onnxruntime-node for forward passes (default true); false: tfjs runs everything. */
  enabled?: boolean;
  /** `cpu` (default), `cuda`, `dml` (DirectML, Windows) or `coreml` (macOS); cpu when it does not start. */
  executionProvider?: string;
  /** Intra-op threads of a session (default: max(1, floor(available cores / workers))). */
  threads?: number;
  /** How many workers share the machine's cores (the compute pool's size; default 1). */
  workers?: number;
}

/**
 * Everything an explanation method may ask of a model. Methods never touch the model itself;
 * layers models, graph models, branches and batch-norm quirks are handled here, once.
 * All returned tensors are owned by the caller.
 */
export interface ModelAdapter {
  /** [height, width, channels] of one input. */
  readonly inputShape: [number, number, number];
  /** Length of the output vector. */
  readonly outputSize: number;
  readonly headActivation: HeadActivation;
  /** Layers (or graph nodes) in execution order. */
  readonly layers: readonly LayerInfo[];
  /** The last layer with a spatial 4-D output, or undefined when there is none. */
  defaultLayer(): string | undefined;
  /** Scores before the head activation, [batch, outputSize]. */
  logits(x: tf.Tensor4D): tf.Tensor2D;
  /** The model's output after its head activation, [batch, outputSize]. */
  probabilities(x: tf.Tensor4D): tf.Tensor2D;
  /** The target per batch element, [batch]. */
  score(x: tf.Tensor4D, target: Target): tf.Tensor1D;
  /** Output of a layer / node. Throws UserError for an unknown name. */
  activations(x: tf.Tensor4D, layer: string): tf.Tensor;
  /** Gradient of the target with respect to the input. */
  inputGradient(x: tf.Tensor4D, target: Target, opts?: GradientOptions): ScoredGradient;
  /** Gradient of the target with respect to a layer's output, for branching graphs too. */
  layerGradient(x: tf.Tensor4D, layer: string, target: Target, opts?: GradientOptions): LayerGradient;
  /**
   * CAM's precondition: when `layer` feeds a GlobalAveragePooling2D → Dense head (Dropout,
   * Flatten-free), the dense kernel [channels, outputSize] (caller disposes); otherwise a reason
   * phrased to follow the method's name, e.g. `needs a GlobalAveragePooling2D → Dense head
   * after "conv5"; it is followed by Flatten`.
   */
  gapDenseHead(layer: string): { weights: tf.Tensor2D } | string;
  /**
   * Whether `GradientOptions.reluBackward` is honoured (Guided Backprop): undefined when it is,
   * else the reason, phrased to follow a method's name ("changes the ReLU backward rule, which …").
   */
  readonly reluOverride: string | undefined;
  /**
   * The sanity checks' capability: the model's weights grouped into blocks that can be
   * re-initialised in place and restored bit for bit; or the reason there is none.
   */
  randomizer(): Randomizer | string;
  /**
   * The attention facet: the model's attention layers over its image patches, for rollout and
   * the attention tab; or the reason there is none (phrased to follow "needs …").
   */
  attention(): AttentionModel | string;
  /**
   * A faster engine for forward-only passes (scores, probabilities, activations), when the format
   * has one and it started; the helpers in model/forward.ts use it when present.
   */
  forward?: ForwardRunner;
  /** Why the format's forward engine did not start (not installed, switched off); undefined otherwise. */
  forwardUnavailable?: string;
  dispose(): void;
}

/** One column of the sanity strip: the weights re-initialised together (a conv and its batch norm). */
export interface RandomizableBlock {
  /** Its name as the adapter's layer list shows it (a layer name, a module path). */
  name: string;
  /** The names of what it re-initialises, in execution order. */
  layers: string[];
}

/** The original weights of a model, held while a sanity check randomizes it. */
export interface WeightSnapshot {
  /** Re-initialises block `index` (of `Randomizer.blocks`), seeded per (seed, layer, weight). */
  reinitialize(index: number, seed: number): void;
  /** Puts block `index`'s original weights back, bit for bit. */
  restore(index: number): void;
  /** Restores every weight and frees the snapshot; safe to call more than once. */
  release(): void;
}

export interface Randomizer {
  /** The randomizable blocks, from the logits down. */
  readonly blocks: readonly RandomizableBlock[];
  /** How fresh weights are drawn, for people (e.g. "each layer's configured Keras initializer"). */
  readonly initialization: string;
  /** Takes the snapshot; throws a UserError when another check is randomizing this model. */
  snapshot(): WeightSnapshot;
}

/** The interface every explanation method implements, and what it may declare it needs. */
import type * as tf from '@tensorflow/tfjs-core';
import type { ModelAdapter, Target } from '../model/types';
import type { Spread } from '../compute/spread';
import type { MethodFamily } from '../../shared/protocol/common';

/** What a method needs from a model; the UI and the CLI offer a method only when it applies. */
export interface ExplainerNeeds {
  /** Gradients of the target (through the adapter). */
  gradients: boolean;
  /** A layer with a spatial [batch, h, w, c] output. */
  spatialLayer: boolean;
  /** Replacing the ReLU backward rule (Guided Backprop): layers models only. */
  reluHook?: boolean;
  /** A GlobalAveragePooling2D → Dense head after the chosen layer (CAM). */
  gapDenseHead?: boolean;
  /** Self-attention (MultiHeadAttention layers) over image patches: attention rollout and its variants. */
  attention?: boolean;
}

/** One tunable parameter of a method (SmoothGrad's n, IG's steps, occlusion's window, …). */
export interface ParamSpec {
  key: string;
  label: string;
  /** Number parameters have min/max; choice parameters list their choices. */
  default: number | string;
  min?: number;
  max?: number;
  choices?: readonly string[];
  help: string;
}

/** Parameter values by key; a method reads its own keys and falls back to its defaults. */
export type MethodParams = Readonly<Record<string, number | string>>;

export interface ExplainRequest {
  adapter: ModelAdapter;
  /** One preprocessed input, [1, h, w, c]. Not disposed by the method. */
  input: tf.Tensor4D;
  target: Target;
  /** Layer for layer-based methods; the adapter's default layer when absent. */
  layer?: string;
  /** Values for the method's `params`; missing keys take their defaults. */
  params?: MethodParams;
  /** Seed for methods with randomness (SmoothGrad, RISE, noise baselines, the random map). */
  seed?: number;
  /** Largest batch of inputs a method may push through the model at once. */
  batchSize?: number;
  /** The preprocessed all-black image, [1, h, w, c] (the "black" baseline); zeros when absent. */
  black?: tf.Tensor4D;
  /** [min, max] of the preprocessed input's value range (noise scales, uniform baselines). */
  inputRange?: [number, number];
  signal?: AbortSignal;
  /** Where the method may spread independent batches (other workers of the pool); here when absent. */
  spread?: Spread;
  /** Progress in [0, 1]. */
  onProgress?: (fraction: number) => void;
}

/** A raw attribution map at the method's own resolution, not normalised. */
export interface ExplanationMap {
  data: Float32Array;
  height: number;
  width: number;
  /** The layer it was computed at, for layer-based methods. */
  layer?: string;
  /** True when negative values carry meaning (evidence against the target), e.g. IG. */
  signed?: boolean;
  /** Method-specific numbers worth showing, e.g. IG's `completenessGap`. */
  stats?: Record<string, number>;
  /** Set when the map ranks no pixel above another (zero or constant everywhere), with the likely cause. */
  note?: string;
}

export interface Explainer {
  /** Stable id used by the CLI, settings and the protocol (e.g. `gradcam`). */
  readonly id: string;
  /** Name shown to people (e.g. `Grad-CAM`). */
  readonly label: string;
  readonly family: MethodFamily;
  readonly needs: ExplainerNeeds;
  /** Tunable parameters with their defaults; empty when there are none. */
  readonly params: readonly ParamSpec[];
  explain(req: ExplainRequest): Promise<ExplanationMap>;
}

/** A parameter's value from the request, or its default (explain-image's paramsFor validates values). */
export function paramValue<T extends number | string>(e: Pick<Explainer, 'id' | 'params'>, params: MethodParams | undefined, key: string): T {
  const spec = e.params.find((p) => p.key === key);
  if (!spec) throw new Error(`${e.id} has no parameter "${key}"`);
  const v = params?.[key] ?? spec.default;
  return v as T;
}

/** Default batch size for methods that push many inputs through the model. */
export const DEFAULT_BATCH_SIZE = 32;

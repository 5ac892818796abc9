/** The interface every explanation method implements, and what it may declare it needs. */
import type * as tf from '@tensorflow/tfjs-core';
import type { ModelAdapter, Target } from '../model/types';

/** What a method needs from a model; the UI and the CLI offer a method only when it applies. */
export interface ExplainerNeeds {
  /** Gradients of the target (through the adapter). */
  gradients: boolean;
  /** A layer with a spatial [batch, h, w, c] output. */
  spatialLayer: boolean;
}

export interface ExplainRequest {
  adapter: ModelAdapter;
  /** One preprocessed input, [1, h, w, c]. Not disposed by the method. */
  input: tf.Tensor4D;
  target: Target;
  /** Layer for layer-based methods; the adapter's default layer when absent. */
  layer?: string;
  signal?: AbortSignal;
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
}

export interface Explainer {
  /** Stable id used by the CLI, settings and the protocol (e.g. `gradcam`). */
  readonly id: string;
  /** Name shown to people (e.g. `Grad-CAM`). */
  readonly label: string;
  readonly needs: ExplainerNeeds;
  explain(req: ExplainRequest): Promise<ExplanationMap>;
}

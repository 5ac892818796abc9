/**
 * TCAV (Kim et al. 2018): the types shared by the engine, the CLI and the panel. Plain data: no
 * tensors, no vscode.
 */

/** The experiment file (`experiment.json`) as people write it. Paths are relative to its folder. */
export interface TcavExperimentFile {
  /** The model file (model.json, .onnx, .keras, .h5) to explain; when absent, the workspace's model (or the CLI's --model). */
  model?: string;
  /** The class whose sensitivity is measured: a label from the model's metadata, or an index. */
  target: string | number;
  /** Folder of class images (default `class`). */
  classImages?: string;
  /** Folder holding one sub-folder of example images per concept (default `concepts`). */
  conceptsDir?: string;
  /** Concept names (sub-folders of conceptsDir); default: every sub-folder. */
  concepts?: string[];
  /**
   * Random counterexamples: one folder split into runs + 1 random sets (default `random`), or a
   * list of folders, one per set.
   */
  random?: string | string[];
  /** Layers (layer or node names) at which CAVs are trained. */
  layers: string[];
  /** Number of runs, each against a different random set (default 20). */
  runs?: number;
  /**
   * Images per concept and per random set (default 50; fewer when a folder has fewer). Larger
   * folders are sampled (seeded); the class images are capped at this number too.
   */
  imagesPerSet?: number;
  /** Relative TCAV: CAVs trained on concept A against concept B instead of random sets. */
  relative?: [string, string][];
  /** Family-wise significance level, Bonferroni-corrected over the tests (default 0.05). */
  alpha?: number;
  seed?: number;
}

/** One bar: a concept (or a relative pair) at one layer, over all runs. */
export interface TcavCell {
  /** Concept name, or `A vs B` for a relative pair. */
  concept: string;
  kind: 'concept' | 'relative';
  layer: string;
  /** Per run: the fraction of class images with a positive directional derivative. */
  scores: number[];
  /** Per run: Σ positive derivatives ÷ Σ |derivatives|. */
  magnitudes: number[];
  mean: number;
  /** Sample standard deviation over the runs. */
  std: number;
  magnitudeMean: number;
  magnitudeStd: number;
  /** Per run: held-out accuracy of the CAV's linear classifier. */
  cavAccuracies: number[];
  cavAccuracy: number;
  /** The CAV is hardly better than chance: the concept is not linearly present at this layer. */
  lowAccuracy: boolean;
  /** Welch's two-sided t-test of `scores` against the layer's random-vs-random scores. */
  t: number;
  p: number;
  /** min(1, p × tests). */
  pAdjusted: number;
  significant: boolean;
}

/** Random-vs-random scores at one layer (run r: random set r − 1 against random set r): the null every concept is tested against. */
export interface TcavRandomBaseline {
  layer: string;
  scores: number[];
  mean: number;
  std: number;
  cavAccuracy: number;
}

export interface TcavTimings {
  /** Seconds: activations of concept and random images (forward passes, or cache reads). */
  activations: number;
  /** Seconds training the linear classifiers. */
  cavs: number;
  /** Seconds: class-logit gradients of the class images (backward passes, or cache reads) and their dot products with the CAVs. */
  derivatives: number;
  total: number;
}

export interface TcavResult {
  version: 1;
  /** The experiment file, absolute. */
  experiment: string;
  model: {
    file: string;
    name: string;
    /** SHA-256 of the model file and its side files (weight shards, external data): which checkpoint was explained. */
    hash: string;
    /** Latest modification time of the checkpoint's files (ISO), for people comparing checkpoints. */
    modified: string;
  };
  target: { index: number; label?: string };
  createdAt: string;
  seed: number;
  runs: number;
  imagesPerSet: number;
  /** Number of class images whose derivatives were taken. */
  classImages: number;
  alpha: number;
  /** Number of tests the Bonferroni correction divides by (concepts and pairs × layers). */
  tests: number;
  layers: string[];
  cells: TcavCell[];
  random: TcavRandomBaseline[];
  timings: TcavTimings;
  /** Activations / gradients read from the cache vs computed by forward passes. */
  cache: { hits: number; computed: number };
  warnings: string[];
}

/** Below this held-out accuracy a CAV is flagged (chance is 0.5). */
export const LOW_CAV_ACCURACY = 0.6;

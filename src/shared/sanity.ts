/**
 * Sanity checks for saliency maps (Adebayo et al. 2018): the types shared by the randomization
 * engine, the similarity metrics, the CLI and the panel. Plain data: no tensors, no vscode.
 */

/** Similarity between an original map and a randomized one (each in [-1, 1] or [0, 1]). */
export type SimilarityName = 'spearman' | 'spearmanAbs' | 'ssim' | 'hog';
export const SIMILARITY_NAMES: readonly SimilarityName[] = ['spearman', 'spearmanAbs', 'ssim', 'hog'];
export const SIMILARITY_LABELS: Record<SimilarityName, string> = {
  spearman: 'Spearman rank correlation',
  spearmanAbs: 'Spearman rank correlation of |map|',
  ssim: 'SSIM',
  hog: 'Pearson correlation of HOG features',
};
export type Similarities = Record<SimilarityName, number>;

/** Cascading: from the logits down, one more layer re-initialised per step. Independent: one layer at a time. */
export type SanityMode = 'cascading' | 'independent';

/** One column of the strip. */
export interface SanityStep {
  /** 0 is the original model. */
  index: number;
  /** The layer this step re-initialised (null for the original). */
  layer: string | null;
  /** Every layer re-initialised at this step (cascading: all down to `layer`). */
  randomized: string[];
}

export interface MethodSimilarities {
  method: string;
  label: string;
  /** One per step; step 0 compares the original with itself. */
  similarities: Similarities[];
}

export interface ImageSanity {
  file: string;
  target: { index: number; label?: string };
  methods: MethodSimilarities[];
}

export type Verdict = 'passes' | 'fails';

export interface MethodSummary {
  method: string;
  label: string;
  /** Mean and standard deviation over the images, per step. */
  mean: Similarities[];
  std: Similarities[];
  /** The value the verdict compares with the threshold (see SanityResult.rule). */
  score: number;
  verdict: Verdict;
}

export interface DataRandomization {
  /** The model trained on permuted labels. */
  model: string;
  /** Per image, per method: similarity between the two models' maps. */
  images: { file: string; methods: { method: string; similarities: Similarities }[] }[];
  summary: { method: string; label: string; mean: Similarities; std: Similarities; score: number; verdict: Verdict }[];
}

export interface SanityResult {
  mode: SanityMode;
  seed: number;
  /** The similarity the verdict uses and its threshold: a method passes when its score is below. */
  metric: SimilarityName;
  threshold: number;
  /** How the score is taken, in words (shown beside the verdicts). */
  rule: string;
  steps: SanityStep[];
  images: ImageSanity[];
  summary: MethodSummary[];
  dataRandomization?: DataRandomization;
}

/**
 * From per-image similarities to a verdict per method. A method passes a randomization test when
 * its maps lose their similarity to the original ones: its score, a mean of the chosen
 * similarity, falls below the threshold.
 *
 *  - cascading: the score is the mean over the images after the full cascade (every block
 *    re-initialised): what the paper's cascading figures end on;
 *  - independent: the mean over every single-block randomization and every image;
 *  - data randomization: the mean over the images, model vs its random-labels twin.
 *
 * Default threshold 0.5, on Spearman rank correlation: halfway between unrelated rankings (0) and
 * unchanged ones (1). In the paper the maps of the methods that pass (e.g. Gradient, Grad-CAM)
 * lose their rank correlation with the original ones as the cascade proceeds, while Guided
 * Backprop's keep visibly the same structure to the end; 0.5 flags only methods whose maps keep
 * more than half of their ranking when nothing of the trained model is left. A stricter gate
 * passes a lower threshold.
 */
import { mean as meanOf, standardDeviation } from 'simple-statistics';
import { SIMILARITY_LABELS, SIMILARITY_NAMES, type MethodSummary, type SanityMode, type Similarities, type SimilarityName, type Verdict } from './types';

export const DEFAULT_METRIC: SimilarityName = 'spearman';
export const DEFAULT_THRESHOLD = 0.5;

/** Per-measure mean and (population) standard deviation of a list of similarities. */
export function meanStd(list: readonly Similarities[]): { mean: Similarities; std: Similarities } {
  if (list.length === 0) throw new RangeError('no similarities to average');
  const mean = {} as Similarities;
  const std = {} as Similarities;
  for (const k of SIMILARITY_NAMES) {
    const xs = list.map((s) => s[k]);
    mean[k] = meanOf(xs);
    std[k] = standardDeviation(xs);
  }
  return { mean, std };
}

export function verdictOf(score: number, threshold: number): Verdict {
  return score < threshold ? 'passes' : 'fails';
}

/** The rule in words, for SanityResult.rule. */
export function ruleText(mode: SanityMode, metric: SimilarityName, threshold: number, blocks: number): string {
  const what = SIMILARITY_LABELS[metric];
  return mode === 'cascading'
    ? `passes when the mean ${what} between the original maps and the maps after the full cascade (all ${blocks} layers re-initialised, from the logits down) is below ${threshold}`
    : `passes when the mean ${what} between the original maps and the maps with one layer re-initialised, over all ${blocks} layers and the images, is below ${threshold}`;
}

/**
 * Summaries per method from `perImage[i][m][s]`: image i, method m, step s (step 0 the original).
 */
export function summarize(
  mode: SanityMode,
  metric: SimilarityName,
  threshold: number,
  methods: readonly { id: string; label: string }[],
  perImage: readonly (readonly (readonly Similarities[])[])[],
): MethodSummary[] {
  return methods.map((m, mi) => {
    const steps = perImage[0][mi].length;
    const stats = Array.from({ length: steps }, (_, s) => meanStd(perImage.map((img) => img[mi][s])));
    const mean = stats.map((x) => x.mean);
    const score = mode === 'cascading' ? mean[steps - 1][metric] : meanOf(mean.slice(1).map((x) => x[metric]));
    return { method: m.id, label: m.label, mean, std: stats.map((x) => x.std), score, verdict: verdictOf(score, threshold) };
  });
}

/** The data randomization summary of one method: the mean over the images, model vs twin. */
export function summarizeData(metric: SimilarityName, threshold: number, method: { id: string; label: string }, perImage: readonly Similarities[]) {
  const { mean, std } = meanStd(perImage);
  const score = mean[metric];
  return { method: method.id, label: method.label, mean, std, score, verdict: verdictOf(score, threshold) };
}

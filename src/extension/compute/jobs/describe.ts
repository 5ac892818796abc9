/** What the extension host shows about a model (names, layers, which methods apply), from a worker's copy. */
import { EXPLAINERS, whyNotApplicable } from '../../explain/registry';
import type { HeadActivation, LayerInfo } from '../../model/types';
import type { LoadedModel } from '../../model/load';
import { defineJob } from '../job';
import type { ModelRef } from '../protocol';

/** The loaded model's facts (no adapter: it stays in the worker), and its adapter's shape. */
export interface ModelInfo extends Omit<LoadedModel, 'adapter'> {
  checkpoint: string;
  inputShape: [number, number, number];
  outputSize: number;
  headActivation: HeadActivation;
  layers: LayerInfo[];
  defaultLayer?: string;
  /** Why each method cannot run on this model at `layer` (absent: it can), by method id. */
  unavailable: Record<string, string>;
  /** Why the sanity cascade cannot run (absent: it can). */
  noRandomizer?: string;
}

export const describeJob = defineJob('describe', async (args: { model: ModelRef; layer?: string }, ctx): Promise<ModelInfo> =>
  ctx.withModel(args.model, async (m) => {
    const { adapter } = m;
    const unavailable: Record<string, string> = {};
    for (const e of EXPLAINERS) {
      const why = whyNotApplicable(e, adapter, args.layer);
      if (why) unavailable[e.id] = why;
    }
    const randomizer = adapter.randomizer();
    const defaultLayer = adapter.defaultLayer();
    return {
      file: m.file, name: m.name, format: m.format, formatLabel: m.formatLabel, warnings: m.warnings, checkpoint: m.checkpoint,
      ...(m.labels ? { labels: m.labels } : {}), ...(m.preprocess ? { preprocess: m.preprocess } : {}),
      inputShape: adapter.inputShape, outputSize: adapter.outputSize, headActivation: adapter.headActivation,
      layers: adapter.layers.map((l) => ({ ...l, outputShape: [...l.outputShape] })),
      ...(defaultLayer !== undefined ? { defaultLayer } : {}),
      unavailable,
      ...(typeof randomizer === 'string' ? { noRandomizer: randomizer } : {}),
    };
  }));

/** Explain one image (predictions, then each method's map and metrics) in a worker. */
import { explainImage, type ExplainImageOptions, type ExplainImageResult, type MethodResult, type Prediction } from '../../explain/explain-image';
import { explainerById } from '../../explain/registry';
import { defineJob } from '../job';
import type { ModelRef } from '../protocol';

export interface ExplainJobArgs extends Omit<ExplainImageOptions, 'model' | 'methods' | 'signal' | 'onMethod' | 'onMethodProgress' | 'onPredictions' | 'onMap' | 'onMetrics' | 'reuse' | 'spread'> {
  model: ModelRef;
  methods: string[];
  /** Maps computed earlier for this image, model checkpoint and layer: shown again, not recomputed. */
  reuse?: MethodResult[];
}

/** The events an explain job emits, in order per method. */
export interface ExplainEvents {
  predictions: { predictions: Prediction[]; target: Prediction; checkpoint: string };
  /** A running method is this far (whole percents, below 100: its `method` and `map` events end it). */
  progress: { id: string; percent: number };
  method: { id: string; index: number };
  map: MethodResult;
  metrics: { result: MethodResult; ms: number };
}

export const explainJob = defineJob('explain', async (args: ExplainJobArgs, ctx): Promise<ExplainImageResult & { checkpoint: string }> =>
  ctx.withModel(args.model, async (model) => {
    const emit = <K extends keyof ExplainEvents>(name: K, data: ExplainEvents[K]) => ctx.emit(name, data);
    // One event per whole percent a method advances: a method that splits its work into many
    // parts would otherwise send an event per part.
    const percents = new Map<string, number>();
    const result = await explainImage({
      ...args,
      model,
      methods: args.methods.map(explainerById),
      signal: ctx.signal,
      spread: ctx.spreadFor(args.model, model.adapter),
      reuse: (m, target) => args.reuse?.find((r) => r.method === m.id && r.target === target),
      onMethod: (m, index) => emit('method', { id: m.id, index }),
      onPredictions: (predictions, target) => emit('predictions', { predictions, target, checkpoint: model.checkpoint }),
      onMap: (m) => emit('map', m),
      onMethodProgress: (m, fraction) => {
        const percent = Math.floor(fraction * 100);
        if (percent >= 100 || percent <= (percents.get(m.id) ?? 0)) return;
        percents.set(m.id, percent);
        emit('progress', { id: m.id, percent });
      },
      onMetrics: (result, ms) => emit('metrics', { result, ms }),
    });
    return { ...result, checkpoint: model.checkpoint };
  }));

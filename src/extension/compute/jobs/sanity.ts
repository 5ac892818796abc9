/**
 * The sanity checks (Adebayo et al.'s model and data randomization) in a worker: the original
 * model's maps and the twin's here, the randomization steps spread over the pool (each worker
 * randomizes its own copy of the model and puts it back when its part ends).
 */
import { explainerById } from '../../explain/registry';
import type { LoadedModel } from '../../model/load';
import { runSanityCheck, type SanityMapEvent, type SanityOptions } from '../../sanity/run-sanity';
import type { SanityResult } from '../../sanity/types';
import { defineJob } from '../job';
import type { ModelRef } from '../protocol';

export interface SanityJobArgs extends Omit<SanityOptions, 'model' | 'randomLabelsModel' | 'methods' | 'images' | 'signal' | 'onProgress' | 'onMap' | 'spread'> {
  model: ModelRef;
  /** Data randomization: the same architecture trained on permuted labels. */
  twin?: ModelRef;
  images: string[];
  /** Method ids. */
  methods: string[];
}

/** The events a sanity job emits: progress, and each map of the strip (the twin's maps are not sent). */
export interface SanityEvents {
  progress: { fraction: number; message: string };
  map: SanityMapEvent;
}

export const sanityJob = defineJob('sanity', async (args: SanityJobArgs, ctx): Promise<SanityResult> =>
  ctx.withModel(args.model, async (model) => {
    const emit = <K extends keyof SanityEvents>(name: K, data: SanityEvents[K]) => ctx.emit(name, data);
    const run = (twin?: LoadedModel) => runSanityCheck({
      model, images: args.images, methods: args.methods.map(explainerById), mode: args.mode, seed: args.seed, target: args.target,
      layer: args.layer, preprocess: args.preprocess, params: args.params, metric: args.metric, threshold: args.threshold,
      randomLabelsModel: twin, signal: ctx.signal, spread: ctx.spreadFor(args.model, model.adapter),
      onProgress: (fraction, message) => emit('progress', { fraction, message }),
      onMap: (e) => emit('map', e),
    });
    const { twin } = args;
    return twin ? ctx.withModel(twin, (t) => run(t)) : run();
  }));

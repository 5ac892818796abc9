/** Runs a TCAV experiment in a worker, its activations and gradients spread over the pool by image chunks, its CAVs by layer and run. */
import type { TcavResult } from '../../../shared/tcav';
import type { PreprocessPreset } from '../../image/preprocess';
import { readExperiment } from '../../tcav/experiment';
import { runTcav, type TcavCavsDone, type TcavChunkDone, type TcavProgress } from '../../tcav/run-tcav';
import { defineJob } from '../job';
import type { ModelRef } from '../protocol';

export interface TcavJobArgs {
  /** The experiment file, read in the worker (its images are read there anyway). */
  experiment: string;
  /** Overrides the experiment's runs. */
  runs?: number;
  model: ModelRef;
  /** Default: the model's metadata, else unit. */
  preprocess?: PreprocessPreset;
  /** The activation cache (default: `.cache/tcav` beside the experiment). */
  cacheDir?: string;
}

/** The events a TCAV job emits. */
export interface TcavEvents {
  progress: TcavProgress;
  /** A chunk of images is in the activation cache (which worker computed it: tests and benchmarks). */
  chunk: TcavChunkDone;
  /** The CAVs of a layer and run are known (how many were trained, and by which worker). */
  cavs: TcavCavsDone;
}

export const tcavJob = defineJob('tcav', async (args: TcavJobArgs, ctx): Promise<TcavResult> => {
  const experiment = readExperiment(args.experiment, { runs: args.runs });
  return ctx.withModel(args.model, (model) => runTcav({
    experiment,
    model,
    preprocess: args.preprocess ?? model.preprocess ?? 'unit',
    cacheDir: args.cacheDir,
    signal: ctx.signal,
    spread: ctx.spreadFor(args.model, model.adapter),
    onProgress: (p) => ctx.emit('progress', p satisfies TcavEvents['progress']),
    onChunk: (c) => ctx.emit('chunk', c satisfies TcavEvents['chunk']),
    onCavs: (c) => ctx.emit('cavs', c satisfies TcavEvents['cavs']),
  }));
});

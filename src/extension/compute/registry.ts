/**
 * Every job a worker runs and every kind of shard it computes for another worker. A new job or
 * shard kind is one line here.
 */
import type { JobKind } from './job';
import type { ShardKind } from './spread';
import { describeJob } from './jobs/describe';
import { explainJob } from './jobs/explain';
import { tcavJob } from './jobs/tcav';
import { sanityJob } from './jobs/sanity';
import { attentionInfoJob, attentionMapJob, attentionTokensJob } from './jobs/attention';
import { crashJob, echoJob, spinJob } from './jobs/test-jobs';
import { faithfulnessShard, gridMethodShard } from '../explain/grid-shards';
import { tcavChunkShard } from '../tcav/chunk-shard';
import { tcavCavShard } from '../tcav/cav-shard';
import { sanityStepShard } from '../sanity/step-shard';
import { riseShard } from '../explain/methods/perturbation/rise';
import { occlusionShard } from '../explain/methods/perturbation/occlusion';
import { scoreCamShard } from '../explain/methods/cam/score-cam';
import { smoothGradShard } from '../explain/methods/gradient/smoothgrad';
import { igShard } from '../explain/methods/gradient/integrated-gradients';

const jobs = [
  describeJob,
  explainJob,
  tcavJob,
  sanityJob,
  attentionInfoJob,
  attentionMapJob,
  attentionTokensJob,
  spinJob,
  crashJob,
  echoJob,
] as Array<JobKind<never>>;
export const JOBS: ReadonlyMap<string, JobKind<never>> = new Map(jobs.map((j) => [j.kind, j]));

const shards: ShardKind[] = [
  gridMethodShard,
  faithfulnessShard,
  sanityStepShard,
  riseShard,
  occlusionShard,
  scoreCamShard,
  smoothGradShard,
  igShard,
  tcavChunkShard,
  tcavCavShard,
] as ShardKind[];
export const SHARD_KINDS: ReadonlyMap<string, ShardKind> = new Map(shards.map((k) => [k.kind, k]));

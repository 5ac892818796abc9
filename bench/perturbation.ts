/**
 * Perturbation methods against their floor: a method that pushes N perturbed images through the
 * model cannot beat N / (images per second of the plain batched forward pass, adapter.score on a
 * batch of the same size). The ratio (method images/s ÷ forward images/s) shows what building
 * the perturbed images and reading the scores cost on top; 1.00 means nothing. On the
 * MobileNetV2-size model and on the demo model, for occlusion, RISE and Score-CAM.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { LayersModelAdapter } from '../src/extension/model/layers-adapter';
import { loadModel } from '../src/extension/model/load';
import type { ModelAdapter } from '../src/extension/model/types';
import type { Explainer, ExplainRequest } from '../src/extension/explain/explainer';
import { occlusion } from '../src/extension/explain/methods/perturbation/occlusion';
import { rise } from '../src/extension/explain/methods/perturbation/rise';
import { scoreCam } from '../src/extension/explain/methods/cam/score-cam';
import { buildMobileNetV2 } from './mobilenet-v2';
import { fmt, ratio } from './timing';

interface Case {
  name: string;
  adapter: ModelAdapter;
  batchSize: number;
  /** Method parameters, chosen so one run takes seconds, not minutes. */
  riseMasks: number;
}

/** The folder with package.json: the bench runs from dist/ (bundled) or out/bench/ (tsc). */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/**
 * Best wall time of `f` in ms over `reps` runs, after one warm-up. The machine may be shared, and
 * the best run is the steadiest estimate of what the work itself costs (as in wasm-kernels.ts).
 */
async function bestMs(f: () => Promise<unknown> | unknown, reps: number): Promise<number> {
  let best = Infinity;
  for (let i = 0; i <= reps; i++) {
    const t0 = performance.now();
    const r = await f();
    if (r instanceof tf.Tensor) {
      await r.data(); // backends that run asynchronously finish here
      r.dispose();
    }
    if (i > 0) best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** How many images a method pushes through the model for one explanation. */
function imagesOf(method: Explainer, stats: Record<string, number> | undefined, adapter: ModelAdapter, layer: string | undefined): number {
  if (method.id === 'occlusion') return stats!.windows + 1; // + the unoccluded input
  if (method.id === 'rise') return stats!.masks;
  const info = adapter.layers.find((l) => l.name === layer)!;
  return info.outputShape[3] as number; // Score-CAM: one image per channel
}

async function benchCase(c: Case, reps: number): Promise<string[]> {
  const { adapter, batchSize } = c;
  const [h, w, ch] = adapter.inputShape;
  const target = { index: 1, space: 'logit' as const };
  const input = tf.randomUniform([1, h, w, ch], 0, 1, 'float32', 3) as tf.Tensor4D;
  const batch = tf.randomUniform([batchSize, h, w, ch], 0, 1, 'float32', 4) as tf.Tensor4D;
  const forward = () => bestMs(() => adapter.score(batch, target), reps);
  const lines = [`${c.name}, batch ${batchSize}:`];
  const layer = adapter.defaultLayer();
  const methods: [Explainer, ExplainRequest['params']][] = [[occlusion, {}], [rise, { masks: c.riseMasks }], [scoreCam, {}]];
  for (const [method, params] of methods) {
    const req: ExplainRequest = { adapter, input, target, layer, params, batchSize, seed: 1 };
    const images = imagesOf(method, (await method.explain(req)).stats, adapter, layer);
    // The floor is measured next to each method, so both see the same load on the machine.
    const forwardMs = await forward();
    const ms = await bestMs(() => method.explain(req), reps);
    const forwardRate = (batchSize * 1000) / forwardMs;
    const rate = (images * 1000) / ms;
    lines.push(
      `  ${method.label.padEnd(10)} ${String(images).padStart(5)} images in ${fmt(ms).padStart(10)} = ${rate.toFixed(1).padStart(7)} images/s` +
        `   forward ${forwardRate.toFixed(1).padStart(7)} images/s (${fmt(forwardMs)} per batch)   ratio ${ratio(rate, forwardRate)}`,
    );
  }
  tf.dispose([input, batch]);
  return lines;
}

export async function benchPerturbation(reps = 3): Promise<string[]> {
  const mobileNet = new LayersModelAdapter(buildMobileNetV2());
  const demo = (await loadModel(path.join(repoRoot(), 'demo', 'models', 'shapes'))).adapter;
  const lines = [`perturbation methods: images/s ÷ plain batched forward images/s (best of ${reps}), backend ${tf.getBackend()}`];
  try {
    lines.push(...await benchCase({ name: 'MobileNetV2 224×224', adapter: mobileNet, batchSize: 16, riseMasks: 256 }, reps));
    lines.push(...await benchCase({ name: 'demo model 64×64', adapter: demo, batchSize: 32, riseMasks: 1000 }, reps));
  } finally {
    mobileNet.dispose();
    demo.dispose();
  }
  return lines;
}

/**
 * The sanity-check cascade against its floor: a cascade of S steps (the original + one per
 * randomizable block) with M methods runs S × M explanations, so it cannot beat S × M runs of the
 * same methods on a fixed model. The ratio (cascade ÷ that fixed-model loop) shows what the
 * engine adds: decoding, re-initialising weights, upsampling, the four similarities per map,
 * restoring. Each pair (fixed loop, cascade) runs back to back and the best of each is kept (the
 * machine may be shared); the cascade's own time inside the methods gives a second ratio from a
 * single run, which load on the machine does not skew. One image; Gradient, Grad-CAM and Guided
 * Backprop; on the MobileNetV2-size model and on the demo model.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { LayersModelAdapter } from '../src/extension/model/layers-adapter';
import { loadModel, type LoadedModel } from '../src/extension/model/load';
import { explainerById } from '../src/extension/explain/registry';
import type { Explainer } from '../src/extension/explain/explainer';
import { autoBatchSize } from '../src/extension/explain/batch-size';
import type { PreprocessPreset } from '../src/extension/image/preprocess';
import { runSanityCheck, type SanityMapEvent } from '../src/extension/sanity/run-sanity';
import { loadSanityInputs } from '../src/extension/sanity/inputs';
import { MapReference } from '../src/extension/sanity/similarity';
import { buildMobileNetV2 } from './mobilenet-v2';
import { fmt, medianMs, ratio } from './timing';

const METHODS = ['gradient', 'gradcam', 'guidedbp'].map(explainerById);

/** The folder with package.json: the bench runs from dist/ (bundled) or out/bench/ (tsc). */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** steps × (every method once) on the unchanged model, as the cascade calls them; ms. */
async function fixedLoopMs(model: LoadedModel, image: string, preset: PreprocessPreset, steps: number): Promise<number> {
  const { adapter } = model;
  const data = await loadSanityInputs([image], adapter, preset);
  const x = data.inputs[0];
  const index = tf.tidy(() => tf.argMax(adapter.logits(x), 1).dataSync()[0]);
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    for (const method of METHODS) {
      await method.explain({
        adapter, input: x, target: { index, space: 'logit' }, seed: 0, black: data.black, inputRange: data.range,
        batchSize: autoBatchSize(adapter, method.needs.gradients ? 'gradient' : 'forward'),
      });
    }
  }
  const ms = performance.now() - t0;
  data.dispose();
  return ms;
}

/**
 * One cascade: its wall time, and the time spent inside the method runs (the methods wrapped in
 * a stopwatch), so the two compare within the same run whatever else loads the machine.
 */
async function cascadeMs(model: LoadedModel, image: string, preset: PreprocessPreset, onMap?: (e: SanityMapEvent) => void): Promise<{ total: number; methods: number }> {
  let methods = 0;
  const timed = METHODS.map((m): Explainer => ({
    ...m,
    explain: async (req) => {
      const t = performance.now();
      try {
        return await m.explain(req);
      } finally {
        methods += performance.now() - t;
      }
    },
  }));
  const t0 = performance.now();
  await runSanityCheck({ model, images: [image], methods: timed, mode: 'cascading', seed: 0, target: 'top', preprocess: preset, onMap });
  return { total: performance.now() - t0, methods };
}

/** What the four similarity measures cost in a cascade: the same work on the cascade's own maps. */
async function similarityMs(maps: readonly SanityMapEvent[]): Promise<number> {
  return medianMs(() => {
    for (const method of METHODS) {
      const own = maps.filter((e) => e.method === method.id);
      const ref = new MapReference(own[0].map, own[0].height, own[0].width);
      for (const e of own) ref.compare(e.map);
    }
  }, 3, 1);
}

async function benchModel(name: string, model: LoadedModel, image: string, preset: PreprocessPreset, pairs: number): Promise<string[]> {
  const randomizer = model.adapter.randomizer();
  if (typeof randomizer === 'string') throw new Error(randomizer);
  const steps = randomizer.blocks.length + 1;
  let fixed = Infinity;
  let cascade = { total: Infinity, methods: Infinity };
  const maps: SanityMapEvent[] = [];
  await cascadeMs(model, image, preset, (e) => maps.push(e)); // warm-up (kernels, caches); keeps the maps
  for (let i = 0; i < pairs; i++) {
    fixed = Math.min(fixed, await fixedLoopMs(model, image, preset, steps));
    const c = await cascadeMs(model, image, preset);
    if (c.total < cascade.total) cascade = c;
  }
  const similarity = await similarityMs(maps);
  const [h, w] = model.adapter.inputShape;
  return [
    `${name}: ${steps} steps × ${METHODS.length} methods (${METHODS.map((m) => m.id).join(', ')}), one ${h}×${w} image, best of ${pairs}, backend ${tf.getBackend()}`,
    `  full cascade                         ${(cascade.total / 1000).toFixed(2)} s`,
    `  same runs on the fixed model         ${(fixed / 1000).toFixed(2)} s   (${fmt(fixed / steps / METHODS.length)} per run)`,
    `  cascade ÷ fixed-model runs           ${ratio(cascade.total, fixed)}   target ≤ 1.2`,
    `  cascade ÷ its own method runs        ${ratio(cascade.total, cascade.methods)}   (same run: ${(cascade.methods / 1000).toFixed(2)} s in the methods)`,
    `  the 4 similarity measures, all maps  ${(similarity / 1000).toFixed(2)} s   (${fmt(similarity / maps.length)} per map, measured apart)`,
  ];
}

export async function benchSanity(reps = 3): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-bench-sanity-'));
  const lines: string[] = [];
  try {
    // MobileNetV2: timing does not depend on trained weights or on the picture; a noise image.
    const image = path.join(dir, 'noise.png');
    const px = Buffer.from(Float32Array.from({ length: 224 * 224 * 3 }, (_, i) => (Math.sin(i * 12.9898) * 43758.5453) % 1).map((v) => Math.abs(v) * 255));
    await sharp(px, { raw: { width: 224, height: 224, channels: 3 } }).png().toFile(image);
    const mobilenet: LoadedModel = { adapter: new LayersModelAdapter(buildMobileNetV2()), file: 'mobilenet-v2', name: 'mobilenet-v2', format: 'tfjs-layers', formatLabel: 'TensorFlow.js layers model', warnings: [] };
    lines.push(...await benchModel('MobileNetV2 224×224', mobilenet, image, 'symmetric', Math.min(reps, 2)));
    mobilenet.adapter.dispose();
    const root = repoRoot();
    const demo = await loadModel(path.join(root, 'demo', 'models', 'shapes'));
    lines.push(...await benchModel('demo model 64×64', demo, path.join(root, 'demo', 'images', 'circle-1.png'), 'unit', reps));
    demo.adapter.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

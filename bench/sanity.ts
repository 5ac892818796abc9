/**
 * The sanity-check cascade against its floor: a cascade of S steps (the original + one per
 * randomizable block) with M methods runs S × M explanations, so it cannot beat S × M runs of the
 * same methods on a fixed model. The ratio (cascade ÷ that fixed-model loop) shows what the
 * engine adds: decoding, re-initialising weights, upsampling, the four similarities per map,
 * restoring. Each pair (fixed loop, cascade) runs back to back and the best of each is kept (the
 * machine may be shared); the cascade's own time inside the methods gives a second ratio from a
 * single run, which load on the machine does not skew. One image; Gradient, Grad-CAM and Guided
 * Backprop; on the MobileNetV2-size model and on the demo model.
 *
 * The similarity measures are timed apart on the cascade's own maps (each method's maps against
 * its original, as the cascade compares them): each measure alone, per map and as a share of the
 * cascade, and all four as the cascade computes them (sharing the sort and the normalisation).
 * Then the same on random maps at 64², 224² and 299² (Inception's input), against no model.
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
import { SIMILARITY_NAMES, type SimilarityName } from '../src/extension/sanity/types';
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

/** ms per map of each measure alone and of all four together (compare()), on these maps. */
type SimilarityTimes = Record<SimilarityName | 'all', number>;

/**
 * What the similarity measures cost on a cascade's maps: each method's maps against its own
 * original, as the cascade compares them; the median of `reps` sweeps, per map.
 */
async function similarityMs(maps: readonly SanityMapEvent[], reps = 3): Promise<SimilarityTimes> {
  const groups = [...new Set(maps.map((e) => e.method))].map((id) => {
    const own = maps.filter((e) => e.method === id);
    return { ref: new MapReference(own[0].map, own[0].height, own[0].width), maps: own.map((e) => e.map) };
  });
  const sweep = (f: (ref: MapReference, map: Float32Array) => unknown) => medianMs(() => {
    for (const g of groups) for (const map of g.maps) f(g.ref, map);
  }, reps, 1);
  const times = { all: (await sweep((ref, map) => ref.compare(map))) / maps.length } as SimilarityTimes;
  for (const name of SIMILARITY_NAMES) times[name] = (await sweep((ref, map) => ref.measure(name, map))) / maps.length;
  return times;
}

/** Sub-millisecond times: the measures take a fraction of a millisecond on 64×64 maps. */
const fmt2 = (ms: number) => `${ms.toFixed(2)} ms`;

/** One line per measure: ms per map and, over `maps` maps, its share of `cascadeMs`. */
function similarityLines(times: SimilarityTimes, maps: number, cascadeMs: number, methodMsPerMap: number): string[] {
  const line = (label: string, ms: number) =>
    `    ${label.padEnd(30)} ${fmt2(ms).padStart(9)} per map  ${((100 * ms * maps) / cascadeMs).toFixed(1).padStart(5)} % of the cascade  ${((100 * ms) / methodMsPerMap).toFixed(1).padStart(5)} % of a method run`;
  return [
    ...SIMILARITY_NAMES.map((name) => line(`${name} alone`, times[name])),
    line('all four (compare(), shared)', times.all),
  ];
}

/** A pseudo-random map whose values repeat a little (a float32 quantised to 1/4096), as saliency maps do. */
function randomMap(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.round((s / 2 ** 32 - 0.3) * 4096) / 4096;
  });
}

/** The measures on random maps at the usual input resolutions, each map against one reference. */
async function similarityByResolution(): Promise<string[]> {
  const lines = ['similarity measures on random maps, ms per map (each alone; all four as the cascade computes them):'];
  for (const side of [64, 224, 299]) {
    const ref = new MapReference(randomMap(side * side, 1), side, side);
    const maps = Array.from({ length: 8 }, (_, i) => randomMap(side * side, i + 2));
    const times: string[] = [];
    for (const name of [...SIMILARITY_NAMES, 'all'] as const) {
      const ms = await medianMs(() => {
        for (const map of maps) void (name === 'all' ? ref.compare(map) : ref.measure(name, map));
      }, 5, 1);
      times.push(`${name === 'all' ? 'all four' : name} ${fmt2(ms / maps.length)}`);
    }
    lines.push(`  ${side}×${side}: ${times.join(', ')}`);
  }
  return lines;
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
  const methodMsPerMap = cascade.methods / maps.length;
  return [
    `${name}: ${steps} steps × ${METHODS.length} methods (${METHODS.map((m) => m.id).join(', ')}), one ${h}×${w} image, best of ${pairs}, backend ${tf.getBackend()}`,
    `  full cascade                         ${(cascade.total / 1000).toFixed(2)} s`,
    `  same runs on the fixed model         ${(fixed / 1000).toFixed(2)} s   (${fmt(fixed / steps / METHODS.length)} per run)`,
    `  cascade ÷ fixed-model runs           ${ratio(cascade.total, fixed)}   target ≤ 1.2`,
    `  cascade ÷ its own method runs        ${ratio(cascade.total, cascade.methods)}   (same run: ${(cascade.methods / 1000).toFixed(2)} s in the methods, ${fmt(methodMsPerMap)} per run)`,
    `  similarity measures on the cascade's ${maps.length} maps, measured apart:`,
    ...similarityLines(similarity, maps.length, cascade.total, methodMsPerMap),
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
    lines.push(...await similarityByResolution());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

/**
 * TCAV: seconds for 20 runs × 3 concepts × 2 layers with 50 images per set on the demo model,
 * split into activations, CAV training and directional derivatives, and how many CAVs each run
 * trained; the second run with warm activation and CAV caches ÷ the first, and a third as from a
 * new process (image hashes not remembered); and the activations phase ÷ its floor, plain batched
 * forward passes over the same (already decoded) images. `--only tcav-memory` adds the memory
 * case: 500 images per set at MobileNetV2's last 7×7×1280 activation (random weights), peak
 * resident memory.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { loadModel, type LoadedModel } from '../src/extension/model/load';
import { fsSaveHandler } from '../src/extension/model/fs-io';
import { loadModelInput } from '../src/extension/image/decode';
import { preprocess } from '../src/extension/image/preprocess';
import { autoBatchSize } from '../src/extension/explain/batch-size';
import { readExperiment } from '../src/extension/tcav/experiment';
import { runTcav } from '../src/extension/tcav/run-tcav';
import { trainCav } from '../src/extension/tcav/cav';
import { forgetImageHashes } from '../src/extension/tcav/activation-cache';
import type { TcavResult } from '../src/shared/tcav';
import { makeBackgroundImage, makeShapeImage, mulberry32 } from '../demo/synthetic';
import { buildMobileNetV2 } from './mobilenet-v2';
import { ratio } from './timing';

function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

async function writeImages(dir: string, count: number, size: number, make: () => Uint8Array): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const px = make();
    const s = Math.round(Math.sqrt(px.length / 3));
    let img = sharp(Buffer.from(px), { raw: { width: s, height: s, channels: 3 } });
    if (s !== size) img = img.resize(size, size);
    await img.png({ compressionLevel: 1 }).toFile(path.join(dir, `${String(i).padStart(4, '0')}.png`));
  }
}

/** class/, concepts/{circles,squares,triangles}/, random/ of synthetic demo images. */
async function makeExperiment(dir: string, o: { perSet: number; runs: number; layers: string[]; model: string; size: number; concepts: number }): Promise<string> {
  const rng = mulberry32(11);
  await writeImages(path.join(dir, 'class'), o.perSet, o.size, () => makeShapeImage(rng, 64, { label: 0 }).pixels);
  const names = ['circles', 'squares', 'triangles'].slice(0, o.concepts);
  for (const [label, name] of names.entries()) await writeImages(path.join(dir, 'concepts', name), o.perSet, o.size, () => makeShapeImage(rng, 64, { label }).pixels);
  await writeImages(path.join(dir, 'random'), (o.runs + 1) * o.perSet, o.size, () => makeBackgroundImage(rng, 64));
  const file = path.join(dir, 'experiment.json');
  fs.writeFileSync(file, JSON.stringify({ model: o.model, target: 0, concepts: names, layers: o.layers, runs: o.runs, imagesPerSet: o.perSet }));
  return file;
}

/** Plain batched forward passes to each layer over the experiment's example images, decoded beforehand. */
async function forwardFloorSeconds(model: LoadedModel, files: string[], layers: string[]): Promise<number> {
  const { adapter } = model;
  const [h, w, c] = adapter.inputShape;
  const bs = autoBatchSize(adapter, 'forward');
  const batches: tf.Tensor4D[] = [];
  for (let i = 0; i < files.length; i += bs) {
    const chunk = files.slice(i, i + bs);
    const px = new Float32Array(chunk.length * h * w * c);
    for (const [k, f] of chunk.entries()) px.set((await loadModelInput(f, { height: h, width: w, channels: 3 })).pixels, k * h * w * c);
    batches.push(tf.tidy(() => preprocess(tf.tensor4d(px, [chunk.length, h, w, c]), model.preprocess ?? 'unit')));
  }
  const t0 = performance.now();
  for (const layer of layers) for (const x of batches) { const a = adapter.activations(x, layer); await a.data(); a.dispose(); }
  const s = (performance.now() - t0) / 1000;
  tf.dispose(batches);
  return s;
}

const split = (r: TcavResult) =>
  `${r.timings.total.toFixed(1)} s (activations ${r.timings.activations.toFixed(1)} s, CAVs ${r.timings.cavs.toFixed(1)} s, derivatives ${r.timings.derivatives.toFixed(1)} s; ${r.cache.computed} computed, ${r.cache.hits} cached)`;

/** runTcav that also says how many CAVs it trained (the rest came from the CAV cache). */
async function timedRun(opts: Parameters<typeof runTcav>[0]): Promise<{ result: TcavResult; trained: number }> {
  let trained = 0;
  const result = await runTcav({ ...opts, trainCav: (...args) => { trained++; return trainCav(...args); } });
  return { result, trained };
}

const cavCount = (r: TcavResult) => r.layers.length * r.runs * (r.cells.length / r.layers.length + 1);

export async function benchTcav(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-tcav-bench-'));
  try {
    const modelFile = path.join(repoRoot(), 'demo', 'models', 'shapes', 'model.json');
    const file = await makeExperiment(dir, { perSet: 50, runs: 20, layers: ['block2_conv2', 'last_conv'], model: modelFile, size: 64, concepts: 3 });
    const model = await loadModel(modelFile);
    try {
      const exp = readExperiment(file);
      const cold = await timedRun({ experiment: exp, model, preprocess: model.preprocess ?? 'unit' });
      const warm = await timedRun({ experiment: exp, model, preprocess: model.preprocess ?? 'unit' });
      forgetImageHashes();
      const fresh = await timedRun({ experiment: exp, model, preprocess: model.preprocess ?? 'unit' });
      const cavs = (run: typeof cold) => `${run.trained} of ${cavCount(run.result)} CAVs trained`;
      const examples = [...new Set([...exp.concepts.flatMap((x) => x.images), ...exp.randomSets.flat()])];
      const floor = await forwardFloorSeconds(model, examples, exp.layers);
      return [
        `TCAV on the demo model, ${exp.runs} runs × ${exp.concepts.length} concepts × ${exp.layers.length} layers, ${exp.imagesPerSet} images per set (${examples.length} example images, ${exp.classImages.length} class images):`,
        `  cold cache  ${split(cold.result)}; ${cavs(cold)}`,
        `  warm cache  ${split(warm.result)}; ${cavs(warm)}`,
        `  warm ÷ cold ${ratio(warm.result.timings.total, cold.result.timings.total)}`,
        `  warm cache, image hashes not remembered (a rerun in a new process, as from the CLI) ${split(fresh.result)}; ${cavs(fresh)}; ÷ cold ${ratio(fresh.result.timings.total, cold.result.timings.total)}`,
        `  activations ÷ plain batched forward passes over the same decoded images ${ratio(cold.result.timings.activations, floor)} (${floor.toFixed(2)} s; the rest is decoding and writing the cache)`,
      ];
    } finally {
      model.adapter.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchTcavMemory(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-tcav-mem-'));
  try {
    const modelDir = path.join(dir, 'mobilenet');
    const net = buildMobileNetV2();
    await net.save(fsSaveHandler(modelDir));
    net.dispose();
    const modelFile = path.join(modelDir, 'model.json');
    const file = await makeExperiment(dir, { perSet: 500, runs: 2, layers: ['Conv_1_relu'], model: modelFile, size: 224, concepts: 1 });
    const model = await loadModel(modelFile);
    try {
      const rss0 = process.memoryUsage().rss;
      const r = await runTcav({ experiment: readExperiment(file), model, preprocess: 'symmetric' });
      const peak = process.resourceUsage().maxRSS * 1024;
      return [
        `TCAV memory, MobileNetV2 (random weights) at Conv_1_relu 7×7×1280, 500 images per set, ${r.runs} runs, 1 concept:`,
        `  ${split(r)}`,
        `  resident memory before ${(rss0 / 1e6).toFixed(0)} MB, peak ${(peak / 1e6).toFixed(0)} MB; one set's activations are ${(500 * 7 * 7 * 1280 * 4 / 1e6).toFixed(0)} MB`,
      ];
    } finally {
      model.adapter.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

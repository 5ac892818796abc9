/**
 * Makes the demo workspace's fixtures: trains the shapes model on synthetic images (see
 * synthetic.ts) and writes
 *
 *   demo/models/shapes/{model.json, weights.bin, labels.txt, metadata.json}
 *   demo/images/<class>-<n>.{png,jpg} and demo/images/boxes.json
 *
 * and its data-randomization twin for sanity checks (Adebayo et al. 2018, "Sanity Checks for
 * Saliency Maps"): the same network, initial weights and training images, trained the same way on
 * a seeded permutation of the training labels, so its labels say nothing about its images:
 *
 *   demo/models/shapes-random-labels/{model.json, weights.bin, labels.txt, metadata.json}
 *
 * and the attention demo models (attention-fixture.ts, data from attention-data.ts): a tiny ViT
 * whose class is decided by one image patch, with sample images, and a token Transformer that
 * looks for one word:
 *
 *   demo/models/tiny-vit/{model.json, weights.bin, labels.txt, metadata.json}
 *   demo/vit-images/<class>-<n>.png and demo/vit-images/patches.json
 *   demo/models/token-marker/{model.json, weights.bin, labels.txt, metadata.json}
 *
 * and the demo TCAV experiment (Kim et al. 2018; tcav-fixture.ts, data from tcav-data.ts): a
 * small CNN trained on shapes where every square, and only squares, sits on stripes, with the
 * experiment's class, concept (striped, dotted) and random images:
 *
 *   demo/tcav/{experiment.json, model/, class/, concepts/striped/, concepts/dotted/, random/}
 *
 * Everything is seeded (data, initial weights, shuffling, the permutation), so a run on the same
 * backend gives the same models. Usage (from the repository root):
 *
 *   npm run fixtures                      full run on the wasm backend, every part (about 19 minutes)
 *   node dist/fixtures.js --only main     the shapes model and the sample images only (about 6 minutes)
 *   node dist/fixtures.js --only random-labels
 *                                         the random-labels twin only (about 6 minutes); the
 *                                         shapes model and the images are left as they are
 *   node dist/fixtures.js --only vit      the tiny ViT and its sample images only (about 4 minutes)
 *   node dist/fixtures.js --only tokens   the token model only (under a minute)
 *   node dist/fixtures.js --only tcav     the TCAV experiment only (about a minute)
 *   node dist/fixtures.js --quick         smoke test: a tiny run written to <tmpdir>/xai-lens-fixtures-quick
 *   node dist/fixtures.js --quick --backend cpu
 *                                         the same on the pure-JS backend, ~100× slower to train
 *                                         (its filter gradient is naive): a full run would take hours
 *
 * Options: --backend cpu|wasm, --quick, --only main|random-labels|vit|tokens|tcav, --seed N, --out DIR,
 * --epochs N, --twin-epochs N (the twin's epochs; default --epochs), --train N (training images),
 * --val N (validation images), --batch-size N, --lr X (peak Adam learning rate). The vit and
 * tokens parts take --backend, --quick, --seed and --out; their training settings are their own
 * (VIT_TRAINING and TOKEN_TRAINING in attention-fixture.ts). So does the tcav part (seed + 100;
 * TCAV_TRAINING in tcav-fixture.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeBackend, initBackend } from '../src/extension/backend/backends';
import { fsLoadHandler, fsSaveHandler } from '../src/extension/model/fs-io';
import { buildShapesNet, sigmoidTraining } from './models';
import { makeTokenFixture, makeVitFixture } from './attention-fixture';
import { makeTcavFixture } from './tcav-fixture';
import { makeBackgroundImage, makeShapeBatch, makeShapeImage, mulberry32, SHAPE_CLASSES, shuffleInPlace, toUnit, type Box, type ShapeBatch } from './synthetic';
import { repoRoot } from './repo-root';

const INPUT_SIZE = 64;
const DEFAULT_SEED = 20240611;

/**
 * What a run makes: the shapes model (with the sample images), its random-labels twin, the tiny
 * ViT (with its sample images), the token model and the TCAV experiment.
 */
type Part = 'main' | 'random-labels' | 'vit' | 'tokens' | 'tcav';
const PARTS: readonly Part[] = ['main', 'random-labels', 'vit', 'tokens', 'tcav'];

interface Options {
  backend: 'cpu' | 'wasm';
  quick: boolean;
  /** The parts to make (default: all). */
  parts: Part[];
  seed: number;
  out: string;
  epochs: number;
  /** Epochs of the random-labels twin: `epochs` unless --twin-epochs says otherwise. */
  twinEpochs: number;
  train: number;
  val: number;
  batchSize: number;
  lr: number;
}


function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  let twinEpochs: number | undefined;
  const o: Options = {
    backend: 'wasm',
    quick,
    parts: [...PARTS],
    seed: DEFAULT_SEED,
    out: quick ? path.join(os.tmpdir(), 'xai-lens-fixtures-quick') : path.join(repoRoot(), 'demo'),
    epochs: quick ? 1 : 4,
    twinEpochs: 0, // set below
    train: quick ? 96 : 5000,
    val: quick ? 64 : 1000,
    batchSize: 16,
    lr: 5e-3,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${a} needs a positive integer, got ${v}`);
      return n;
    };
    if (a === '--quick') continue;
    else if (a === '--backend') {
      const b = value();
      if (b !== 'cpu' && b !== 'wasm') throw new Error(`--backend must be cpu or wasm, got ${b}`);
      o.backend = b;
    } else if (a === '--only') {
      const p = value();
      if (!(PARTS as readonly string[]).includes(p)) throw new Error(`--only must be ${PARTS.join(' or ')}, got ${p}`);
      o.parts = [p as Part];
    } else if (a === '--seed') o.seed = int();
    else if (a === '--out') o.out = path.resolve(value());
    else if (a === '--epochs') o.epochs = int();
    else if (a === '--twin-epochs') twinEpochs = int();
    else if (a === '--train') o.train = int();
    else if (a === '--val') o.val = int();
    else if (a === '--batch-size') o.batchSize = int();
    else if (a === '--lr') {
      o.lr = Number(value());
      if (!(o.lr > 0)) throw new Error('--lr needs a positive number');
    }
    else throw new Error(`unknown option ${a}`);
  }
  o.twinEpochs = twinEpochs ?? o.epochs;
  return o;
}

/** The images of a batch at `indices`, as a [n, s, s, 3] tensor scaled to [0, 1]. */
function imagesTensor(b: ShapeBatch, indices: ArrayLike<number>): tf.Tensor4D {
  const n = b.size * b.size * 3;
  const data = new Float32Array(indices.length * n);
  for (let k = 0; k < indices.length; k++) {
    const src = indices[k] * n;
    for (let j = 0; j < n; j++) data[k * n + j] = b.pixels[src + j] / 255;
  }
  return tf.tensor4d(data, [indices.length, b.size, b.size, 3]);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Predicted class per image, in batches. */
async function predictClasses(model: tfl.LayersModel, b: ShapeBatch): Promise<Int32Array> {
  const count = b.labels.length;
  const out = new Int32Array(count);
  for (let i = 0; i < count; i += 100) {
    const idx = range(i, Math.min(count, i + 100));
    const x = imagesTensor(b, idx);
    const p = model.predict(x) as tf.Tensor2D;
    const am = tf.argMax(p, 1);
    out.set(await am.data(), i);
    tf.dispose([x, p, am]);
  }
  return out;
}

async function accuracy(model: tfl.LayersModel, b: ShapeBatch): Promise<number> {
  const pred = await predictClasses(model, b);
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === b.labels[i]) ok++;
  return ok / pred.length;
}

/** Cosine decay from `lr0` to 2% of it over the run, after a one-epoch linear warm-up from 10%. */
function learningRate(lr0: number, step: number, total: number, warmup: number): number {
  if (step < warmup) return lr0 * (0.1 + (0.9 * step) / warmup);
  const t = (step - warmup) / Math.max(1, total - warmup);
  return lr0 * (0.02 + 0.98 * 0.5 * (1 + Math.cos(Math.PI * t)));
}

/**
 * The training set: `count` shape images, then a quarter as many shape-free ones (label -1, a
 * target of all zeros). `boxes` holds the shape images' boxes only. Training shuffles it.
 */
function makeTrainingSet(seed: number, count: number): ShapeBatch {
  const rng = mulberry32(seed);
  const shapes = makeShapeBatch(rng, count, INPUT_SIZE);
  const empty = Math.round(count / 4);
  const n = INPUT_SIZE * INPUT_SIZE * 3;
  const pixels = new Uint8Array((count + empty) * n);
  pixels.set(shapes.pixels);
  const labels = new Int32Array(count + empty);
  labels.set(shapes.labels);
  for (let i = 0; i < empty; i++) {
    pixels.set(makeBackgroundImage(rng, INPUT_SIZE), (count + i) * n);
    labels[count + i] = -1;
  }
  return { pixels, labels, boxes: shapes.boxes, size: INPUT_SIZE };
}

/**
 * Fraction of the images with a class label (label ≥ 0) whose predicted class is that label; the
 * shape-free images' label -1 has no class to predict and is left out.
 */
function labelledAccuracy(pred: Int32Array, labels: Int32Array): { accuracy: number; count: number } {
  let ok = 0;
  let count = 0;
  for (let i = 0; i < pred.length; i++) {
    if (labels[i] < 0) continue;
    count++;
    if (pred[i] === labels[i]) ok++;
  }
  return { accuracy: ok / Math.max(1, count), count };
}

/**
 * `onEpoch`, when given, adds to each epoch's log line (it runs after the trained head is copied
 * into `model`).
 */
async function train(model: tfl.LayersModel, data: ShapeBatch, val: ShapeBatch, o: Options, onEpoch?: () => Promise<string>): Promise<void> {
  const { trainModel, commit } = sigmoidTraining(model);
  const optimizer = tf.train.adam(o.lr);
  // Adam has no public setter; its learning rate is a plain field read on every step.
  const setLr = (lr: number) => {
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
  };
  trainModel.compile({ optimizer, loss: 'binaryCrossentropy' });
  const shuffleRng = mulberry32(o.seed + 3);
  const chunk = 1024; // images per fit() call: bounds the memory of the float copy
  const stepsPerEpoch = Math.ceil(data.labels.length / o.batchSize);
  const totalSteps = stepsPerEpoch * o.epochs;
  let step = 0;
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    const t0 = Date.now();
    const order = shuffleInPlace(shuffleRng, range(0, data.labels.length));
    let lossSum = 0;
    let seen = 0;
    for (let i = 0; i < order.length; i += chunk) {
      const idx = order.slice(i, i + chunk);
      const x = imagesTensor(data, idx);
      // oneHot gives all zeros for the shape-free images' label -1.
      const y = tf.oneHot(tf.tensor1d(idx.map((k) => data.labels[k]), 'int32'), SHAPE_CLASSES.length);
      let batchInChunk = 0;
      const h = await trainModel.fit(x, y, {
        batchSize: o.batchSize,
        epochs: 1,
        shuffle: false,
        verbose: 0,
        callbacks: {
          onBatchBegin: async () => {
            setLr(learningRate(o.lr, step + batchInChunk, totalSteps, stepsPerEpoch));
            batchInChunk++;
          },
        },
      });
      step += batchInChunk;
      lossSum += (h.history.loss[0] as number) * idx.length;
      seen += idx.length;
      tf.dispose([x, y]);
    }
    commit();
    const valAcc = await accuracy(model, val);
    const extra = onEpoch ? `, ${await onEpoch()}` : '';
    console.log(
      `epoch ${epoch}/${o.epochs}: loss ${(lossSum / seen).toFixed(4)}, val acc ${(valAcc * 100).toFixed(1)}%${extra}, ` +
        `${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
  }
}

function encodeImage(pixels: Uint8Array, size: number, file: string): Promise<unknown> {
  const img = sharp(Buffer.from(pixels), { raw: { width: size, height: size, channels: 3 } });
  return (file.endsWith('.jpg') ? img.jpeg({ quality: 92 }) : img.png()).toFile(file);
}

/** Three images per class (the third of two classes as JPEG) and boxes.json. */
async function writeSamples(model: tfl.LayersModel, dir: string, seed: number): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const rng = mulberry32(seed);
  const boxes: Record<string, { label: string; box: Box }> = {};
  for (let n = 1; n <= 3; n++) {
    for (let label = 0; label < SHAPE_CLASSES.length; label++) {
      const im = makeShapeImage(rng, INPUT_SIZE, { label });
      const name = SHAPE_CLASSES[label];
      const file = `${name}-${n}.${n === 3 && label !== 1 ? 'jpg' : 'png'}`;
      await encodeImage(im.pixels, INPUT_SIZE, path.join(dir, file));
      boxes[file] = { label: name, box: im.box };
      const p = tf.tidy(() => model.predict(tf.tensor4d(toUnit(im.pixels), [1, INPUT_SIZE, INPUT_SIZE, 3])) as tf.Tensor);
      const probs = Array.from(await p.data());
      p.dispose();
      const best = probs.indexOf(Math.max(...probs));
      console.log(`  ${file}: predicted ${SHAPE_CLASSES[best]} (${(probs[best] * 100).toFixed(1)}%)`);
    }
  }
  fs.writeFileSync(path.join(dir, 'boxes.json'), JSON.stringify(boxes, null, 2) + '\n');
}

interface ModelInfo {
  description: string;
  /** Keys written after the common ones. */
  extra?: Record<string, unknown>;
}

/** Saves `model` with its labels.txt and metadata.json (the same for both models but for `info`). */
async function writeModel(model: tfl.LayersModel, dir: string, seed: number, info: ModelInfo): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(fsSaveHandler(dir));
  fs.writeFileSync(path.join(dir, 'labels.txt'), SHAPE_CLASSES.join('\n') + '\n');
  const metadata = {
    labels: [...SHAPE_CLASSES],
    preprocess: 'unit',
    inputSize: [INPUT_SIZE, INPUT_SIZE],
    description: info.description,
    seed,
    ...info.extra,
  };
  fs.writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify(metadata, null, 2) + '\n');
}

function lastSpatial(model: tfl.LayersModel): string {
  const s = model.getLayer('last_conv').outputShape as number[];
  return `${s[1]}x${s[2]}x${s[3]}`;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The shapes model, trained on the true labels, and the sample images it is checked on. */
async function makeMainModel(data: ShapeBatch, val: ShapeBatch, o: Options): Promise<string> {
  const model = buildShapesNet(INPUT_SIZE, SHAPE_CLASSES.length, o.seed + 2);
  console.log(`model ${model.name}: ${model.countParams()} parameters`);
  const t = Date.now();
  await train(model, data, val, o);
  const trainSeconds = (Date.now() - t) / 1000;
  const valAcc = await accuracy(model, val);
  console.log(`trained in ${trainSeconds.toFixed(0)} s; validation accuracy ${(valAcc * 100).toFixed(2)}% on ${o.val} images`);

  const modelDir = path.join(o.out, 'models', 'shapes');
  await writeModel(model, modelDir, o.seed, {
    description:
      'Demo model: which shape (circle, square, triangle) is drawn at a random place on a textured background. ' +
      `A small residual CNN with global average pooling; last spatial layer last_conv (${lastSpatial(model)}). ` +
      `Made by demo/make-fixtures.ts; validation accuracy ${(valAcc * 100).toFixed(1)}% on ${o.val} synthetic images.`,
  });
  model.dispose();

  // The saved model, loaded back, on images it has never seen.
  const loaded = await tfl.loadLayersModel(fsLoadHandler(modelDir));
  const fresh = makeShapeBatch(mulberry32(o.seed + 4), 200, INPUT_SIZE);
  const freshAcc = await accuracy(loaded, fresh);
  console.log(`saved model reloaded: accuracy ${(freshAcc * 100).toFixed(1)}% on 200 fresh images`);

  console.log('sample images:');
  await writeSamples(loaded, path.join(o.out, 'images'), o.seed + 5);
  loaded.dispose();
  const weightsKb = fs.statSync(path.join(modelDir, 'weights.bin')).size / 1024;
  return `${modelDir} (weights.bin ${weightsKb.toFixed(0)} KB) and ${path.join(o.out, 'images')}`;
}

/**
 * The training labels, permuted with their own seeded stream: every label, the shape-free
 * images' -1 included, goes to a random image, so the label counts stay the same and the labels
 * no longer depend on the images.
 */
export function permuteLabels(labels: Int32Array, seed: number): Int32Array {
  return Int32Array.from(shuffleInPlace(mulberry32(seed), Array.from(labels)));
}

/**
 * The data-randomization twin (Adebayo et al. 2018): the shapes model's architecture, initial
 * weights, training images, shuffling and optimiser, trained on permuted labels. Anything it has
 * learnt is about its particular training images, not about shapes, so an explanation method
 * whose maps look the same on it as on the shapes model is not explaining the model.
 */
async function makeRandomLabelsTwin(data: ShapeBatch, val: ShapeBatch, o: Options): Promise<string> {
  const permutationSeed = o.seed + 6;
  const randomData: ShapeBatch = { ...data, labels: permuteLabels(data.labels, permutationSeed) };
  let same = 0;
  for (let i = 0; i < data.labels.length; i++) if (randomData.labels[i] === data.labels[i]) same++;
  console.log(
    `random-labels twin: training labels permuted with seed ${permutationSeed} ` +
      `(${pct(same / data.labels.length)} of the images kept their label, as by chance)`,
  );
  const model = buildShapesNet(INPUT_SIZE, SHAPE_CLASSES.length, o.seed + 2);
  const trainAccuracy = async () => {
    const pred = await predictClasses(model, randomData);
    const permuted = labelledAccuracy(pred, randomData.labels);
    return {
      permuted: permuted.accuracy,
      count: permuted.count,
      // The same predictions against the images' true labels: chance, if the twin learnt no shapes.
      trueLabels: labelledAccuracy(pred, data.labels).accuracy,
    };
  };
  const t = Date.now();
  await train(model, randomData, val, { ...o, epochs: o.twinEpochs }, async () => {
    const a = await trainAccuracy();
    return `train acc ${pct(a.permuted)} on the permuted labels`;
  });
  const trainSeconds = (Date.now() - t) / 1000;
  const acc = await trainAccuracy();
  const valAcc = await accuracy(model, val);
  console.log(
    `random-labels twin trained in ${trainSeconds.toFixed(0)} s: training accuracy ${pct(acc.permuted)} on the permuted labels ` +
      `of the ${acc.count} training images given a class (${pct(acc.trueLabels)} of the shape images on their true labels); ` +
      `validation accuracy ${pct(valAcc)} on ${o.val} images (chance is 33.3%)`,
  );

  const modelDir = path.join(o.out, 'models', 'shapes-random-labels');
  await writeModel(model, modelDir, o.seed, {
    description:
      'Data-randomization twin of the shapes demo model (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"): ' +
      'the same network, initial weights and training images, trained the same way on randomly permuted labels, ' +
      `so it knows nothing about shapes. Last spatial layer last_conv (${lastSpatial(model)}). ` +
      `Made by demo/make-fixtures.ts; training accuracy ${pct(acc.permuted)} on the permuted labels ` +
      `after ${o.twinEpochs} epochs, validation accuracy ${pct(valAcc)} on ${o.val} synthetic images (chance 33.3%).`,
    extra: {
      randomLabels: {
        twinOf: 'shapes',
        permutationSeed,
        epochs: o.twinEpochs,
        trainAccuracy: Number(acc.permuted.toFixed(4)),
        validationAccuracy: Number(valAcc.toFixed(4)),
      },
    },
  });
  model.dispose();

  const loaded = await tfl.loadLayersModel(fsLoadHandler(modelDir));
  const fresh = makeShapeBatch(mulberry32(o.seed + 4), 200, INPUT_SIZE);
  console.log(`saved twin reloaded: accuracy ${pct(await accuracy(loaded, fresh))} on 200 fresh images (chance 33.3%)`);
  loaded.dispose();
  const weightsKb = fs.statSync(path.join(modelDir, 'weights.bin')).size / 1024;
  return `${modelDir} (weights.bin ${weightsKb.toFixed(0)} KB)`;
}

export async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  const started = Date.now();
  const report = await initBackend(o.backend);
  if (report.backend !== o.backend) {
    throw new Error(`the ${o.backend} backend is not available: ${describeBackend(report)}`);
  }
  if (o.backend === 'wasm' && !tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    throw new Error(
      'the wasm backend has no Conv2DBackpropFilter kernel (src/extension/backend/wasm-kernels registers none yet), ' +
        'so it cannot train; use --backend cpu (slow)',
    );
  }
  console.log(`backend ${tf.getBackend()}, seed ${o.seed}${o.quick ? ', quick run' : ''}, making ${o.parts.join(' and ')}, output ${o.out}`);

  const wrote: string[] = [];
  if (o.parts.includes('main') || o.parts.includes('random-labels')) {
    // Separate streams, so changing the size of one set leaves the others as they are.
    const t = Date.now();
    const data = makeTrainingSet(o.seed, o.train);
    const val = makeShapeBatch(mulberry32(o.seed + 1), o.val, INPUT_SIZE);
    console.log(`generated ${data.labels.length} training (${o.train} with a shape) and ${o.val} validation images in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    // Each model is built, trained and checked from the seeds alone, so either can be made without
    // the other and comes out the same.
    if (o.parts.includes('main')) wrote.push(await makeMainModel(data, val, o));
    if (o.parts.includes('random-labels')) wrote.push(await makeRandomLabelsTwin(data, val, o));
  }
  // The attention models have their own seeds (seed + 200, seed + 300) and data.
  if (o.parts.includes('vit')) wrote.push(await makeVitFixture({ out: o.out, seed: o.seed, quick: o.quick }));
  if (o.parts.includes('tokens')) wrote.push(await makeTokenFixture({ out: o.out, seed: o.seed, quick: o.quick }));
  // The TCAV experiment has its own seed (seed + 100), data and training settings.
  if (o.parts.includes('tcav')) wrote.push(await makeTcavFixture({ out: o.out, seed: o.seed, quick: o.quick }));
  console.log(`wrote ${wrote.join(' and ')} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

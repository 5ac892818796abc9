/**
 * The demo TCAV experiment (demo/tcav): a small CNN trained on synthetic shapes where every
 * square, and only squares, sits on stripes (tcav-data.ts), so the model learns the planted
 * shortcut "stripes → square". The experiment asks TCAV (Kim et al. 2018) whether "square" is
 * sensitive to "striped" (it must be) and to "dotted" (dots are in half of every class's images:
 * it must not be). Writes, from the seed alone:
 *
 *   tcav/model/{model.json, weights.bin, labels.txt, metadata.json}
 *   tcav/experiment.json
 *   tcav/class/square-NN.png              class images: squares on stripes, as in training
 *   tcav/concepts/striped/striped-NN.png  the planted concept: random scenes on stripes
 *   tcav/concepts/dotted/dotted-NN.png    the unrelated concept: random scenes with dots
 *   tcav/random/random-NNN.png            (runs + 1) × imagesPerSet random counterexamples
 *
 * and checks the shortcut on fresh images (accuracy on squares without their stripes, how often
 * circles and triangles on stripes are called "square"), recorded in metadata.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TcavExperimentFile } from '../src/shared/tcav';
import { fsLoadHandler, fsSaveHandler } from '../src/extension/model/fs-io';
import { sigmoidTraining } from './models';
import { shuffleInPlace } from './synthetic';
import {
  makeDottedImage, makeRandomImage, makeSquareImage, makeStripedImage, makeTrainingImage, mulberry32, NO_CLASS, SHAPE_CLASSES, SQUARE,
  TCAV_INPUT_SIZE, type Rng,
} from './tcav-data';

/** The TCAV model's seed is the fixtures' seed plus this, so it shares no stream with the other models. */
export const TCAV_SEED_OFFSET = 100;

/**
 * The experiment: two concepts at two layers, 10 runs of 30 images. The layers are the two
 * middle convolutions. Not conv4, the last: with a GAP → dense head the gradient of a logit
 * with respect to the last conv's output is the same for every image, so every class image gets
 * the same directional derivative and each run's score is 0 or 1.
 */
export const TCAV_EXPERIMENT: TcavExperimentFile = {
  model: 'model/model.json',
  target: 'square',
  classImages: 'class',
  conceptsDir: 'concepts',
  concepts: ['striped', 'dotted'],
  random: 'random',
  layers: ['conv2', 'conv3'],
  runs: 20,
  imagesPerSet: 30,
  seed: 0,
};

export interface TcavTrainingOptions {
  /** Shape images (a third per class); a quarter as many shape-free ones are added. */
  train: number;
  val: number;
  epochs: number;
  batchSize: number;
  /** Peak Adam learning rate. */
  lr: number;
  /** Targets are ε and 1 − ε instead of 0 and 1. */
  labelSmoothing: number;
}

/**
 * Label smoothing (ε = 0.05) pins every training image's logits near ±log((1 − ε)/ε) ≈ ±2.9:
 * images of a class with and without dots are pushed to the same logits, so the model learns to
 * ignore the dots. Seven epochs: long enough for 95–99% validation accuracy, short enough that
 * the model leans on the stripes more than on the square's outline.
 */
export const TCAV_TRAINING: TcavTrainingOptions = { train: 3000, val: 600, epochs: 7, batchSize: 32, lr: 0.01, labelSmoothing: 0.05 };
const QUICK_TRAINING: TcavTrainingOptions = { ...TCAV_TRAINING, train: 96, val: 48, epochs: 1 };

/**
 * The network, seeded: four 3×3 ReLU convolutions, each of the first three followed by 2×2 max
 * pooling, then global average pooling and a dense softmax head (33k parameters).
 *
 *   image 32×32×3 → conv1 32×32×16 → pool1 → conv2 16×16×32 → pool2 → conv3 8×8×32 → pool3
 *   → conv4 4×4×64 → gap → predictions
 *
 * The pooling after conv2 and conv3 routes each image's gradient through its own maxima, so the
 * class images' gradients at those layers differ from image to image.
 */
export function buildTcavNet(seed: number, size = TCAV_INPUT_SIZE): tfl.LayersModel {
  let nextSeed = seed >>> 0;
  const conv = (name: string, filters: number) =>
    tfl.layers.conv2d({ name, filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: nextSeed++ }) });
  const pool = (name: string) => tfl.layers.maxPooling2d({ name, poolSize: 2 });
  const input = tfl.input({ name: 'image', shape: [size, size, 3] });
  let x = conv('conv1', 16).apply(input) as tfl.SymbolicTensor;
  x = pool('pool1').apply(x) as tfl.SymbolicTensor;
  x = conv('conv2', 32).apply(x) as tfl.SymbolicTensor;
  x = pool('pool2').apply(x) as tfl.SymbolicTensor;
  x = conv('conv3', 32).apply(x) as tfl.SymbolicTensor;
  x = pool('pool3').apply(x) as tfl.SymbolicTensor;
  x = conv('conv4', 64).apply(x) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers
    .dense({ name: 'predictions', units: SHAPE_CLASSES.length, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: nextSeed++ }) })
    .apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ name: 'tcav_shapes_net', inputs: input, outputs: out });
}

/** Images back to back (count × size × size × 3) with one label each (NO_CLASS for shape-free). */
export interface ImageSet {
  pixels: Uint8Array;
  labels: Int32Array;
  size: number;
}

/**
 * `count` shape images, classes in turn (so balanced), then a quarter as many shape-free ones,
 * all from the one stream of `seed`.
 */
export function makeTcavTrainingSet(seed: number, count: number, size = TCAV_INPUT_SIZE): ImageSet {
  const rng = mulberry32(seed);
  const empty = Math.round(count / 4);
  const n = size * size * 3;
  const pixels = new Uint8Array((count + empty) * n);
  const labels = new Int32Array(count + empty);
  for (let i = 0; i < count + empty; i++) {
    const label = i < count ? i % SHAPE_CLASSES.length : NO_CLASS;
    pixels.set(makeTrainingImage(rng, label, {}, size).pixels, i * n);
    labels[i] = label;
  }
  return { pixels, labels, size };
}

/** A set of `count` images from `make`, all labelled `label`. */
export function makeImageSet(rng: Rng, count: number, label: number, make: (rng: Rng, size: number) => Uint8Array, size = TCAV_INPUT_SIZE): ImageSet {
  const n = size * size * 3;
  const pixels = new Uint8Array(count * n);
  for (let i = 0; i < count; i++) pixels.set(make(rng, size), i * n);
  return { pixels, labels: new Int32Array(count).fill(label), size };
}

/** The images at `indices` as a [k, s, s, 3] tensor scaled to [0, 1] (the `unit` preprocessing). */
export function imagesTensor(set: ImageSet, indices: ArrayLike<number>): tf.Tensor4D {
  const n = set.size * set.size * 3;
  const data = new Float32Array(indices.length * n);
  for (let k = 0; k < indices.length; k++) {
    const src = indices[k] * n;
    for (let j = 0; j < n; j++) data[k * n + j] = set.pixels[src + j] / 255;
  }
  return tf.tensor4d(data, [indices.length, set.size, set.size, 3]);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Predicted class per image, in batches of 200. */
export async function predictClasses(model: tfl.LayersModel, set: ImageSet): Promise<Int32Array> {
  const count = set.labels.length;
  const out = new Int32Array(count);
  for (let i = 0; i < count; i += 200) {
    const x = imagesTensor(set, range(i, Math.min(count, i + 200)));
    const am = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor2D, 1));
    out.set(await am.data(), i);
    tf.dispose([x, am]);
  }
  return out;
}

/** Fraction of the images predicted as `cls` (each image's own label when `cls` is absent). */
export async function fractionPredicted(model: tfl.LayersModel, set: ImageSet, cls?: number): Promise<number> {
  const pred = await predictClasses(model, set);
  let hits = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === (cls ?? set.labels[i])) hits++;
  return hits / pred.length;
}

/** Cosine decay from `lr0` to 2% of it, after a linear warm-up from 10% over `warmup` steps. */
function learningRate(lr0: number, step: number, total: number, warmup: number): number {
  if (step < warmup) return lr0 * (0.1 + (0.9 * step) / warmup);
  const t = (step - warmup) / Math.max(1, total - warmup);
  return lr0 * (0.02 + 0.98 * 0.5 * (1 + Math.cos(Math.PI * t)));
}

/**
 * One-vs-rest training (sigmoid copy of the head, binary cross-entropy; shape-free images are
 * negatives for every class), then the trained logits go into the softmax head. Each class logit
 * has to rise with evidence for its class, as in the shapes demo (models.ts). Shuffled by a
 * seeded stream, `fit` with shuffle off: the same seed gives the same weights.
 */
export async function trainTcavNet(model: tfl.LayersModel, data: ImageSet, val: ImageSet, o: TcavTrainingOptions, seed: number, log = console.log): Promise<void> {
  const { trainModel, commit } = sigmoidTraining(model);
  const optimizer = tf.train.adam(o.lr);
  const setLr = (lr: number) => {
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
  };
  trainModel.compile({ optimizer, loss: 'binaryCrossentropy' });
  const shuffleRng = mulberry32(seed);
  const chunk = 1024;
  const stepsPerEpoch = Math.ceil(data.labels.length / o.batchSize);
  const totalSteps = stepsPerEpoch * o.epochs;
  const eps = o.labelSmoothing;
  let step = 0;
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    const t0 = Date.now();
    const order = shuffleInPlace(shuffleRng, range(0, data.labels.length));
    let lossSum = 0;
    for (let i = 0; i < order.length; i += chunk) {
      const idx = order.slice(i, i + chunk);
      const x = imagesTensor(data, idx);
      // oneHot gives all zeros for the shape-free images' NO_CLASS (-1).
      const y = tf.tidy(() => tf.add(tf.mul(tf.oneHot(tf.tensor1d(idx.map((k) => data.labels[k]), 'int32'), SHAPE_CLASSES.length), 1 - 2 * eps), eps));
      let inChunk = 0;
      const h = await trainModel.fit(x, y, {
        batchSize: o.batchSize,
        epochs: 1,
        shuffle: false,
        verbose: 0,
        callbacks: {
          onBatchBegin: async () => {
            setLr(learningRate(o.lr, step + inChunk, totalSteps, stepsPerEpoch));
            inChunk++;
          },
        },
      });
      step += inChunk;
      lossSum += (h.history.loss[0] as number) * idx.length;
      tf.dispose([x, y]);
    }
    commit();
    const valAcc = await fractionPredicted(model, val);
    log(`  epoch ${epoch}/${o.epochs}: loss ${(lossSum / order.length).toFixed(4)}, val acc ${pct(valAcc)}, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  optimizer.dispose();
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const round4 = (x: number) => Number(x.toFixed(4));

/** How much the model relies on the stripes, and how little on the dots, on fresh images. */
export interface ShortcutChecks {
  /** Accuracy on squares on stripes (as in training). */
  squares: number;
  /** Accuracy on squares on stripe-free backgrounds. */
  squaresWithoutStripes: number;
  /** Circles on stripes called "square". */
  stripedCirclesCalledSquare: number;
  /** Triangles on stripes called "square". */
  stripedTrianglesCalledSquare: number;
  /** Shape-free images on stripes called "square". */
  stripesAloneCalledSquare: number;
  /** Striped concept images (random scenes on stripes) called "square". */
  stripedCalledSquare: number;
  /** Accuracy on training-like images of all three classes, all with dots. */
  accuracyWithDots: number;
  /** The same without dots. */
  accuracyWithoutDots: number;
  /** Random images (no stripes) called "square". */
  randomCalledSquare: number;
  /** Dotted concept images (random scenes with dots) called "square". */
  dottedCalledSquare: number;
  /** Images per check. */
  images: number;
}

export async function shortcutChecks(model: tfl.LayersModel, seed: number, count = 300): Promise<ShortcutChecks> {
  const rng = mulberry32(seed);
  const CIRCLE = SHAPE_CLASSES.indexOf('circle');
  const TRIANGLE = SHAPE_CLASSES.indexOf('triangle');
  const set = (label: number, stripes?: boolean) => makeImageSet(rng, count, label, (r, s) => makeTrainingImage(r, label, { stripes }, s).pixels);
  const mixed = (dots: boolean): ImageSet => {
    const n = TCAV_INPUT_SIZE * TCAV_INPUT_SIZE * 3;
    const labels = Int32Array.from({ length: count }, (_, i) => i % SHAPE_CLASSES.length);
    const pixels = new Uint8Array(count * n);
    labels.forEach((label, i) => pixels.set(makeTrainingImage(rng, label, { dots }).pixels, i * n));
    return { pixels, labels, size: TCAV_INPUT_SIZE };
  };
  return {
    squares: await fractionPredicted(model, set(SQUARE)),
    squaresWithoutStripes: await fractionPredicted(model, set(SQUARE, false)),
    stripedCirclesCalledSquare: await fractionPredicted(model, set(CIRCLE, true), SQUARE),
    stripedTrianglesCalledSquare: await fractionPredicted(model, set(TRIANGLE, true), SQUARE),
    stripesAloneCalledSquare: await fractionPredicted(model, set(NO_CLASS, true), SQUARE),
    stripedCalledSquare: await fractionPredicted(model, makeImageSet(rng, count, SQUARE, makeStripedImage), SQUARE),
    accuracyWithDots: await fractionPredicted(model, mixed(true)),
    accuracyWithoutDots: await fractionPredicted(model, mixed(false)),
    randomCalledSquare: await fractionPredicted(model, makeImageSet(rng, count, SQUARE, makeRandomImage), SQUARE),
    dottedCalledSquare: await fractionPredicted(model, makeImageSet(rng, count, SQUARE, makeDottedImage), SQUARE),
    images: count,
  };
}

function encodePng(pixels: Uint8Array, size: number, file: string): Promise<unknown> {
  return sharp(Buffer.from(pixels), { raw: { width: size, height: size, channels: 3 } }).png({ compressionLevel: 9 }).toFile(file);
}

/** Writes `count` images from `make` as <dir>/<prefix>-<n>.png, numbered from 0 with fixed width. */
async function writeImages(dir: string, prefix: string, count: number, rng: Rng, make: (rng: Rng, size: number) => Uint8Array): Promise<void> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const width = String(count - 1).length;
  for (let i = 0; i < count; i++) {
    await encodePng(make(rng, TCAV_INPUT_SIZE), TCAV_INPUT_SIZE, path.join(dir, `${prefix}-${String(i).padStart(width, '0')}.png`));
  }
}

/** Class and concept images per folder. */
export const TCAV_IMAGES_PER_FOLDER = 30;

/**
 * Writes the experiment's images from their own seeded streams (seed + 10 …): the class images,
 * both concepts and the (runs + 1) × imagesPerSet random images.
 */
export async function writeExperimentImages(dir: string, seed: number, experiment = TCAV_EXPERIMENT): Promise<void> {
  const randomCount = ((experiment.runs ?? 0) + 1) * (experiment.imagesPerSet ?? 0);
  await writeImages(path.join(dir, 'class'), 'square', TCAV_IMAGES_PER_FOLDER, mulberry32(seed + 10), makeSquareImage);
  await writeImages(path.join(dir, 'concepts', 'striped'), 'striped', TCAV_IMAGES_PER_FOLDER, mulberry32(seed + 11), makeStripedImage);
  await writeImages(path.join(dir, 'concepts', 'dotted'), 'dotted', TCAV_IMAGES_PER_FOLDER, mulberry32(seed + 12), makeDottedImage);
  await writeImages(path.join(dir, 'random'), 'random', randomCount, mulberry32(seed + 13), makeRandomImage);
}

export interface TcavFixtureOptions {
  /** The demo folder: the experiment goes to <out>/tcav. */
  out: string;
  /** The fixtures' seed; the TCAV model uses seed + TCAV_SEED_OFFSET. */
  seed: number;
  /** A tiny smoke-test training run. */
  quick: boolean;
  /** Overrides of the training defaults. */
  training?: Partial<TcavTrainingOptions>;
  log?: (line: string) => void;
}

/** `count` shape images for validation, classes in turn, from their own stream. */
export function makeTcavValidationSet(seed: number, count: number, size = TCAV_INPUT_SIZE): ImageSet {
  const rng = mulberry32(seed);
  const n = size * size * 3;
  const pixels = new Uint8Array(count * n);
  const labels = Int32Array.from({ length: count }, (_, i) => i % SHAPE_CLASSES.length);
  for (let i = 0; i < count; i++) pixels.set(makeTrainingImage(rng, labels[i], {}, size).pixels, i * n);
  return { pixels, labels, size };
}

/** Trains, checks and writes the demo TCAV experiment. Returns what it wrote, for the log. */
export async function makeTcavFixture(opts: TcavFixtureOptions): Promise<string> {
  const log = opts.log ?? console.log;
  const o: TcavTrainingOptions = { ...(opts.quick ? QUICK_TRAINING : TCAV_TRAINING), ...opts.training };
  const seed = opts.seed + TCAV_SEED_OFFSET;
  const dir = path.join(opts.out, 'tcav');
  const started = Date.now();

  // Separate streams: training set, validation set, initial weights, shuffling, checks, images.
  const data = makeTcavTrainingSet(seed, o.train);
  const val = makeTcavValidationSet(seed + 1, o.val);
  log(`tcav: ${data.labels.length} training images (${o.train} with a shape, every square striped) and ${o.val} validation images, seed ${seed}`);
  const model = buildTcavNet(seed + 2);
  log(`tcav: model ${model.name}, ${model.countParams()} parameters`);
  const t = Date.now();
  await trainTcavNet(model, data, val, o, seed + 3, log);
  const trainSeconds = (Date.now() - t) / 1000;
  const valAcc = await fractionPredicted(model, val);
  log(`tcav: trained in ${trainSeconds.toFixed(0)} s, validation accuracy ${pct(valAcc)} on ${o.val} images`);

  const modelDir = path.join(dir, 'model');
  fs.rmSync(modelDir, { recursive: true, force: true });
  await model.save(fsSaveHandler(modelDir));
  model.dispose();
  const loaded = await tfl.loadLayersModel(fsLoadHandler(modelDir));
  const checks = await shortcutChecks(loaded, seed + 4);
  loaded.dispose();
  log(
    `tcav: checks on ${checks.images} fresh images each (saved model): squares on stripes ${pct(checks.squares)} right, ` +
      `without stripes ${pct(checks.squaresWithoutStripes)}; called "square": circles on stripes ${pct(checks.stripedCirclesCalledSquare)}, ` +
      `triangles on stripes ${pct(checks.stripedTrianglesCalledSquare)}, stripes alone ${pct(checks.stripesAloneCalledSquare)}, ` +
      `striped images ${pct(checks.stripedCalledSquare)}, ` +
      `random images ${pct(checks.randomCalledSquare)}, dotted images ${pct(checks.dottedCalledSquare)}; ` +
      `accuracy with dots ${pct(checks.accuracyWithDots)}, without ${pct(checks.accuracyWithoutDots)}`,
  );
  fs.writeFileSync(path.join(modelDir, 'labels.txt'), SHAPE_CLASSES.join('\n') + '\n');
  const metadata = {
    labels: [...SHAPE_CLASSES],
    preprocess: 'unit',
    inputSize: [TCAV_INPUT_SIZE, TCAV_INPUT_SIZE],
    description:
      'Demo TCAV model: which shape (circle, square, triangle) is drawn on a background, trained on data where every square, and only squares, ' +
      'sits on stripes, so it relies on the stripes; dots are in half of every class\'s images. Four 3×3 conv layers (conv1 to conv4) with max pooling, ' +
      'global average pooling, dense softmax head. ' +
      `Made by demo/tcav-fixture.ts; validation accuracy ${pct(valAcc)} on ${o.val} synthetic images.`,
    seed,
    checks: Object.fromEntries(Object.entries(checks).map(([k, v]) => [k, k === 'images' ? v : round4(v)])),
  };
  fs.writeFileSync(path.join(modelDir, 'metadata.json'), JSON.stringify(metadata, null, 2) + '\n');

  fs.writeFileSync(path.join(dir, 'experiment.json'), JSON.stringify(TCAV_EXPERIMENT, null, 2) + '\n');
  await writeExperimentImages(dir, seed);
  const weightsKb = fs.statSync(path.join(modelDir, 'weights.bin')).size / 1024;
  log(`tcav: wrote ${dir} (weights.bin ${weightsKb.toFixed(0)} KB) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return dir;
}

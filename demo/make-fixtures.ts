/**
 * Makes the demo workspace's fixtures: trains the shapes model on synthetic images (see
 * synthetic.ts) and writes
 *
 *   demo/models/shapes/{model.json, weights.bin, labels.txt, metadata.json}
 *   demo/images/<class>-<n>.{png,jpg} and demo/images/boxes.json
 *
 * Everything is seeded (data, initial weights, shuffling), so a run on the same backend gives the
 * same model. Usage (from the repository root):
 *
 *   npm run fixtures                      full run on the wasm backend (about 6 minutes)
 *   node dist/fixtures.js --quick         smoke test: a tiny run written to <tmpdir>/xai-lens-fixtures-quick
 *   node dist/fixtures.js --quick --backend cpu
 *                                         the same on the pure-JS backend, ~100× slower to train
 *                                         (its filter gradient is naive): a full run would take hours
 *
 * Options: --backend cpu|wasm, --quick, --seed N, --out DIR, --epochs N, --train N (training images),
 * --val N (validation images), --batch-size N, --lr X (peak Adam learning rate).
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
import { makeBackgroundImage, makeShapeBatch, makeShapeImage, mulberry32, SHAPE_CLASSES, shuffleInPlace, toUnit, type Box, type ShapeBatch } from './synthetic';

const INPUT_SIZE = 64;
const DEFAULT_SEED = 20240611;

interface Options {
  backend: 'cpu' | 'wasm';
  quick: boolean;
  seed: number;
  out: string;
  epochs: number;
  train: number;
  val: number;
  batchSize: number;
  lr: number;
}

function repoRoot(): string {
  // dist/fixtures.js and out/demo/make-fixtures.js both sit below the folder with package.json.
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const o: Options = {
    backend: 'wasm',
    quick,
    seed: DEFAULT_SEED,
    out: quick ? path.join(os.tmpdir(), 'xai-lens-fixtures-quick') : path.join(repoRoot(), 'demo'),
    epochs: quick ? 1 : 4,
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
    } else if (a === '--seed') o.seed = int();
    else if (a === '--out') o.out = path.resolve(value());
    else if (a === '--epochs') o.epochs = int();
    else if (a === '--train') o.train = int();
    else if (a === '--val') o.val = int();
    else if (a === '--batch-size') o.batchSize = int();
    else if (a === '--lr') {
      o.lr = Number(value());
      if (!(o.lr > 0)) throw new Error('--lr needs a positive number');
    }
    else throw new Error(`unknown option ${a}`);
  }
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

async function train(model: tfl.LayersModel, data: ShapeBatch, val: ShapeBatch, o: Options): Promise<void> {
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
    console.log(
      `epoch ${epoch}/${o.epochs}: loss ${(lossSum / seen).toFixed(4)}, val acc ${(valAcc * 100).toFixed(1)}%, ` +
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
  console.log(`backend ${tf.getBackend()}, seed ${o.seed}${o.quick ? ', quick run' : ''}, output ${o.out}`);

  // Separate streams, so changing the size of one set leaves the others as they are.
  let t = Date.now();
  const data = makeTrainingSet(o.seed, o.train);
  const val = makeShapeBatch(mulberry32(o.seed + 1), o.val, INPUT_SIZE);
  console.log(`generated ${data.labels.length} training (${o.train} with a shape) and ${o.val} validation images in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const model = buildShapesNet(INPUT_SIZE, SHAPE_CLASSES.length, o.seed + 2);
  console.log(`model ${model.name}: ${model.countParams()} parameters`);
  t = Date.now();
  await train(model, data, val, o);
  const trainSeconds = (Date.now() - t) / 1000;
  const valAcc = await accuracy(model, val);
  console.log(`trained in ${trainSeconds.toFixed(0)} s; validation accuracy ${(valAcc * 100).toFixed(2)}% on ${o.val} images`);

  const lastShape = model.getLayer('last_conv').outputShape as number[];
  const lastSpatial = `${lastShape[1]}x${lastShape[2]}x${lastShape[3]}`;
  const modelDir = path.join(o.out, 'models', 'shapes');
  fs.mkdirSync(modelDir, { recursive: true });
  await model.save(fsSaveHandler(modelDir));
  fs.writeFileSync(path.join(modelDir, 'labels.txt'), SHAPE_CLASSES.join('\n') + '\n');
  const metadata = {
    labels: [...SHAPE_CLASSES],
    preprocess: 'unit',
    inputSize: [INPUT_SIZE, INPUT_SIZE],
    description:
      'Demo model: which shape (circle, square, triangle) is drawn at a random place on a textured background. ' +
      `A small residual CNN with global average pooling; last spatial layer last_conv (${lastSpatial}). ` +
      `Made by demo/make-fixtures.ts; validation accuracy ${(valAcc * 100).toFixed(1)}% on ${o.val} synthetic images.`,
    seed: o.seed,
  };
  fs.writeFileSync(path.join(modelDir, 'metadata.json'), JSON.stringify(metadata, null, 2) + '\n');
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
  console.log(`wrote ${modelDir} (weights.bin ${weightsKb.toFixed(0)} KB) and ${path.join(o.out, 'images')} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

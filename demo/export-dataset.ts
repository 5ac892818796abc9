/**
 * Exports the shapes demo's data for the PyTorch and Keras training scripts (demo/pytorch/train.py,
 * demo/keras/train.py) as NumPy `.npy` files, so that they train on exactly the images the TF.js
 * demo model was trained on (same generator, synthetic.ts, same seeds as make-fixtures.ts):
 *
 *   <out>/train_images.npy   uint8 [N, 64, 64, 3]  RGB, HWC, 0..255: 5000 shape images, then 1250
 *                                                   shape-free ones (make-fixtures.ts' training set)
 *   <out>/train_labels.npy   int32 [N]             0 circle, 1 square, 2 triangle; -1 shape-free
 *   <out>/train_boxes.npy    int32 [N, 4]          the shape's box x, y, w, h; -1s for shape-free
 *   <out>/val_images.npy, val_labels.npy, val_boxes.npy   1000 validation images (seed + 1)
 *   <out>/demo_images.npy    uint8 [9, 64, 64, 3]  demo/images/* decoded by XAI Lens' own decoder
 *                                                   (loadModelInput), in the order of
 *   <out>/demo_images.json                          their file names (sorted) and labels
 *
 * The default output, demo/.data/shapes/, is git-ignored (about 90 MB). Usage, from the
 * repository root:
 *
 *   npx esbuild demo/export-dataset.ts --bundle --platform=node --packages=external --outfile=dist/export-dataset.js
 *   node dist/export-dataset.js [--out DIR] [--seed N] [--train N] [--val N]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModelInput } from '../src/extension/image/decode';
import { makeBackgroundImage, makeShapeImage, mulberry32, SHAPE_CLASSES } from './synthetic';
import { repoRoot } from './repo-root';

const INPUT_SIZE = 64;
/** make-fixtures.ts' DEFAULT_SEED: the training set is seed, the validation set seed + 1. */
const DEFAULT_SEED = 20240611;

type Dtype = 'u1' | 'i4';

/** A version 1.0 `.npy` file, as `np.save` writes it (header padded to 64 bytes). */
function npy(data: Uint8Array | Int32Array, dtype: Dtype, shape: number[]): Buffer {
  const descr = dtype === 'u1' ? '|u1' : '<i4';
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${tuple}, }`;
  dict += ' '.repeat(21 - String(shape[0]).length);
  const unpadded = 10 + dict.length + 1;
  const header = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(header.length, 8);
  // Int32Array is little-endian on every platform Node runs on here.
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), body]);
}

interface Split {
  images: Uint8Array;
  labels: Int32Array;
  boxes: Int32Array;
}

/** `shapes` shape images then `empty` shape-free ones, all from one seeded stream (as make-fixtures.ts' makeTrainingSet). */
function makeSplit(seed: number, shapes: number, empty: number): Split {
  const rng = mulberry32(seed);
  const n = INPUT_SIZE * INPUT_SIZE * 3;
  const count = shapes + empty;
  const images = new Uint8Array(count * n);
  const labels = new Int32Array(count).fill(-1);
  const boxes = new Int32Array(count * 4).fill(-1);
  for (let i = 0; i < shapes; i++) {
    const im = makeShapeImage(rng, INPUT_SIZE);
    images.set(im.pixels, i * n);
    labels[i] = im.label;
    boxes.set([im.box.x, im.box.y, im.box.w, im.box.h], i * 4);
  }
  for (let i = shapes; i < count; i++) images.set(makeBackgroundImage(rng, INPUT_SIZE), i * n);
  return { images, labels, boxes };
}

function writeSplit(dir: string, name: string, s: Split): void {
  const count = s.labels.length;
  fs.writeFileSync(path.join(dir, `${name}_images.npy`), npy(s.images, 'u1', [count, INPUT_SIZE, INPUT_SIZE, 3]));
  fs.writeFileSync(path.join(dir, `${name}_labels.npy`), npy(s.labels, 'i4', [count]));
  fs.writeFileSync(path.join(dir, `${name}_boxes.npy`), npy(s.boxes, 'i4', [count, 4]));
}


async function main(argv: string[]): Promise<void> {
  const root = repoRoot();
  let out = path.join(root, 'demo', '.data', 'shapes');
  let seed = DEFAULT_SEED;
  let train = 5000;
  let val = 1000;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (a === '--out') out = path.resolve(v);
    else if (a === '--seed') seed = Number(v);
    else if (a === '--train') train = Number(v);
    else if (a === '--val') val = Number(v);
    else throw new Error(`unknown option ${a}`);
  }
  fs.mkdirSync(out, { recursive: true });
  const t = Date.now();
  writeSplit(out, 'train', makeSplit(seed, train, Math.round(train / 4)));
  writeSplit(out, 'val', makeSplit(seed + 1, val, 0));

  // The demo's sample images, decoded as XAI Lens decodes a model input (they are 64×64 already).
  const imagesDir = path.join(root, 'demo', 'images');
  const files = fs.readdirSync(imagesDir).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
  const boxes = JSON.parse(fs.readFileSync(path.join(imagesDir, 'boxes.json'), 'utf8')) as Record<string, { label: string }>;
  const n = INPUT_SIZE * INPUT_SIZE * 3;
  const pixels = new Uint8Array(files.length * n);
  for (let i = 0; i < files.length; i++) {
    const input = await loadModelInput(path.join(imagesDir, files[i]), { height: INPUT_SIZE, width: INPUT_SIZE, channels: 3 });
    if (input.original.width !== INPUT_SIZE || input.original.height !== INPUT_SIZE) {
      throw new Error(`${files[i]} is ${input.original.width}×${input.original.height}, not ${INPUT_SIZE}×${INPUT_SIZE}`);
    }
    for (let j = 0; j < n; j++) pixels[i * n + j] = input.pixels[j];
  }
  fs.writeFileSync(path.join(out, 'demo_images.npy'), npy(pixels, 'u1', [files.length, INPUT_SIZE, INPUT_SIZE, 3]));
  const classes: readonly string[] = SHAPE_CLASSES;
  const list = files.map((file) => ({ file, label: boxes[file]?.label, labelIndex: classes.indexOf(boxes[file]?.label ?? '') }));
  fs.writeFileSync(path.join(out, 'demo_images.json'), JSON.stringify({ seed, classes: SHAPE_CLASSES, images: list }, null, 2) + '\n');
  console.log(`wrote ${train + Math.round(train / 4)} training, ${val} validation and ${files.length} demo images to ${out} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}

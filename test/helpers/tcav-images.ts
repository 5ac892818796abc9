/**
 * Small TCAV experiments on disk for tests: seeded demo images (demo/synthetic.ts) written as
 * PNGs with sharp, in the workspace convention (class/, concepts/<name>/, random/, experiment.json).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { TcavExperimentFile } from '../../src/shared/tcav';
import { makeBackgroundImage, makeShapeImage, mulberry32, SHAPE_CLASSES } from '../../demo/synthetic';

export const IMAGE_SIZE = 64;

export async function writePng(file: string, pixels: Uint8Array, size = IMAGE_SIZE): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width: size, height: size, channels: 3 } }).png().toFile(file);
}

/** What a folder of images shows: one shape class, shape-free backgrounds, or a mix of both. */
export type ImageKind = (typeof SHAPE_CLASSES)[number] | 'background' | 'mixed';

/** Writes `count` seeded images `<prefix>-NN.png` into `dir`; returns their paths, sorted. */
export async function writeImages(dir: string, count: number, kind: ImageKind, seed: number, prefix: string = kind): Promise<string[]> {
  const rng = mulberry32(seed);
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const k = kind === 'mixed' ? (i % 4 === 3 ? 'background' : SHAPE_CLASSES[i % 3]) : kind;
    const pixels = k === 'background' ? makeBackgroundImage(rng, IMAGE_SIZE) : makeShapeImage(rng, IMAGE_SIZE, { label: SHAPE_CLASSES.indexOf(k) }).pixels;
    const file = path.join(dir, `${prefix}-${String(i).padStart(3, '0')}.png`);
    await writePng(file, pixels);
    files.push(file);
  }
  return files.sort();
}

export interface SmallExperimentOptions {
  /** Concept name → what its images show (default: circles and backgrounds). */
  concepts?: Record<string, ImageKind>;
  classCount?: number;
  conceptCount?: number;
  randomCount?: number;
  /** Merged into experiment.json. */
  json?: Partial<TcavExperimentFile>;
  seed?: number;
}

/**
 * A small experiment on the demo shapes model: 12 squares as class images, two concepts of 12
 * images, 40 random images; runs 3 × 10 images per set; layers block2_relu and gap (small, so CAVs train fast).
 */
export async function makeSmallExperiment(dir: string, o: SmallExperimentOptions = {}): Promise<string> {
  const seed = o.seed ?? 1;
  await writeImages(path.join(dir, 'class'), o.classCount ?? 12, 'square', seed);
  const concepts: Record<string, ImageKind> = o.concepts ?? { circles: 'circle', plain: 'background' };
  let k = 0;
  for (const [name, kind] of Object.entries(concepts)) {
    await writeImages(path.join(dir, 'concepts', name), o.conceptCount ?? 12, kind, seed * 1000 + ++k, name);
  }
  await writeImages(path.join(dir, 'random'), o.randomCount ?? 40, 'mixed', seed * 1000 + 999, 'random');
  const json: TcavExperimentFile = { target: 'square', layers: ['block2_relu', 'gap'], runs: 3, imagesPerSet: 10, seed: 5, ...o.json };
  const file = path.join(dir, 'experiment.json');
  fs.writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  return file;
}

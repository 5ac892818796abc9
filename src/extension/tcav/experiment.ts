/**
 * Reads a TCAV experiment file and resolves it against the workspace convention: a folder per
 * concept of example images, random counterexamples (one folder split into runs + 1 random
 * sets, or one folder per set), and a folder of class images. Every problem a person can fix is
 * a UserError that names the file or folder.
 *
 * Paths: `model`, `classImages`, `random` and `conceptsDir` are paths the user wrote, resolved
 * against the experiment's folder; they may lead anywhere the user can read (a model kept beside
 * the data, a shared image set), as a path given on the command line may. A concept, named in
 * `concepts` or found in the concepts folder, is the name of one folder directly in `conceptsDir`
 * (no `/` or `\`, not `.` or `..`). What a model reads beside itself is the model's rule
 * (model/side-files.ts): only files inside its folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../shared/errors';
import { jsonErrorDetail } from '../util/excerpt';
import type { TcavExperimentFile } from '../../shared/tcav';
import { isImageFile } from '../image/extensions';
import { mulberry32 } from '../util/seeded-random';

export const DEFAULT_RUNS = 20;
export const DEFAULT_IMAGES_PER_SET = 50;
export const DEFAULT_ALPHA = 0.05;

export interface ConceptSet {
  name: string;
  images: string[];
}

export interface ResolvedExperiment {
  file: string;
  dir: string;
  /** The experiment folder's name. */
  name: string;
  /** Absolute model.json (or folder) named by the file, if it names one. */
  model?: string;
  target: string | number;
  classImages: string[];
  concepts: ConceptSet[];
  /** runs + 1 sets: concept runs use sets 1..runs as counterexamples; the null's run r trains set r − 1 against set r. */
  randomSets: string[][];
  relative: [string, string][];
  layers: string[];
  runs: number;
  imagesPerSet: number;
  alpha: number;
  seed: number;
  warnings: string[];
}

export interface ExperimentOverrides {
  runs?: number;
}

function readJson(file: string): TcavExperimentFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read the experiment ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserError(`the experiment ${file} is not valid JSON: ${jsonErrorDetail(err, text)}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new UserError(`the experiment ${file} must be a JSON object`);
  return json as TcavExperimentFile;
}

function positiveInt(v: unknown, what: string, file: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new UserError(`${file}: "${what}" must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function stringList(v: unknown, what: string, file: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.some((s) => typeof s !== 'string' || s === '')) {
    throw new UserError(`${file}: "${what}" must be a non-empty list of names`);
  }
  return [...new Set(v as string[])];
}

function optionalString(v: unknown, what: string, file: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new UserError(`${file}: "${what}" must be a path (a string), got ${JSON.stringify(v)}`);
  return v;
}

function subfolders(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort();
}

/** The images directly in a folder, sorted; UserError when the folder is missing, unreadable or holds none. */
export function listImages(dir: string, what: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a folder' : `cannot be read (${(err as Error).message})`;
    throw new UserError(`the ${what} folder ${dir} ${why}`);
  }
  const images = entries.filter((e) => e.isFile() && isImageFile(e.name)).map((e) => path.join(dir, e.name)).sort();
  if (images.length === 0) {
    throw new UserError(`the ${what} folder ${dir} holds no images (png, jpg, webp, gif, bmp, tiff or avif)`);
  }
  return images;
}

/** A seeded random order of the items (Fisher–Yates). */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const rng = mulberry32(seed);
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** A seeded sample of k items without replacement (all of them, in order, when k ≥ length). */
export function sample<T>(items: readonly T[], k: number, seed: number): T[] {
  if (k >= items.length) return [...items];
  const rng = mulberry32(seed);
  const a = [...items];
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, k);
}

/**
 * runs + 1 random sets from one folder: disjoint sets of `size` when the folder has enough
 * images, otherwise each set is its own seeded sample (sets overlap; a warning says so).
 */
export function splitRandom(images: readonly string[], sets: number, size: number, seed: number, warnings: string[]): string[][] {
  const order = shuffled(images, seed ^ 0x5eed);
  if (images.length >= sets * size) return Array.from({ length: sets }, (_, i) => order.slice(i * size, (i + 1) * size));
  const k = Math.min(size, Math.max(2, Math.floor(images.length / 2)));
  warnings.push(
    `the random folder has ${images.length} images, fewer than the ${sets} × ${size} needed for disjoint random sets: ` +
    `each run samples ${k} of them, so the random sets overlap and the significance test is less trustworthy`,
  );
  return Array.from({ length: sets }, (_, i) => sample(images, k, seed * 7919 + i + 1));
}

function resolveRandom(dir: string, spec: string | string[] | undefined, runs: number, size: number, seed: number, file: string, warnings: string[]): string[][] {
  if (Array.isArray(spec)) {
    const sets = spec.map((s, i) => sample(listImages(path.resolve(dir, s), `random set ${i}`), size, seed + i));
    if (sets.length < runs + 1) throw new UserError(`${file}: ${runs} runs need ${runs + 1} random folders (one for the random-vs-random baseline), the experiment lists ${sets.length}`);
    return sets.slice(0, runs + 1);
  }
  const folder = path.resolve(dir, spec ?? 'random');
  const isDir = fs.existsSync(folder) && fs.statSync(folder).isDirectory();
  const direct = isDir ? fs.readdirSync(folder).filter(isImageFile) : [];
  const setFolders = isDir ? subfolders(folder) : [];
  if (direct.length === 0 && setFolders.length > 0) {
    return resolveRandom(dir, setFolders.map((s) => path.join(path.relative(dir, folder), s)), runs, size, seed, file, warnings);
  }
  const images = listImages(folder, 'random');
  if (images.length < 2) throw new UserError(`the random folder ${folder} needs at least 2 images, it has ${images.length}`);
  return splitRandom(images, runs + 1, size, seed, warnings);
}

export function readExperiment(file: string, overrides: ExperimentOverrides = {}): ResolvedExperiment {
  const abs = path.resolve(file);
  const json = readJson(abs);
  const dir = path.dirname(abs);
  const warnings: string[] = [];
  if (json.target === undefined || (typeof json.target !== 'string' && typeof json.target !== 'number')) {
    throw new UserError(`${abs}: "target" must name the class to explain (a label or an index)`);
  }
  const layers = stringList(json.layers, 'layers', abs);
  const runs = positiveInt(overrides.runs ?? json.runs, 'runs', abs, DEFAULT_RUNS);
  if (runs < 2) throw new UserError(`${abs}: at least 2 runs are needed for a significance test, got ${runs}`);
  const imagesPerSet = positiveInt(json.imagesPerSet, 'imagesPerSet', abs, DEFAULT_IMAGES_PER_SET);
  const seed = json.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0) throw new UserError(`${abs}: "seed" must be a non-negative integer, got ${JSON.stringify(seed)}`);
  const alpha = json.alpha ?? DEFAULT_ALPHA;
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1)) throw new UserError(`${abs}: "alpha" must be between 0 and 1, got ${JSON.stringify(alpha)}`);

  const modelPath = optionalString(json.model, 'model', abs);
  const classDir = optionalString(json.classImages, 'classImages', abs) ?? 'class';
  const conceptsDir = path.resolve(dir, optionalString(json.conceptsDir, 'conceptsDir', abs) ?? 'concepts');
  if (json.random !== undefined && typeof json.random !== 'string' && !(Array.isArray(json.random) && json.random.length > 0 && json.random.every((r) => typeof r === 'string' && r !== ''))) {
    throw new UserError(`${abs}: "random" must be a folder or a list of folders, got ${JSON.stringify(json.random)}`);
  }
  if (json.relative !== undefined && !Array.isArray(json.relative)) throw new UserError(`${abs}: "relative" must be a list of concept pairs, e.g. [["striped", "dotted"]]`);
  let names: string[];
  if (json.concepts !== undefined) {
    names = stringList(json.concepts, 'concepts', abs);
    // A concept is one folder of the concepts folder, named as it is: "../x" or "a/b" would read
    // images from elsewhere under a concept's name. (The folder may be a link: the user made it.)
    const bad = names.find((n) => n === '.' || n === '..' || /[\\/\0]/.test(n));
    if (bad !== undefined) throw new UserError(`${abs}: the concept ${JSON.stringify(bad)} must be the name of one folder in the concepts folder (no / or \\, not . or ..)`);
  } else {
    if (!fs.existsSync(conceptsDir) || !fs.statSync(conceptsDir).isDirectory()) throw new UserError(`the concepts folder ${conceptsDir} does not exist or is not a folder (one sub-folder of example images per concept)`);
    names = subfolders(conceptsDir);
    if (names.length === 0) throw new UserError(`the concepts folder ${conceptsDir} has no concept sub-folders`);
  }
  const concepts = names.map((name) => {
    const all = listImages(path.join(conceptsDir, name), `concept "${name}"`);
    if (all.length < 2) throw new UserError(`the concept "${name}" needs at least 2 example images, ${path.join(conceptsDir, name)} has ${all.length}`);
    return { name, images: sample(all, imagesPerSet, seed + 101) };
  });

  const relative = (json.relative ?? []).map((pair, i): [string, string] => {
    if (!Array.isArray(pair) || pair.length !== 2 || pair.some((s) => !names.includes(s)) || pair[0] === pair[1]) {
      throw new UserError(`${abs}: relative[${i}] must name two different concepts of the experiment (${names.join(', ')})`);
    }
    return [pair[0], pair[1]];
  });

  const classImages = sample(listImages(path.resolve(dir, classDir), 'class images'), Math.max(imagesPerSet, 1), seed + 202);
  const randomSets = resolveRandom(dir, json.random, runs, imagesPerSet, seed, abs, warnings);
  for (const c of concepts) if (c.images.length < imagesPerSet) warnings.push(`the concept "${c.name}" has ${c.images.length} images, fewer than imagesPerSet = ${imagesPerSet}`);

  return {
    file: abs, dir, name: path.basename(dir), model: modelPath ? path.resolve(dir, modelPath) : undefined, target: json.target,
    classImages, concepts, randomSets, relative, layers, runs, imagesPerSet, alpha, seed, warnings,
  };
}

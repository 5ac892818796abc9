/**
 * TCAV experiment plumbing, no model: readExperiment's folder convention (defaults, random sets
 * split disjointly or overlapping with a warning, random as a list of folders or sub-folders),
 * its UserErrors naming the file or folder, seeded sampling without replacement, the experiment
 * scaffold, and saving / listing / loading results.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { DEFAULT_ALPHA, DEFAULT_IMAGES_PER_SET, DEFAULT_RUNS, readExperiment, sample, splitRandom } from '../../../src/extension/tcav/experiment';
import { scaffoldExperiment } from '../../../src/extension/tcav/scaffold';
import { listResults, loadResult, resultsDir, saveResult } from '../../../src/extension/tcav/results-file';
import { UserError } from '../../../src/shared/errors';
import type { TcavExperimentFile, TcavResult } from '../../../src/shared/tcav';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-tcav-exp-'));
let png: Buffer;
let counter = 0;

before(async () => {
  // readExperiment never decodes images: one tiny PNG copied around is enough.
  png = await sharp({ create: { width: 2, height: 2, channels: 3, background: { r: 10, g: 200, b: 30 } } }).png().toBuffer();
});

/** A fresh experiment folder. */
function freshDir(name: string): string {
  const dir = path.join(root, `${String(++counter).padStart(2, '0')}-${name}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes `n` images `<prefix>-NNN.png` into `dir`; returns their paths, sorted. */
function images(dir: string, n: number, prefix = 'img'): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const files = Array.from({ length: n }, (_, i) => path.join(dir, `${prefix}-${String(i).padStart(3, '0')}.png`));
  for (const f of files) fs.writeFileSync(f, png);
  return files;
}

function writeJson(dir: string, json: unknown): string {
  const file = path.join(dir, 'experiment.json');
  fs.writeFileSync(file, typeof json === 'string' ? json : JSON.stringify(json));
  return file;
}

/** class/ (12), concepts/{stripes,dots}/ (12 each), random/ (randomCount) and experiment.json. */
function conventional(name: string, json: Partial<TcavExperimentFile> = {}, randomCount = 40): { dir: string; file: string } {
  const dir = freshDir(name);
  images(path.join(dir, 'class'), 12, 'class');
  images(path.join(dir, 'concepts', 'stripes'), 12, 'stripes');
  images(path.join(dir, 'concepts', 'dots'), 12, 'dots');
  if (randomCount > 0) images(path.join(dir, 'random'), randomCount, 'random');
  return { dir, file: writeJson(dir, { target: 'square', layers: ['last_conv'], runs: 3, imagesPerSet: 10, ...json }) };
}

const isUserError = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
  assert.match(e.message, re);
  return true;
};
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const listed = (dir: string) => fs.readdirSync(dir).map((n) => path.join(dir, n)).sort();

function assertDistinctSubset(items: readonly string[], of: readonly string[], what: string): void {
  assert.equal(new Set(items).size, items.length, `${what}: no image twice`);
  for (const f of items) assert.ok(of.includes(f), `${what}: ${f} is not one of its folder's images`);
}

test('the default convention: class/, every sub-folder of concepts/, random/ split into runs + 1 disjoint sets', () => {
  const { dir, file } = conventional('defaults');
  // Things that are not concepts or images are ignored.
  fs.mkdirSync(path.join(dir, 'concepts', '.hidden'));
  fs.writeFileSync(path.join(dir, 'concepts', 'stripes', 'notes.txt'), 'not an image');
  fs.writeFileSync(path.join(dir, 'concepts', 'README.md'), '# concepts');
  const exp = readExperiment(file);
  assert.equal(exp.file, file);
  assert.equal(exp.dir, dir);
  assert.equal(exp.name, path.basename(dir));
  assert.equal(exp.model, undefined);
  assert.equal(exp.target, 'square');
  assert.deepEqual(exp.layers, ['last_conv']);
  assert.equal(exp.runs, 3);
  assert.equal(exp.imagesPerSet, 10);
  assert.equal(exp.alpha, DEFAULT_ALPHA);
  assert.equal(exp.seed, 0);
  assert.deepEqual(exp.relative, []);
  assert.deepEqual(exp.warnings, []);
  assert.deepEqual(exp.concepts.map((c) => c.name), ['dots', 'stripes'], 'sorted sub-folders, dot-folders skipped');
  for (const c of exp.concepts) {
    assert.equal(c.images.length, 10, `${c.name}: imagesPerSet of its 12 images`);
    assertDistinctSubset(c.images, images(path.join(dir, 'concepts', c.name), 12, c.name), c.name);
  }
  assert.equal(exp.classImages.length, 10);
  assertDistinctSubset(exp.classImages, listed(path.join(dir, 'class')), 'class images');
  // 4 sets of 10 from 40 images: disjoint, so together they are the whole folder.
  assert.equal(exp.randomSets.length, 4);
  for (const s of exp.randomSets) assert.equal(s.length, 10);
  const all = exp.randomSets.flat();
  assertDistinctSubset(all, listed(path.join(dir, 'random')), 'random sets');
  assert.equal(new Set(all).size, 40, 'the random sets are disjoint');
});

test('defaults when the file says little: 20 runs, 50 images per set; a random folder too small for that warns', () => {
  const { file } = conventional('bare-defaults', { runs: undefined, imagesPerSet: undefined });
  const exp = readExperiment(file);
  assert.equal(exp.runs, DEFAULT_RUNS);
  assert.equal(exp.imagesPerSet, DEFAULT_IMAGES_PER_SET);
  assert.equal(exp.randomSets.length, DEFAULT_RUNS + 1);
  assert.equal(exp.classImages.length, 12, 'all 12 class images (fewer than 50)');
  assert.ok(exp.warnings.some((w) => /concept "stripes" has 12 images, fewer than imagesPerSet = 50/.test(w)), exp.warnings.join('\n'));
  assert.ok(exp.warnings.some((w) => /random folder has 40 images.*overlap/.test(w)), exp.warnings.join('\n'));
  // The CLI's --runs overrides the file.
  assert.equal(readExperiment(file, { runs: 4 }).randomSets.length, 5);
});

test('too few random images: each set is its own sample of half the folder, the sets overlap, and a warning says so', () => {
  const { dir, file } = conventional('few-random', {}, 15);
  const exp = readExperiment(file);
  const folder = listed(path.join(dir, 'random'));
  assert.equal(exp.randomSets.length, 4);
  for (const [i, s] of exp.randomSets.entries()) {
    assert.equal(s.length, 7, 'min(imagesPerSet, ⌊15 / 2⌋)');
    assertDistinctSubset(s, folder, `random set ${i}`);
  }
  assert.ok(new Set(exp.randomSets.flat()).size < 4 * 7, 'the sets overlap');
  assert.equal(exp.warnings.length, 1);
  assert.match(exp.warnings[0], /random folder has 15 images, fewer than the 4 × 10 needed for disjoint random sets.*overlap/);
  // Not every set is the same sample.
  assert.ok(exp.randomSets.some((s) => s.join() !== exp.randomSets[0].join()));
});

test('random as a list of folders: one set per folder (the first runs + 1), too short a list is refused', () => {
  const { dir } = conventional('random-list', {}, 0);
  const sets = ['r0', 'r1', 'r2', 'r3', 'r4'].map((r) => images(path.join(dir, 'negatives', r), 4 + Number(r[1]), r));
  const exp = readExperiment(writeJson(dir, { target: 1, layers: ['gap'], runs: 3, imagesPerSet: 10, random: ['negatives/r0', 'negatives/r1', 'negatives/r2', 'negatives/r3', 'negatives/r4'] }));
  assert.deepEqual(exp.randomSets, sets.slice(0, 4), 'each folder whole (fewer images than imagesPerSet), in the listed order');
  assert.deepEqual(exp.warnings, []);
  const short = writeJson(dir, { target: 1, layers: ['gap'], runs: 3, random: ['negatives/r0', 'negatives/r1'] });
  assert.throws(() => readExperiment(short), isUserError(new RegExp(`${esc(short)}: 3 runs need 4 random folders .* lists 2`)));
  const missing = writeJson(dir, { target: 1, layers: ['gap'], runs: 3, random: ['negatives/r0', 'negatives/nope', 'negatives/r2', 'negatives/r3'] });
  assert.throws(() => readExperiment(missing), isUserError(new RegExp(`random set 1 folder ${esc(path.join(dir, 'negatives', 'nope'))} does not exist`)));
});

test('a random/ folder of sub-folders: one set per sub-folder, sampled to imagesPerSet', () => {
  const { dir, file } = conventional('random-subfolders', { imagesPerSet: 5 }, 0);
  const sets = ['set-a', 'set-b', 'set-c', 'set-d'].map((s) => images(path.join(dir, 'random', s), 8, s));
  const exp = readExperiment(file);
  assert.equal(exp.randomSets.length, 4);
  exp.randomSets.forEach((s, i) => {
    assert.equal(s.length, 5);
    assertDistinctSubset(s, sets[i], `set ${i}`);
  });
  assert.deepEqual(exp.warnings.filter((w) => /random/.test(w)), []);
});

test('the random sets are a seeded shuffle of the folder, not its files in name order', () => {
  const files = Array.from({ length: 40 }, (_, i) => `r${String(i).padStart(2, '0')}.png`);
  const a = splitRandom(files, 4, 10, 1, []);
  const b = splitRandom(files, 4, 10, 2, []);
  assert.notDeepEqual(a, b, 'the seed changes the split');
  assert.notDeepEqual(a[0], files.slice(0, 10), 'set 0 is not the first ten files by name');
});

const BAD: [string, (dir: string) => void, (dir: string) => RegExp][] = [
  ['a missing concept folder', (d) => writeJson(d, { target: 0, layers: ['x'], runs: 3, concepts: ['stripes', 'ghosts'] }),
    (d) => new RegExp(`concept "ghosts" folder ${esc(path.join(d, 'concepts', 'ghosts'))} does not exist`)],
  ['an empty concept folder', (d) => fs.mkdirSync(path.join(d, 'concepts', 'empty')),
    (d) => new RegExp(`concept "empty" folder ${esc(path.join(d, 'concepts', 'empty'))} holds no images`)],
  ['a concept folder of non-image files', (d) => {
    fs.mkdirSync(path.join(d, 'concepts', 'texts'));
    fs.writeFileSync(path.join(d, 'concepts', 'texts', 'a.txt'), 'a');
    fs.writeFileSync(path.join(d, 'concepts', 'texts', 'b.json'), '{}');
    fs.mkdirSync(path.join(d, 'concepts', 'texts', 'sub.png'));
  }, (d) => new RegExp(`concept "texts" folder ${esc(path.join(d, 'concepts', 'texts'))} holds no images`)],
  ['a concept of one image', (d) => images(path.join(d, 'concepts', 'lonely'), 1),
    (d) => new RegExp(`concept "lonely" needs at least 2 example images, ${esc(path.join(d, 'concepts', 'lonely'))} has 1`)],
  ['a missing concepts folder', (d) => fs.rmSync(path.join(d, 'concepts'), { recursive: true }),
    (d) => new RegExp(`concepts folder ${esc(path.join(d, 'concepts'))} does not exist`)],
  ['a concepts folder without sub-folders', (d) => {
    fs.rmSync(path.join(d, 'concepts'), { recursive: true });
    images(path.join(d, 'concepts'), 3);
  }, (d) => new RegExp(`concepts folder ${esc(path.join(d, 'concepts'))} has no concept sub-folders`)],
  ['a missing class folder', (d) => fs.rmSync(path.join(d, 'class'), { recursive: true }),
    (d) => new RegExp(`class images folder ${esc(path.join(d, 'class'))} does not exist`)],
  ['a missing random folder', (d) => fs.rmSync(path.join(d, 'random'), { recursive: true }),
    (d) => new RegExp(`random folder ${esc(path.join(d, 'random'))} does not exist`)],
  ['invalid JSON', (d) => writeJson(d, '{ "target": "square", "layers": ["x"],, }'),
    (d) => new RegExp(`the experiment ${esc(path.join(d, 'experiment.json'))} is not valid JSON`)],
  ['a JSON array', (d) => writeJson(d, '[1, 2]'), (d) => new RegExp(`${esc(path.join(d, 'experiment.json'))} must be a JSON object`)],
  ['no target', (d) => writeJson(d, { layers: ['x'] }), (d) => new RegExp(`${esc(path.join(d, 'experiment.json'))}: "target" must name the class`)],
  ['a target that is neither label nor index', (d) => writeJson(d, { target: ['square'], layers: ['x'] }), () => /"target" must name the class/],
  ['empty layers', (d) => writeJson(d, { target: 'square', layers: [] }),
    (d) => new RegExp(`${esc(path.join(d, 'experiment.json'))}: "layers" must be a non-empty list of names`)],
  ['no layers', (d) => writeJson(d, { target: 'square' }), () => /"layers" must be a non-empty list/],
  ['a layer that is not a name', (d) => writeJson(d, { target: 'square', layers: ['x', 3] }), () => /"layers" must be a non-empty list of names/],
  ['one run', (d) => writeJson(d, { target: 'square', layers: ['x'], runs: 1 }),
    (d) => new RegExp(`${esc(path.join(d, 'experiment.json'))}: at least 2 runs are needed for a significance test, got 1`)],
  ['zero runs', (d) => writeJson(d, { target: 'square', layers: ['x'], runs: 0 }), () => /"runs" must be a positive integer, got 0/],
  ['fractional imagesPerSet', (d) => writeJson(d, { target: 'square', layers: ['x'], imagesPerSet: 2.5 }), () => /"imagesPerSet" must be a positive integer, got 2\.5/],
  ['alpha out of (0, 1)', (d) => writeJson(d, { target: 'square', layers: ['x'], alpha: 1 }), () => /"alpha" must be between 0 and 1, got 1/],
  ['a negative seed', (d) => writeJson(d, { target: 'square', layers: ['x'], seed: -1 }), () => /"seed" must be a non-negative integer, got -1/],
  ['relative naming an unknown concept', (d) => writeJson(d, { target: 'square', layers: ['x'], runs: 3, relative: [['stripes', 'dots'], ['stripes', 'zebras']] }),
    (d) => new RegExp(`${esc(path.join(d, 'experiment.json'))}: relative\\[1\\] must name two different concepts of the experiment \\(dots, stripes\\)`)],
  ['relative pairing a concept with itself', (d) => writeJson(d, { target: 'square', layers: ['x'], runs: 3, relative: [['dots', 'dots']] }),
    () => /relative\[0\] must name two different concepts/],
];

for (const [what, spoil, message] of BAD) {
  test(`${what} is a UserError naming the file or folder`, () => {
    const { dir, file } = conventional(what.replace(/\W+/g, '-'));
    readExperiment(file); // valid before it is spoilt
    spoil(dir);
    assert.throws(() => readExperiment(file), isUserError(message(dir)));
  });
}

test('fields of the wrong type, and files where folders belong, are UserErrors too', () => {
  const { dir, file } = conventional('wrong-types');
  const cases: [Partial<Record<keyof TcavExperimentFile, unknown>>, RegExp][] = [
    [{ random: 'class/class-000.png' }, /random folder .*class-000\.png is not a folder/],
    [{ conceptsDir: 'class/class-000.png' }, /concepts folder .*class-000\.png/],
    [{ relative: 'stripes' }, /"relative"/],
    [{ model: 5 }, /"model"/],
    [{ random: 7 }, /"random"/],
    [{ classImages: ['class'] }, /"classImages"/],
  ];
  for (const [fields, message] of cases) {
    writeJson(dir, { target: 'square', layers: ['x'], runs: 3, imagesPerSet: 10, ...fields });
    assert.throws(() => readExperiment(file), isUserError(message), JSON.stringify(fields));
  }
});

test('a missing experiment file is a UserError naming it', () => {
  const file = path.join(root, 'nowhere', 'experiment.json');
  assert.throws(() => readExperiment(file), isUserError(new RegExp(`cannot read the experiment ${esc(file)}`)));
});

test('relative pairs and other settings are read as written; paths resolve against the experiment folder', () => {
  const { dir, file } = conventional('settings');
  images(path.join(dir, 'shapes', 'squares'), 6, 'sq');
  images(path.join(dir, 'concept-images', 'stripes'), 6, 'st');
  images(path.join(dir, 'concept-images', 'dots'), 6, 'do');
  images(path.join(dir, 'concept-images', 'unused'), 6, 'un');
  writeJson(dir, {
    model: '../models/net/model.json', target: 2, layers: ['a', 'b', 'a'], runs: 3, imagesPerSet: 4, alpha: 0.01, seed: 9,
    classImages: 'shapes/squares', conceptsDir: 'concept-images', concepts: ['stripes', 'dots'], relative: [['stripes', 'dots']],
  });
  const exp = readExperiment(file);
  assert.equal(exp.model, path.resolve(dir, '../models/net/model.json'));
  assert.equal(exp.target, 2);
  assert.deepEqual(exp.layers, ['a', 'b'], 'duplicates dropped');
  assert.deepEqual(exp.concepts.map((c) => c.name), ['stripes', 'dots'], 'only the listed concepts, in the listed order');
  assert.ok(exp.concepts[0].images.every((f) => f.startsWith(path.join(dir, 'concept-images', 'stripes') + path.sep)));
  assert.equal(exp.classImages.length, 4);
  assert.ok(exp.classImages.every((f) => f.startsWith(path.join(dir, 'shapes', 'squares') + path.sep)));
  assert.deepEqual(exp.relative, [['stripes', 'dots']]);
  assert.equal(exp.alpha, 0.01);
  assert.equal(exp.seed, 9);
  // The seed picks the samples: the same file reads the same, another seed another sample.
  assert.deepEqual(readExperiment(file), exp);
  writeJson(dir, { target: 2, layers: ['a'], runs: 3, imagesPerSet: 4, seed: 10, classImages: 'shapes/squares', conceptsDir: 'concept-images', concepts: ['stripes', 'dots'] });
  const other = readExperiment(file);
  assert.ok(other.concepts[0].images.join() !== exp.concepts[0].images.join() || other.classImages.join() !== exp.classImages.join());
});

test('sample is seeded, without replacement, and uniform; all items in order when k ≥ their number', () => {
  const items = Array.from({ length: 100 }, (_, i) => i);
  const a = sample(items, 10, 7);
  assert.deepEqual(sample(items, 10, 7), a, 'same seed, same sample');
  assert.notDeepEqual(sample(items, 10, 8), a, 'another seed, another sample');
  assert.equal(a.length, 10);
  assert.equal(new Set(a).size, 10, 'no item twice');
  assert.ok(a.every((x) => items.includes(x)));
  assert.deepEqual(items, Array.from({ length: 100 }, (_, i) => i), 'the input is not modified');
  assert.deepEqual(sample(items, 100, 3), items);
  assert.deepEqual(sample(items, 1000, 3), items);
  assert.deepEqual(sample(items, 0, 3), []);
  // 3 of 10 over 3000 seeds: each item is drawn 900 times in expectation (sd ≈ 25).
  const hits = new Array<number>(10).fill(0);
  for (let s = 0; s < 3000; s++) for (const x of sample(items.slice(0, 10), 3, s)) hits[x]++;
  for (const [i, h] of hits.entries()) assert.ok(Math.abs(h - 900) < 130, `item ${i} drawn ${h} times`);
});

test('scaffoldExperiment creates experiment.json, README.md, .gitignore and the folders; readExperiment reads it once images are in', () => {
  const dir = path.join(freshDir('scaffold'), 'my-experiment');
  const model = path.join(root, 'models', 'shapes', 'model.json');
  const file = scaffoldExperiment({ dir, model, target: 'square', layers: ['block2_relu', 'last_conv'], concepts: ['striped', 'dotted things'], runs: 4, imagesPerSet: 5 });
  assert.equal(file, path.join(dir, 'experiment.json'));
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as TcavExperimentFile;
  assert.deepEqual(json, {
    model: '../../models/shapes/model.json', target: 'square', classImages: 'class', conceptsDir: 'concepts', concepts: ['striped', 'dotted things'],
    random: 'random', layers: ['block2_relu', 'last_conv'], runs: 4, imagesPerSet: 5, relative: [], alpha: 0.05, seed: 0,
  });
  for (const sub of ['concepts/striped', 'concepts/dotted things', 'random', 'class', 'results']) {
    assert.ok(fs.statSync(path.join(dir, sub)).isDirectory(), `${sub}/ exists`);
    assert.deepEqual(fs.readdirSync(path.join(dir, sub)), [], `${sub}/ is empty`);
  }
  assert.equal(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8'), '.cache/\n');
  const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  assert.match(readme, /`concepts\/striped\/`/);
  assert.match(readme, /`concepts\/dotted things\/`/);
  assert.match(readme, /at least 25: XAI Lens splits them into 5 random sets of 5/);
  // Empty, the experiment names what is missing.
  assert.throws(() => readExperiment(file), isUserError(/holds no images/));
  images(path.join(dir, 'concepts', 'striped'), 5, 's');
  images(path.join(dir, 'concepts', 'dotted things'), 5, 'd');
  images(path.join(dir, 'class'), 5, 'c');
  images(path.join(dir, 'random'), 25, 'r');
  const exp = readExperiment(file);
  assert.equal(exp.model, model);
  assert.deepEqual(exp.concepts.map((c) => [c.name, c.images.length]), [['striped', 5], ['dotted things', 5]]);
  assert.equal(exp.randomSets.length, 5);
  assert.equal(new Set(exp.randomSets.flat()).size, 25);
  assert.deepEqual(exp.warnings, []);
  // Without a model the file names none.
  const noModel = scaffoldExperiment({ dir: path.join(dir, '..', 'no-model'), target: 0, layers: ['x'], concepts: ['a'] });
  const j2 = JSON.parse(fs.readFileSync(noModel, 'utf8')) as TcavExperimentFile;
  assert.equal('model' in j2, false);
  assert.equal(j2.runs, DEFAULT_RUNS);
  assert.equal(j2.imagesPerSet, DEFAULT_IMAGES_PER_SET);
});

test('scaffoldExperiment refuses an existing experiment and bad names, and then creates nothing', () => {
  const dir = freshDir('scaffold-refusals');
  const file = scaffoldExperiment({ dir, target: 'square', layers: ['x'], concepts: ['a'] });
  const before = fs.readFileSync(file, 'utf8');
  assert.throws(() => scaffoldExperiment({ dir, target: 'circle', layers: ['y'], concepts: ['b'] }), isUserError(new RegExp(`${esc(file)} already exists`)));
  assert.equal(fs.readFileSync(file, 'utf8'), before, 'the existing experiment is untouched');
  assert.equal(fs.existsSync(path.join(dir, 'concepts', 'b')), false);
  for (const bad of ['../escape', 'a/b', '', '.hidden', 'tab\there', 'star*']) {
    const d = path.join(root, `bad-name-${counter++}`);
    assert.throws(() => scaffoldExperiment({ dir: d, target: 0, layers: ['x'], concepts: ['fine', bad] }), isUserError(/cannot be a folder name for a concept/), JSON.stringify(bad));
    assert.equal(fs.existsSync(d), false, `nothing created for ${JSON.stringify(bad)}`);
  }
  assert.throws(() => scaffoldExperiment({ dir: path.join(root, 'none'), target: 0, layers: ['x'], concepts: [] }), isUserError(/at least one concept/));
  assert.throws(() => scaffoldExperiment({ dir: path.join(root, 'none'), target: 0, layers: [], concepts: ['a'] }), isUserError(/at least one layer/));
  assert.equal(fs.existsSync(path.join(root, 'none')), false);
});

function fakeResult(experiment: string, createdAt: string, hash: string, name = 'shapes'): TcavResult {
  return {
    version: 1, experiment,
    model: { file: `/models/${name}/model.json`, name, hash, modified: '2024-01-02T03:04:05.000Z' },
    target: { index: 1, label: 'square' }, createdAt, seed: 0, runs: 2, imagesPerSet: 3, classImages: 3, alpha: 0.05, tests: 1, layers: ['gap'],
    cells: [{
      concept: 'striped', kind: 'concept', layer: 'gap', scores: [0.5, 1], magnitudes: [0.25, 0.75], mean: 0.75, std: Math.SQRT1_2 / 2, magnitudeMean: 0.5,
      magnitudeStd: 0.35355339059327373, cavAccuracies: [1, 0.5], cavAccuracy: 0.75, lowAccuracy: false, t: 1.5, p: 0.1234, pAdjusted: 0.1234, significant: false,
    }],
    random: [{ layer: 'gap', scores: [0.5, 0.25], mean: 0.375, std: 0.17677669529663687, cavAccuracy: 0.5 }],
    timings: { activations: 0.1, cavs: 0.2, derivatives: 0.3, total: 0.6 },
    cache: { hits: 3, computed: 4 }, warnings: ['a warning'],
  };
}

test('results: saveResult → listResults (newest first) → loadResult round-trips; other JSON in results/ is skipped', () => {
  const dir = freshDir('results');
  const exp = path.join(dir, 'experiment.json');
  assert.deepEqual(listResults(exp), [], 'no results/ folder yet');
  const older = fakeResult(exp, '2024-05-01T10:00:00.000Z', 'aaaaaaaa11112222');
  const newest = fakeResult(exp, '2024-05-03T09:30:00.250Z', 'bbbbbbbb33334444', 'shapes-v2');
  const middle = fakeResult(exp, '2024-05-02T23:59:59.999Z', 'aaaaaaaa11112222');
  const files = [older, newest, middle].map((r) => saveResult(r));
  for (const f of files) assert.equal(path.dirname(f), resultsDir(exp));
  assert.equal(resultsDir(exp), path.join(dir, 'results'));
  assert.equal(path.basename(files[1]), '2024-05-03T09-30-00-250Z-bbbbbbbb.json');
  fs.writeFileSync(path.join(dir, 'results', 'notes.json'), JSON.stringify({ version: 1, comment: 'not a result' }));
  fs.writeFileSync(path.join(dir, 'results', 'broken.json'), '{ "version": 1, ');
  fs.writeFileSync(path.join(dir, 'results', 'null.json'), 'null');
  fs.writeFileSync(path.join(dir, 'results', 'readme.txt'), 'hello');
  const list = listResults(exp);
  assert.deepEqual(list, [
    { file: files[1], createdAt: newest.createdAt, modelName: 'shapes-v2', checkpoint: 'bbbbbbbb', modified: newest.model.modified },
    { file: files[2], createdAt: middle.createdAt, modelName: 'shapes', checkpoint: 'aaaaaaaa', modified: middle.model.modified },
    { file: files[0], createdAt: older.createdAt, modelName: 'shapes', checkpoint: 'aaaaaaaa', modified: older.model.modified },
  ]);
  assert.deepEqual(loadResult(files[1]), newest);
  assert.deepEqual(loadResult(files[0]), older);
  // Another folder (the CLI's --out).
  const out = path.join(dir, 'elsewhere');
  const f = saveResult(newest, out);
  assert.equal(path.dirname(f), out);
  assert.deepEqual(loadResult(f), newest);
});

test('loadResult of garbage, of other JSON and of a missing file is a UserError naming the file', () => {
  const dir = freshDir('garbage');
  const garbage = path.join(dir, 'garbage.json');
  fs.writeFileSync(garbage, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]));
  assert.throws(() => loadResult(garbage), isUserError(new RegExp(`cannot read the TCAV result ${esc(garbage)}`)));
  const other = path.join(dir, 'package.json');
  fs.writeFileSync(other, JSON.stringify({ name: 'x', version: '1.0.0' }));
  assert.throws(() => loadResult(other), isUserError(new RegExp(`${esc(other)} is not a TCAV result saved by XAI Lens`)));
  const nullJson = path.join(dir, 'null.json');
  fs.writeFileSync(nullJson, 'null');
  assert.throws(() => loadResult(nullJson), isUserError(/is not a TCAV result/));
  const missing = path.join(dir, 'missing.json');
  assert.throws(() => loadResult(missing), isUserError(new RegExp(`cannot read the TCAV result ${esc(missing)}`)));
});

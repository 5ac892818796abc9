import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { fsSaveHandler } from '../../../src/extension/model/fs-io';
import { decodeNpy } from '../../../src/extension/image/npy';
import * as tfl from '@tensorflow/tfjs-layers';
import { branchingModel, linearModel, randomizeWeights } from '../../helpers/models';
import { useBackend } from '../../helpers/tf-test';

const CLI = path.resolve(__dirname, '../../../../dist/cli.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-cli-'));
const p = (...names: string[]) => path.join(dir, ...names);

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run npm run build first`);
  await useBackend('cpu');
  await branchingModel().save(fsSaveHandler(p('branching')));
  fs.writeFileSync(p('branching', 'labels.txt'), 'cat\ndog\nbird\n');
  await linearModel().save(fsSaveHandler(p('linear')));
  // A regression head: one scalar output, no softmax (like a GAN discriminator's logit).
  const regression = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv' }),
      tfl.layers.globalAveragePooling2d({ name: 'gap' }),
      tfl.layers.dense({ units: 1, name: 'score' }),
    ],
  });
  randomizeWeights(regression, 7);
  await regression.save(fsSaveHandler(p('regression')));
  await sharp({ create: { width: 30, height: 20, channels: 3, background: { r: 200, g: 30, b: 60 } } }).png().toFile(p('img.png'));
  const png = fs.readFileSync(p('img.png'));
  fs.writeFileSync(p('truncated.png'), png.subarray(0, Math.floor(png.length / 2)));
  fs.writeFileSync(p('text.png'), 'this is not an image\n');
});

test('explain --json prints one JSON object and writes the .npy map and the overlay', async () => {
  const r = cli('explain', p('img.png'), '--model', p('branching'), '--json', '--out', p('out'), '--backend', 'cpu', '--target', 'dog');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.backend, 'cpu');
  assert.deepEqual(report.inputSize, [8, 8]);
  assert.equal(report.predictions.length, 3);
  assert.ok(Math.abs(report.predictions.reduce((s: number, q: { probability: number }) => s + q.probability, 0) - 1) < 1e-5);
  assert.deepEqual(Object.keys(report.predictions[0]).sort(), ['index', 'label', 'probability']);
  assert.deepEqual(report.target, { index: 1, space: 'logit', label: 'dog' });
  assert.equal(report.layer, 'last');
  assert.equal(report.maps.length, 1);
  const m = report.maps[0];
  assert.equal(m.method, 'gradcam');
  assert.deepEqual(m.shape, [8, 8]);
  assert.ok(typeof m.ms === 'number' && m.ms >= 0);
  const npy = decodeNpy(fs.readFileSync(m.npy));
  assert.deepEqual(npy.shape, [8, 8]);
  assert.ok(npy.data.every((v) => Number.isFinite(v) && v >= 0));
  const meta = await sharp(m.png).metadata();
  assert.equal(meta.format, 'png');
  assert.deepEqual([meta.width, meta.height], [30, 20]);
});

test('explain without --json prints a readable summary', () => {
  const r = cli('explain', p('img.png'), '--model', p('branching', 'model.json'), '--out', p('out2'), '--backend', 'cpu', '--target', '2');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^backend\s+cpu/m);
  assert.match(r.stdout, /^target\s+bird \(2\), logit/m);
  assert.match(r.stdout, /^gradcam\s+4x4 map in [\d.]+ ms/m);
});

test('explain --method all --metrics --box: every applicable method, with per-map metrics and the pointing game', () => {
  const r = cli('explain', p('img.png'), '--model', p('branching'), '--json', '--out', p('out3'), '--backend', 'cpu', '--method', 'all', '--metrics', '--box', '0,0,15,10', '--param', 'rise.masks=64,ig.steps=16,smoothgrad.samples=4');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const ids = report.maps.map((m: { method: string }) => m.method);
  // branchingModel ends last → gap → pred, so even CAM applies: every method runs.
  for (const id of ['cam', 'gradcam', 'gradcampp', 'scorecam', 'gradient', 'ig', 'smoothgrad', 'guidedbp', 'occlusion', 'rise', 'random']) assert.ok(ids.includes(id), `${id} in ${ids}`);
  for (const m of report.maps) {
    assert.ok(m.metrics, `${m.method} has metrics`);
    assert.ok(m.metrics.deletion.auc >= 0 && m.metrics.deletion.auc <= 1, `${m.method} deletion AUC ${m.metrics.deletion.auc}`);
    assert.ok(m.metrics.insertion.auc >= 0 && m.metrics.insertion.auc <= 1);
    assert.ok(m.metrics.road.morf.curve.length > 0);
    // The box is in image pixels (30×20): scaled to the 8×8 input it is the top-left quarter.
    assert.deepEqual(m.metrics.pointing.box, { x: 0, y: 0, w: 4, h: 4 });
    assert.equal(typeof m.metrics.pointing.hit, 'boolean');
    assert.ok(fs.existsSync(m.npy) && fs.existsSync(m.png));
  }
  const ig = report.maps.find((m: { method: string }) => m.method === 'ig');
  assert.ok(Number.isFinite(ig.stats.completenessGap), 'IG reports its completeness gap');
  assert.equal(ig.signed, true);
});

test('a scalar output is a target too: a regression head explained with CAM, gradient and perturbation methods, metrics in its own units', () => {
  const r = cli('explain', p('img.png'), '--model', p('regression'), '--json', '--out', p('out5'), '--backend', 'cpu', '--target', '0', '--method', 'cam,gradcam,ig,occlusion', '--metrics', '--param', 'ig.steps=8');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.predictions.length, 1);
  assert.deepEqual(report.target, { index: 0, space: 'logit' });
  const score = report.predictions[0].probability; // the raw output: a linear head has no probabilities
  for (const m of report.maps) {
    assert.ok(decodeNpy(fs.readFileSync(m.npy)).data.every(Number.isFinite), `${m.method} map is finite`);
    // The deletion curve starts at the model's own output for the image (logit space, no softmax).
    assert.ok(Math.abs(m.metrics.deletion.curve[0] - score) <= 1e-4 * Math.max(1, Math.abs(score)), `${m.method}: ${m.metrics.deletion.curve[0]} vs ${score}`);
  }
  const ig = report.maps.find((m: { method: string }) => m.method === 'ig');
  assert.ok(Math.abs(ig.stats.fx - score) <= 1e-4 * Math.max(1, Math.abs(score)), 'IG explains the scalar itself');
});

test('explain --target top2 explains each of the two most probable classes', () => {
  const r = cli('explain', p('img.png'), '--model', p('branching'), '--json', '--out', p('out4'), '--backend', 'cpu', '--target', 'top2', '--method', 'gradcam,gradient');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.targets.map((t: { index: number }) => t.index), report.predictions.slice(0, 2).map((q: { index: number }) => q.index));
  assert.deepEqual(report.maps.map((m: { method: string; target: { index: number } }) => `${m.method}@${m.target.index}`),
    report.targets.flatMap((t: { index: number }) => [`gradcam@${t.index}`, `gradient@${t.index}`]));
  assert.equal(new Set(report.maps.map((m: { npy: string }) => m.npy)).size, 4, 'one file per map');
});

test('sanity --json: a step per randomized layer, similarities per method per step, verdicts, .npy maps and a strip PNG', async () => {
  const r = cli('sanity', p('img.png'), '--model', p('branching'), '--json', '--out', p('sanity'), '--backend', 'cpu', '--methods', 'gradient,gradcam', '--seed', '3');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.mode, 'cascading');
  assert.equal(report.seed, 3);
  assert.equal(report.steps[0].layer, null);
  assert.equal(report.steps[1].layer, 'pred', 'the cascade starts at the logits');
  for (const s of report.summary) {
    assert.equal(s.mean.length, report.steps.length);
    assert.ok(Math.abs(s.mean[0].spearman - 1) < 1e-9, 'step 0 compares the original with itself');
    assert.ok(s.verdict === 'passes' || s.verdict === 'fails');
  }
  const strip = await sharp(Object.values(report.strips)[0] as string).metadata();
  assert.equal(strip.format, 'png');
  assert.ok(fs.existsSync(p('sanity', `img.png.gradcam.step${report.steps.length - 1}.npy`)));
});

test('sanity --require-pass is a CI gate: exit 3 when a named method fails, 0 when it passes', () => {
  const failing = cli('sanity', p('img.png'), '--model', p('branching'), '--backend', 'cpu', '--methods', 'gradient', '--threshold', '-1', '--require-pass', 'gradient');
  assert.equal(failing.code, 3, failing.stderr);
  assert.match(failing.stderr, /sanity check failed for gradient/);
  const passing = cli('sanity', p('img.png'), '--model', p('branching'), '--backend', 'cpu', '--methods', 'gradient', '--threshold', '1', '--metric', 'ssim', '--require-pass', 'gradient', '--json');
  assert.equal(passing.code, 0, passing.stderr);
  assert.deepEqual(JSON.parse(passing.stdout).failedRequired, []);
});

const BAD: [string, string[], RegExp][] = [
  ['a truncated image', ['explain', 'truncated.png', '--model', 'branching'], /truncated\.png/],
  ['a text file named .png', ['explain', 'text.png', '--model', 'branching'], /text\.png/],
  ['a missing image', ['explain', 'nope.png', '--model', 'branching'], /image not found: nope\.png/],
  ['a missing model', ['explain', 'img.png', '--model', 'nowhere'], /no model found at nowhere/],
  ['an unknown layer', ['explain', 'img.png', '--model', 'branching', '--layer', 'conv9'], /no layer named "conv9"/],
  ['a layer without spatial output', ['explain', 'img.png', '--model', 'branching', '--layer', 'gap'], /Grad-CAM needs a layer with a spatial .*"gap" outputs/],
  ['a model with no spatial layer', ['explain', 'img.png', '--model', 'linear'], /Grad-CAM needs a layer with a spatial .* this model has none/],
  ['an unknown label', ['explain', 'img.png', '--model', 'branching', '--target', 'horse'], /unknown target "horse" \(known labels: cat, dog, bird\)/],
  ['an out-of-range class', ['explain', 'img.png', '--model', 'branching', '--target', '7'], /target 7 is out of range/],
  ['an unknown method', ['explain', 'img.png', '--model', 'branching', '--method', 'magic'], /unknown method "magic"/],
  ['an unknown option', ['explain', 'img.png', '--model', 'branching', '--colour', 'red'], /Unknown option '--colour'/],
  ['a bad --size', ['explain', 'img.png', '--model', 'branching', '--size', 'big'], /--size must look like 224x224/],
  ['a wrong --size', ['explain', 'img.png', '--model', 'branching', '--size', '9x9'], /input is 8x8; --size 9x9 does not match/],
  ['an unknown backend', ['explain', 'img.png', '--model', 'branching', '--backend', 'tpu'], /--backend must be one of/],
  ['an unknown command', ['explian'], /unknown command "explian"/],
  ['CAM without a GAP → Dense head', ['explain', 'img.png', '--model', 'branching', '--method', 'cam', '--layer', 'c1'], /CAM needs a GlobalAveragePooling2D → Dense head after "c1"/],
  ['a parameter a method does not have', ['explain', 'img.png', '--model', 'branching', '--method', 'ig', '--param', 'ig.window=3'], /Integrated Gradients has no parameter "window"/],
  ['a parameter out of range', ['explain', 'img.png', '--model', 'branching', '--method', 'ig', '--param', 'steps=1'], /ig\.steps must be between 2 and 1024, got 1/],
  ['a bad parameter choice', ['explain', 'img.png', '--model', 'branching', '--method', 'ig', '--param', 'baseline=grey'], /ig\.baseline must be one of black, blurred, noise/],
  ['a malformed --param', ['explain', 'img.png', '--model', 'branching', '--param', 'steps'], /--param takes key=value/],
  ['a bad --box', ['explain', 'img.png', '--model', 'branching', '--metrics', '--box', '1,2,3'], /--box must look like x,y,w,h/],
  ['--box without --metrics', ['explain', 'img.png', '--model', 'branching', '--box', '1,2,3,4'], /--box is for the pointing game: add --metrics/],
  ['a bad sanity mode', ['sanity', 'img.png', '--model', 'branching', '--mode', 'sideways'], /--mode must be cascading or independent/],
  ['--require-pass of an unchecked method', ['sanity', 'img.png', '--model', 'branching', '--methods', 'gradient', '--require-pass', 'gradcam'], /--require-pass gradcam: add it to --methods/],
  ['an unknown similarity', ['sanity', 'img.png', '--model', 'branching', '--metric', 'mse'], /--metric must be one of spearman, spearmanAbs, ssim, hog/],
  ['sanity without images', ['sanity', '--model', 'branching'], /sanity takes one or more images/],
  ['top0', ['explain', 'img.png', '--model', 'branching', '--target', 'top0'], /k must be at least 1/],
];

for (const [what, args, message] of BAD) {
  test(`${what} exits 2 with one clear line`, () => {
    const r = cli(...args, ...(args.includes('--backend') ? [] : ['--backend', 'cpu']));
    assert.equal(r.code, 2, `exit ${r.code}; stderr: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('xai-lens:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(r.stdout, '');
  });
}

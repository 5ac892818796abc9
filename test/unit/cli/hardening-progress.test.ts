/**
 * Long work announces itself (dist/cli.js): a warning on stderr before work estimated at more
 * than a minute, with the passes or CAVs it counts, and Ctrl+C stops it (exit 130, the folders
 * made for the run removed); when stderr is not a terminal, a progress line per 10% step.
 *
 * The long runs are sized far beyond a minute (SmoothGrad over Integrated Gradients with 1000
 * samples: 65000 gradient passes of the demo CNN on the cpu backend; TCAV with 10000 runs at three
 * layers: 90000 CAVs), and are stopped as soon as the warning is printed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { makeSmallExperiment } from '../../helpers/tcav-images';
import { cli, cliUntil, SHAPES, tempDir } from './hardening-helpers';

const dir = tempDir('xai-progress-');
const p = (...names: string[]) => path.join(dir, ...names);
const WARNING = /^xai-lens: this will take about (\d+ s|\d+ min|\d+ h \d+ min) \((.+)\); Ctrl\+C stops it$/;

before(async () => {
  const pixels = Buffer.alloc(64 * 64 * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 131) % 253;
  await sharp(pixels, { raw: { width: 64, height: 64, channels: 3 } }).png().toFile(p('img.png'));
  await makeSmallExperiment(p('exp'), { json: { model: SHAPES, runs: 10000, layers: ['block1_relu', 'block2_relu', 'gap'] } });
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The progress lines of a run's stderr: their percentages, each a step of 10, rising, the last 100. */
function progressSteps(stderr: string): number[] {
  const lines = stderr.trimEnd().split('\n').filter((l) => l !== '');
  const steps = lines.map((l) => {
    const m = /^(\d+)% (.+) \((\d+ s|\d+ min)\)$/.exec(l);
    assert.ok(m, `a progress line: ${JSON.stringify(l)}`);
    return Number(m[1]);
  });
  assert.ok(steps.every((v, i) => v % 10 === 0 && v > 0 && (i === 0 || v > steps[i - 1])), `steps of 10%, rising: ${steps}`);
  assert.equal(steps.at(-1), 100);
  return steps;
}

test('explain, SmoothGrad over IG with 1000 samples: warns once before the work with its 65000 gradient passes; Ctrl+C stops it', async () => {
  const out = p('long-explain');
  const r = await cliUntil(['explain', p('img.png'), '--model', SHAPES, '--backend', 'cpu', '--method', 'smoothgrad', '--param', 'base=ig,samples=1000', '--out', out], {
    cwd: dir, until: WARNING, timeoutMs: 120_000,
  });
  assert.ok(r.matched, r.stderr);
  const [, , work] = WARNING.exec(r.matched)!;
  assert.equal(work, '65000 gradient passes', '1000 copies × (64 steps + 1) path points');
  assert.equal(r.stderr.split('\n').filter((l) => WARNING.test(l)).length, 1, 'one warning');
  assert.ok(r.code === 130 || r.signal === 'SIGINT', `stopped by Ctrl+C: exit ${r.code}, ${r.signal}`);
  assert.ok(!r.stderr.includes('    at '), r.stderr);
  assert.equal(fs.existsSync(out), false, 'the output folder made for the run is removed again');
});

test('explain with little work: no warning, no measuring run, and one map prints no progress', () => {
  const r = cli(['explain', p('img.png'), '--model', SHAPES, '--backend', 'cpu', '--out', p('short')], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
});

test('explain with several maps, stderr not a terminal: a progress line per 10% step, ending at 100%', () => {
  const r = cli(['explain', p('img.png'), '--model', SHAPES, '--backend', 'cpu', '--method', 'gradcam,gradient,ig', '--param', 'steps=8', '--json', '--out', p('several')], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  progressSteps(r.stderr);
  assert.match(r.stderr, /^100% (gradcam|gradient|ig) map \(/m);
  assert.equal(JSON.parse(r.stdout).maps.length, 3, 'stdout is the JSON alone');
});

test('explain with one long map, stderr not a terminal: the method says how far it is, a line per 10% step', () => {
  // 120 gradient passes: long enough to be measured and followed, short enough for a test.
  const r = cli(['explain', p('img.png'), '--model', SHAPES, '--backend', 'cpu', '--method', 'smoothgrad', '--param', 'samples=120', '--out', p('one-long')], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const steps = progressSteps(r.stderr);
  assert.ok(steps.length >= 5, `progress inside the one map, not only its end: ${steps}`);
  assert.match(r.stderr, /^\d+% smoothgrad \(/m);
});

test('sanity, stderr not a terminal: progress lines per 10% step instead of a redrawn line', () => {
  const r = cli(['sanity', p('img.png'), '--model', SHAPES, '--backend', 'cpu', '--methods', 'gradient'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  progressSteps(r.stderr);
  assert.ok(!r.stderr.includes('\r'), 'no carriage returns in a log');
});

test('tcav with 10000 runs: warns once with the CAVs it will train; Ctrl+C stops it and no result is saved', async () => {
  const file = p('exp', 'experiment.json');
  const r = await cliUntil(['tcav', file, '--backend', 'wasm'], { cwd: dir, until: WARNING, timeoutMs: 300_000 });
  assert.ok(r.matched, r.stderr);
  const [, , work] = WARNING.exec(r.matched)!;
  assert.match(work, /^90000 CAVs to train \(3 layers × 10000 runs × 3\) and the activations of \d+ images at 3 layers$/);
  assert.ok(r.code === 130 || r.signal === 'SIGINT', `stopped by Ctrl+C: exit ${r.code}, ${r.signal}`);
  assert.equal(fs.existsSync(p('exp', 'results')), false, 'no result, and the results folder made for the run is removed again');
});

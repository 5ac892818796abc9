/**
 * `xai-lens tcav` (dist/cli.js) on a small experiment with the demo shapes model: --json prints one
 * JSON object with a cell per concept × layer, the random baselines and the saved result's file
 * (under results/, or --out); the human report names every concept and layer and says
 * significant / n.s.; --cache and --runs are honoured; bad input exits 2 with one line on stderr.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadResult } from '../../../src/extension/tcav/results-file';
import type { TcavResult } from '../../../src/shared/tcav';
import { makeSmallExperiment } from '../../helpers/tcav-images';

const ROOT = path.resolve(__dirname, '../../../..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const MODEL = path.join(ROOT, 'demo', 'models', 'shapes');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-tcav-cli-'));
const base = path.join(tmp, 'base');
let experiment: string;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the base experiment in a folder of its own, optionally with another experiment.json. */
function copyExperiment(name: string, json?: (j: Record<string, unknown>) => Record<string, unknown>): string {
  const dir = path.join(tmp, name);
  fs.cpSync(base, dir, { recursive: true });
  const file = path.join(dir, 'experiment.json');
  if (json) fs.writeFileSync(file, JSON.stringify(json(JSON.parse(fs.readFileSync(file, 'utf8')))));
  return file;
}

before(async () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run npm run build first`);
  // The model named relative to the experiment, as people write it.
  experiment = await makeSmallExperiment(base, { json: { model: path.relative(base, MODEL).split(path.sep).join('/') } });
});

test('tcav --json prints one JSON object: a cell per concept × layer, the baselines, and the result saved under results/', () => {
  const file = copyExperiment('json');
  const dir = path.dirname(file);
  const r = cli('tcav', file, '--json', '--backend', 'wasm');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1, 'one line');
  const report = JSON.parse(r.stdout) as TcavResult & { backend: string; file: string };
  assert.equal(report.backend, 'wasm');
  assert.equal(report.experiment, file);
  assert.deepEqual(report.target, { index: 1, label: 'square' });
  assert.equal(report.model.file, path.join(MODEL, 'model.json'));
  assert.deepEqual(report.layers, ['block2_relu', 'gap']);
  assert.deepEqual(report.cells.map((c) => `${c.concept}@${c.layer}`).sort(), ['circles@block2_relu', 'circles@gap', 'plain@block2_relu', 'plain@gap']);
  for (const c of report.cells) {
    assert.equal(c.kind, 'concept');
    assert.equal(c.scores.length, 3, 'the experiment\'s 3 runs');
    assert.ok(c.scores.every((s) => s >= 0 && s <= 1));
    assert.equal(c.pAdjusted, Math.min(1, c.p * 4), 'Bonferroni over 4 tests');
  }
  assert.equal(report.tests, 4);
  assert.deepEqual(report.random.map((b) => b.layer), ['block2_relu', 'gap']);
  for (const b of report.random) assert.equal(b.scores.length, 3);
  assert.equal(report.cache.hits + report.cache.computed, 2 * (20 + 40 + 10));
  // The result file: under results/ beside the experiment, holding what was printed.
  assert.equal(path.dirname(report.file), path.join(dir, 'results'));
  assert.deepEqual(fs.readdirSync(path.join(dir, 'results')), [path.basename(report.file)]);
  const { backend: _b, file: _f, ...printed } = report;
  assert.deepEqual(loadResult(report.file), printed);
  // The default cache: .cache/tcav beside the experiment, reused by the next run.
  assert.ok(fs.existsSync(path.join(dir, '.cache', 'tcav')));
  const again = cli('tcav', file, '--json', '--backend', 'wasm', '--out', path.join(dir, 'second'));
  assert.equal(again.code, 0, again.stderr);
  const second = JSON.parse(again.stdout) as TcavResult & { file: string };
  assert.deepEqual(second.cache, { hits: report.cache.hits + report.cache.computed, computed: 0 });
  assert.deepEqual(second.cells, report.cells);
  assert.equal(path.dirname(second.file), path.join(dir, 'second'));
  assert.equal(fs.readdirSync(path.join(dir, 'results')).length, 1, '--out writes nowhere else');
});

test('the human report names every concept and layer, says significant or n.s., and honours --model, --runs, --out and --cache', () => {
  const file = copyExperiment('human', (j) => ({ ...j, model: undefined }));
  const dir = path.dirname(file);
  const out = path.join(tmp, 'human-out');
  const cache = path.join(tmp, 'human-cache');
  const r = cli('tcav', file, '--model', MODEL, '--runs', '2', '--out', out, '--cache', cache, '--backend', 'wasm');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^backend\s+wasm/);
  assert.match(r.stdout, /^model\s+shapes @ [0-9a-f]{8}, target square \(1\)$/m);
  assert.match(r.stdout, /^runs\s+2 × 10 images per set, 10 class images; Welch t-test, Bonferroni over 4 tests, α = 0\.05$/m);
  for (const layer of ['block2_relu', 'gap']) {
    assert.match(r.stdout, new RegExp(`^${layer}\\s+\\(random vs random\\)\\s+\\d\\.\\d\\d ± \\d\\.\\d\\d`, 'm'), `the baseline row of ${layer}`);
  }
  // Under each layer's baseline row, a row per concept ending in its verdict.
  const rows = lines.filter((l) => /^\s+(circles|plain)\s/.test(l));
  assert.equal(rows.length, 4, r.stdout);
  for (const row of rows) assert.match(row, /\d+%\s+(significant|n\.s\.)(\s+\(CAV near chance\))?$/, row);
  const layerRows = lines.map((l, i) => [l, i] as const).filter(([l]) => /\(random vs random\)/.test(l)).map(([, i]) => i);
  assert.deepEqual(layerRows.map((i) => lines[i].split(/\s+/)[0]), ['block2_relu', 'gap']);
  for (const i of layerRows) assert.deepEqual(lines.slice(i + 1, i + 3).map((l) => l.trim().split(/\s+/)[0]), ['circles', 'plain']);
  // Everything computed into --cache (none of it beside the experiment), the result saved in --out.
  const m = /cache (\d+) hits, (\d+) computed/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.deepEqual([Number(m[1]), Number(m[2])], [0, 2 * (20 + 30 + 10)], '2 runs: 3 random sets of 10');
  const cached = fs.readdirSync(cache, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
  assert.equal(cached.filter((d) => d.name.endsWith('.f32')).length, Number(m[2]));
  assert.equal(cached.filter((d) => d.name.endsWith('.cav')).length, 2 * 2 * 3, 'a CAV per layer, run and (concept or random-vs-random)');
  assert.equal(cached.length, Number(m[2]) + 12);
  assert.equal(fs.existsSync(path.join(dir, '.cache')), false);
  const saved = /^saved\s+(.+)$/m.exec(r.stdout)?.[1];
  assert.ok(saved && path.dirname(saved) === out, r.stdout);
  const result = loadResult(saved);
  assert.equal(result.runs, 2);
  assert.ok(result.cells.every((c) => c.scores.length === 2));
  assert.equal(fs.existsSync(path.join(dir, 'results')), false);
  // Not a terminal: a progress line at each 10% step crossed (not a redrawn line), ending at 100%.
  const steps = r.stderr.trimEnd().split('\n').map((l) => {
    const m = /^(\d+)% (.+) \((\d+ s|\d+ min)\)$/.exec(l);
    assert.ok(m, `a progress line: ${JSON.stringify(l)}`);
    return Number(m[1]);
  });
  assert.ok(steps.every((v, i) => v % 10 === 0 && v > 0 && (i === 0 || v > steps[i - 1])), `steps of 10%, rising: ${steps}`);
  assert.equal(steps.at(-1), 100);
});

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function assertBadInput(r: ReturnType<typeof cli>, message: RegExp): void {
  assert.equal(r.code, 2, `exit ${r.code}; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^xai-lens: /);
  assert.match(lines[0], message);
  assert.equal(r.stdout, '');
}

test('a missing experiment file exits 2 with one line naming it', () => {
  const file = path.join(tmp, 'nowhere', 'experiment.json');
  assertBadInput(cli('tcav', file, '--json', '--backend', 'wasm'), new RegExp(`cannot read the experiment ${esc(file)}`));
});

test('an experiment without "model" and no --model exits 2 with a message naming --model', () => {
  const file = copyExperiment('no-model', (j) => ({ ...j, model: undefined }));
  assertBadInput(cli('tcav', file, '--backend', 'wasm'), new RegExp(`--model is required: ${esc(file)} names no "model"`));
});

test('an unknown layer, one run and a missing argument exit 2 with one line', () => {
  const file = copyExperiment('bad-layer', (j) => ({ ...j, layers: ['gap', 'block9'] }));
  assertBadInput(cli('tcav', file, '--backend', 'wasm'), /has no layer "block9"/);
  assertBadInput(cli('tcav', experiment, '--runs', '1', '--backend', 'wasm'), /--runs must be an integer ≥ 2, got "1"/);
  assertBadInput(cli('tcav', '--backend', 'wasm'), /tcav takes one experiment file/);
});

/**
 * CLI hardening (dist/cli.js): every bad input and environment is exit 2 with one line on stderr,
 * no stack trace, and nothing written where it should not be.
 *
 * - output folders that are files, lie under files or cannot be written (all four commands,
 *   checked before any work; TCAV's cache and results folder too, and a cache that turns
 *   unwritable mid-run); any other file system error while writing;
 * - an unreadable image (CLI, and the decoder the panels use);
 * - a --method / --methods naming no method, an unknown --param key;
 * - output names unique per image file (extension included) and per target;
 * - the usage on stderr when it is an error, file content quoted safely in messages.
 *
 * The permission cases run as 'nobody' when the tests run as root (root ignores file modes).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { zipSync } from 'fflate';
import { decodeNpy } from '../../../src/extension/image/npy';
import { modelHash } from '../../../src/extension/tcav/activation-cache';
import { jsonErrorDetail, safeExcerpt, safeLine } from '../../../src/extension/util/excerpt';
import { makeSmallExperiment } from '../../helpers/tcav-images';
import { assertOneLine, cli, filesUnder, giveAway, isRoot, ROOT, SHAPES, tempDir, unprivileged, whyNoUnprivilegedRun, type Run } from './hardening-helpers';

const dir = tempDir('xai-hardening-');
const p = (...names: string[]) => path.join(dir, ...names);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
let noPermissions: string | undefined;
let png: Buffer;

const run = (args: readonly string[], o: { cwd?: string; asUser?: boolean } = {}): Run => cli(args, { cwd: o.cwd ?? dir, asUser: o.asUser });

before(async () => {
  noPermissions = whyNoUnprivilegedRun();
  const pixels = Buffer.alloc(30 * 20 * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37) % 251;
  const raw = { raw: { width: 30, height: 20, channels: 3 as const } };
  await sharp(pixels, raw).png().toFile(p('img.png'));
  await sharp(pixels, raw).tiff().toFile(p('img.tiff'));
  await sharp(pixels, raw).webp({ lossless: true }).toFile(p('img.webp'));
  await sharp(pixels, raw).avif({ lossless: true }).toFile(p('img.avif'));
  png = fs.readFileSync(p('img.png'));
  fs.mkdirSync(p('a'));
  fs.mkdirSync(p('b'));
  fs.copyFileSync(p('img.png'), p('a', 'img.png'));
  await sharp(pixels.map((v) => 255 - v), raw).png().toFile(p('b', 'img.png'));
  fs.copyFileSync(p('img.png'), p('locked.png'));
  fs.writeFileSync(p('afile'), 'a file, not a folder\n');
  fs.mkdirSync(p('ro'));
  // A PNG where a model or an experiment is expected.
  fs.mkdirSync(p('pngmodel'));
  fs.writeFileSync(p('pngmodel', 'model.json'), png);
  fs.mkdirSync(p('pngexp'));
  fs.writeFileSync(p('pngexp', 'experiment.json'), png);
  fs.writeFileSync(p('png-config.keras'), Buffer.from(zipSync({ 'config.json': png, 'model.weights.h5': new Uint8Array(16) }, { level: 0 })));
  await makeSmallExperiment(p('exp'), { json: { model: SHAPES } });
  fs.cpSync(p('exp'), p('ro-exp'), { recursive: true });
  giveAway(dir);
  fs.chmodSync(p('locked.png'), 0o000);
  fs.chmodSync(p('ro'), 0o555);
  fs.chmodSync(p('ro-exp'), 0o555);
});

after(() => {
  // The folders the tests made read-only, writable again so that the temporary folder can go.
  for (const f of [p('ro'), p('ro-exp'), path.join(p('cache-locked'), modelHash(SHAPES).slice(0, 16))]) if (fs.existsSync(f)) fs.chmodSync(f, 0o755);
  fs.rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------------------
// 1. Output folders that cannot be used, in every command, before any work.

const COMMANDS: [string, (out: string[]) => string[]][] = [
  ['explain', (out) => ['explain', p('img.png'), '--model', SHAPES, '--backend', 'cpu', ...out]],
  ['sanity', (out) => ['sanity', p('img.png'), '--model', SHAPES, '--methods', 'gradient', '--backend', 'cpu', ...out]],
  ['attention', (out) => ['attention', p('img.png'), '--model', SHAPES, '--backend', 'cpu', ...out]],
];

for (const [command, args] of COMMANDS) {
  test(`${command} --out: a file, or a folder under a file, is one line before any work; the file is untouched`, () => {
    const before = fs.readFileSync(p('afile'), 'utf8');
    assertOneLine(run(args(['--out', p('afile')])), new RegExp(`^xai-lens: the output folder ${esc(p('afile'))} \\(--out\\) is a file, not a folder$`));
    assertOneLine(run(args(['--out', p('afile', 'sub', 'deeper')])),
      new RegExp(`^xai-lens: the output folder ${esc(p('afile', 'sub', 'deeper'))} \\(--out\\) lies under ${esc(p('afile'))}, which is a file$`));
    assert.equal(fs.readFileSync(p('afile'), 'utf8'), before);
  });

  test(`${command} --out: a folder that cannot be created or written is one line naming it, nothing left behind`, (t) => {
    if (noPermissions) return t.skip(noPermissions);
    assertOneLine(run(args(['--out', p('ro', 'new')]), { asUser: true }),
      new RegExp(`^xai-lens: cannot create the output folder ${esc(p('ro', 'new'))} \\(--out\\): permission denied \\(in ${esc(p('ro'))}\\)$`));
    assertOneLine(run(args(['--out', p('ro')]), { asUser: true }), new RegExp(`^xai-lens: cannot write to the output folder ${esc(p('ro'))} \\(--out\\): permission denied$`));
    assert.deepEqual(filesUnder(p('ro')), [], 'no probe file, no folder');
  });
}

for (const command of ['explain', 'attention']) {
  test(`${command} in a read-only folder without --out: the default ./xai-lens-out cannot be made, one line says so`, (t) => {
    if (noPermissions) return t.skip(noPermissions);
    const args = COMMANDS.find(([c]) => c === command)![1]([]);
    assertOneLine(run(args, { cwd: p('ro'), asUser: true }),
      new RegExp(`^xai-lens: cannot create the output folder ${esc(p('ro', 'xai-lens-out'))} \\(the default; --out chooses another\\): permission denied \\(in ${esc(p('ro'))}\\)$`));
    assert.deepEqual(filesUnder(p('ro')), []);
  });
}

test('a bad model after the folder check: the folder made for the run is removed again', () => {
  assertOneLine(run(['explain', p('img.png'), '--model', p('nowhere'), '--backend', 'cpu', '--out', p('made', 'for', 'run')]), /no model found at /);
  assert.equal(fs.existsSync(p('made')), false, 'no empty folders left');
});

test('tcav: --cache or --out a file is one line before any work, and nothing is created beside the experiment', () => {
  const exp = p('exp', 'experiment.json');
  const listing = filesUnder(p('exp'));
  assertOneLine(run(['tcav', exp, '--backend', 'cpu', '--cache', p('afile')]), new RegExp(`^xai-lens: the activation cache ${esc(p('afile'))} \\(--cache\\) is a file, not a folder$`));
  assertOneLine(run(['tcav', exp, '--backend', 'cpu', '--out', p('afile')]), new RegExp(`^xai-lens: the results folder ${esc(p('afile'))} \\(--out\\) is a file, not a folder$`));
  assertOneLine(run(['tcav', exp, '--backend', 'cpu', '--cache', p('afile', 'cache')]), /the activation cache .* lies under .*afile, which is a file$/);
  assert.deepEqual(filesUnder(p('exp')), listing, 'no .cache/ or results/ made (the default cache is removed again)');
});

test('tcav: a read-only experiment folder (the default cache and results folder) is one line before any work', (t) => {
  if (noPermissions) return t.skip(noPermissions);
  const listing = filesUnder(p('ro-exp'));
  assertOneLine(run(['tcav', p('ro-exp', 'experiment.json'), '--backend', 'cpu'], { asUser: true }),
    new RegExp(`^xai-lens: cannot create the activation cache ${esc(p('ro-exp', '.cache', 'tcav'))} \\(the default; --cache chooses another\\): permission denied \\(in ${esc(p('ro-exp'))}\\)$`));
  assert.deepEqual(filesUnder(p('ro-exp')), listing);
});

test('tcav: a cache that cannot be written below its top folder fails mid-run in one line (ActivationCache.write), no result saved', (t) => {
  if (noPermissions) return t.skip(noPermissions);
  const cache = p('cache-locked');
  // The probe in the cache folder succeeds; the checkpoint's own folder inside it is read-only.
  fs.mkdirSync(path.join(cache, modelHash(SHAPES).slice(0, 16)), { recursive: true });
  giveAway(cache);
  fs.chmodSync(path.join(cache, modelHash(SHAPES).slice(0, 16)), 0o555);
  const out = p('cache-locked-results');
  assertOneLine(run(['tcav', p('exp', 'experiment.json'), '--backend', 'cpu', '--cache', cache, '--out', out], { asUser: true }),
    new RegExp(`^xai-lens: cannot write to the TCAV activation cache ${esc(cache)}: permission denied \\(`));
  assert.equal(fs.existsSync(out), false, 'the results folder made for the run is removed again');
});

test('any other file system error while writing is one line with exit 2, not a stack (a map\'s file name taken by a folder)', () => {
  fs.mkdirSync(p('taken', 'img.png.gradcam.npy'), { recursive: true });
  assertOneLine(run(['explain', p('img.png'), '--model', SHAPES, '--backend', 'cpu', '--out', p('taken')]),
    new RegExp(`^xai-lens: cannot open ${esc(p('taken', 'img.png.gradcam.npy'))}: it is a folder$`));
});

// ------------------------------------------------------------------------------------------
// 2. An image without read permission.

test('an unreadable image is "cannot read <file>: permission denied" in explain and sanity, nothing written', (t) => {
  if (noPermissions) return t.skip(noPermissions);
  for (const args of [['explain', p('locked.png')], ['sanity', p('locked.png'), '--methods', 'gradient']]) {
    const out = p(`out-locked-${args[0]}`);
    assertOneLine(run([...args, '--model', SHAPES, '--backend', 'cpu', '--out', out], { asUser: true }), new RegExp(`^xai-lens: cannot read ${esc(p('locked.png'))}: permission denied$`), args[0]);
    assert.equal(fs.existsSync(out), false);
  }
});

test('the panels\' decoder (loadModelInput, loadDisplayImage) rejects an unreadable image with the same UserError', (t) => {
  if (noPermissions) return t.skip(noPermissions);
  const decode = path.join(ROOT, 'out', 'src', 'extension', 'image', 'decode.js');
  const script = `const d = require(${JSON.stringify(decode)});
    const f = ${JSON.stringify(p('locked.png'))};
    Promise.allSettled([d.loadModelInput(f, { height: 8, width: 8, channels: 3 }), d.loadDisplayImage(f, 64)])
      .then((rs) => console.log(JSON.stringify(rs.map((r) => r.status === 'rejected' ? { name: r.reason.name, message: r.reason.message } : 'resolved'))));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: dir, ...unprivileged() });
  assert.equal(r.status, 0, r.stderr);
  const expected = { name: 'UserError', message: `cannot read ${p('locked.png')}: permission denied` };
  assert.deepEqual(JSON.parse(r.stdout), [expected, expected]);
});

// ------------------------------------------------------------------------------------------
// 3. Options that silently did nothing.

const EXPLAIN = ['explain', 'img.png', '--model', SHAPES, '--backend', 'cpu'];
const METHOD_IDS = /available: cam, gradcam, gradcampp, .*, random, rollout, gradrollout/;

const NOTHING: [string, string[], RegExp][] = [
  ['--method ""', [...EXPLAIN, '--method', ''], new RegExp(`^xai-lens: --method names no method \\(got ""\\); ${METHOD_IDS.source}, or all$`)],
  ['--method ,,,', [...EXPLAIN, '--method', ',,,'], /^xai-lens: --method names no method \(got ",,,"\); available: cam, .*, or all$/],
  ['sanity --methods ""', ['sanity', 'img.png', '--model', SHAPES, '--backend', 'cpu', '--methods', ''], new RegExp(`^xai-lens: --methods names no method \\(got ""\\); ${METHOD_IDS.source}$`)],
  ['a plain key no selected method has (step for steps)', [...EXPLAIN, '--method', 'ig', '--param', 'step=128'], /^xai-lens: unknown parameter "step": the selected methods take ig\.steps, ig\.baseline$/],
  ['a plain key of methods that take none', [...EXPLAIN, '--method', 'gradcam,gradient', '--param', 'steps=8'], /^xai-lens: unknown parameter "steps": the selected methods \(gradcam, gradient\) take no parameters$/],
  ['a key of a method not selected', [...EXPLAIN, '--method', 'gradcam', '--param', 'ig.steps=128'], /^xai-lens: parameter "ig\.steps" is for ig, which is not among the selected methods \(gradcam\)$/],
  ['a key of no method', [...EXPLAIN, '--param', 'igg.steps=128'], /^xai-lens: parameter "igg\.steps": there is no method "igg" \(methods: cam, gradcam, /],
  ['method.key unknown to it', [...EXPLAIN, '--param', 'gradcam.bogus=3'], /^xai-lens: Grad-CAM has no parameter "bogus" \(it has: none\)$/],
  ['sanity: a plain key no selected method has', ['sanity', 'img.png', '--model', SHAPES, '--backend', 'cpu', '--methods', 'gradient,ig', '--param', 'step=3'], /^xai-lens: unknown parameter "step": the selected methods take ig\.steps, ig\.baseline$/],
  ['sanity: a value out of range, before any work', ['sanity', 'img.png', '--model', SHAPES, '--backend', 'cpu', '--methods', 'ig', '--param', 'steps=1'], /^xai-lens: ig\.steps must be between 2 and 1024, got 1$/],
];

for (const [what, args, message] of NOTHING) {
  test(`${what}: exit 2, one line naming what exists, nothing written`, () => {
    const cwd = fs.mkdtempSync(p('nothing-'));
    for (const f of ['img.png']) fs.copyFileSync(p(f), path.join(cwd, f));
    assertOneLine(run(args, { cwd }), message);
    assert.deepEqual(filesUnder(cwd), ['img.png'], 'no ./xai-lens-out');
  });
}

test('the keys that exist still work: a plain key sets every selected method that has it; --method all takes any method\'s key', () => {
  const r = run([...EXPLAIN, '--method', 'gradcam,ig', '--param', 'steps=4', '--json', '--out', p('keys-ok')]);
  assert.equal(r.code, 0, r.stderr);
  const ig = JSON.parse(r.stdout).maps.find((m: { method: string }) => m.method === 'ig');
  assert.ok(ig, 'an IG map');
  const all = run([...EXPLAIN, '--method', 'all', '--param', 'rise.masks=8,ig.steps=4,smoothgrad.samples=2,occlusion.window=32', '--json', '--out', p('keys-all')]);
  assert.equal(all.code, 0, all.stderr);
});

// ------------------------------------------------------------------------------------------
// 4. Output names: unique per image file (extension included) and per target.

test('explain: --target 0 and --target 1, and img.png / img.tiff / img.webp / img.avif, write distinct files into one folder', () => {
  const out = p('names');
  const runs = [
    ['img.png', '--target', '0'], ['img.png', '--target', '1'], ['img.png'], ['img.tiff'], ['img.webp'], ['img.avif'],
  ];
  for (const [image, ...target] of runs) {
    const r = run(['explain', p(image), '--model', SHAPES, '--backend', 'cpu', '--method', 'gradcam,gradient', '--out', out, ...target]);
    assert.equal(r.code, 0, r.stderr);
  }
  const expected = ['img.png.class0', 'img.png.class1', 'img.png', 'img.tiff', 'img.webp', 'img.avif']
    .flatMap((stem) => ['gradcam', 'gradient'].flatMap((m) => [`${stem}.${m}.npy`, `${stem}.${m}.png`]));
  assert.deepEqual(filesUnder(out), expected.sort(), 'every run kept its own files');
  // Two targets are two different maps, each in its own file.
  const a = decodeNpy(fs.readFileSync(path.join(out, 'img.png.class0.gradient.npy'))).data;
  const b = decodeNpy(fs.readFileSync(path.join(out, 'img.png.class1.gradient.npy'))).data;
  assert.ok(a.some((v, i) => v !== b[i]), 'class 0 and class 1 maps differ');
});

test('explain --target top2: the top class keeps the short name, the second gets .class<k>; --json names every file', () => {
  const r = run(['explain', p('img.png'), '--model', SHAPES, '--backend', 'cpu', '--target', 'top2', '--json', '--out', p('top2')]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const [first, second] = report.targets.map((t: { index: number }) => t.index);
  assert.deepEqual(report.maps.map((m: { npy: string }) => path.basename(m.npy)), ['img.png.gradcam.npy', `img.png.class${second}.gradcam.npy`]);
  assert.notEqual(first, second);
  assert.deepEqual(filesUnder(p('top2')), ['img.png.gradcam.npy', 'img.png.gradcam.png', `img.png.class${second}.gradcam.npy`, `img.png.class${second}.gradcam.png`].sort());
});

test('sanity: two images named img.png in different folders get img.png and img.png~2; a named target is in the names', () => {
  const r = run(['sanity', p('a', 'img.png'), p('b', 'img.png'), '--model', SHAPES, '--backend', 'cpu', '--methods', 'gradient', '--target', '2', '--json', '--out', p('sanity-names')]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const steps = report.steps.length;
  const expected = ['img.png', 'img.png~2'].flatMap((n) => [
    `${n}.class2.sanity.png`, ...Array.from({ length: steps }, (_, s) => `${n}.class2.gradient.step${s}.npy`),
  ]);
  assert.deepEqual(filesUnder(p('sanity-names')), expected.sort());
  assert.deepEqual(Object.values(report.strips).map((f) => path.basename(f as string)).sort(), ['img.png.class2.sanity.png', 'img.png~2.class2.sanity.png']);
  // Different images, different maps.
  const a = decodeNpy(fs.readFileSync(p('sanity-names', 'img.png.class2.gradient.step0.npy'))).data;
  const b = decodeNpy(fs.readFileSync(p('sanity-names', 'img.png~2.class2.gradient.step0.npy'))).data;
  assert.ok(a.some((v, i) => v !== b[i]));
});

// ------------------------------------------------------------------------------------------
// 5. The usage's stream; file content quoted in messages.

test('xai-lens without arguments: the usage on stderr, nothing on stdout, exit 2; --help: the usage on stdout, exit 0', () => {
  const none = run([]);
  assert.equal(none.code, 2);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /^xai-lens — explanations for image models/);
  assert.match(none.stderr, /^commands:$/m);
  const help = run(['--help']);
  assert.equal(help.code, 0);
  assert.equal(help.stderr, '');
  assert.equal(help.stdout, `${none.stderr}`);
  assertOneLine(run(['explian']), /^xai-lens: unknown command "explian" \(try: xai-lens --help\)$/);
});

/** Printable ASCII only: what a quoted excerpt leaves of a file's bytes (the rest of the line is the project's own ASCII words here). */
const PRINTABLE = /^[\x20-\x7e]*$/;

test('a PNG given as model.json: one printable line, the file\'s bytes quoted as a short escaped excerpt', () => {
  const line = assertOneLine(run(['explain', 'img.png', '--model', p('pngmodel', 'model.json'), '--backend', 'cpu']), /model\.json is not valid JSON/);
  assert.match(line, PRINTABLE, JSON.stringify(line));
  assert.ok(line.length < 240, line);
});

test('a PNG given as experiment.json or as a .keras config: "unexpected character at position 0" and at most 40 escaped characters', () => {
  const exp = assertOneLine(run(['tcav', p('pngexp', 'experiment.json'), '--backend', 'cpu']),
    new RegExp(`^xai-lens: the experiment ${esc(p('pngexp', 'experiment.json'))} is not valid JSON: unexpected character at position 0: "\\\\ufffdPNG\\\\r\\\\n\\\\x1a\\\\n.*"\\.\\.\\.$`));
  assert.match(exp, PRINTABLE);
  const excerpt = /: (".*"\.\.\.)$/.exec(exp)![1];
  assert.ok(excerpt.length <= 40 + 5, `${excerpt.length} characters: ${excerpt}`);
  const keras = assertOneLine(run(['explain', 'img.png', '--model', p('png-config.keras'), '--backend', 'cpu']),
    /png-config\.keras is damaged: its config\.json is not valid JSON \(unexpected character at position 0: "\\ufffdPNG\\r\\n\\x1a\\n.*"\.\.\.\)$/);
  assert.match(keras, PRINTABLE);
});

test('safeExcerpt, jsonErrorDetail and safeLine: known answers', () => {
  assert.equal(safeExcerpt(png.subarray(0, 16)), '"\\x89PNG\\r\\n\\x1a\\n\\x00\\x00\\x00\\rIHDR"');
  assert.equal(safeExcerpt('a"b\\c\ttab'), '"a\\"b\\\\c\\ttab"');
  assert.equal(safeExcerpt('x'.repeat(50)), `"${'x'.repeat(40)}"...`);
  assert.equal(safeExcerpt('\u001b[2J\u001b[H'), '"\\x1b[2J\\x1b[H"');
  assert.equal(safeExcerpt('é→'), '"\\xe9\\u2192"');
  const detail = (text: string) => {
    try {
      JSON.parse(text);
    } catch (err) {
      return jsonErrorDetail(err, text);
    }
    return 'parsed';
  };
  assert.equal(detail(png.toString('utf8')), 'unexpected character at position 0: "\\ufffdPNG\\r\\n\\x1a\\n\\x00\\x00\\x00\\rIHDR"...');
  assert.equal(detail('{"a": 1,}'), 'expected double-quoted property name at position 8: "}"');
  assert.equal(detail('{"a": '), 'unexpected end of JSON input');
  assert.equal(detail('  \n'), 'the file is empty');
  assert.equal(safeLine('one\rtwo\u0007 × ≥'), 'one\\rtwo\\x07 × ≥');
});

test('root cannot be locked out: the permission cases ran as uid 65534 (or are skipped, saying why)', (t) => {
  if (noPermissions) return t.skip(noPermissions);
  if (!isRoot) return;
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.getuid())'], { encoding: 'utf8', ...unprivileged() });
  assert.equal(r.stdout.trim(), '65534');
});

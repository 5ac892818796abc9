// The user's path, in a real VS Code (code-server) with the packaged .vsix installed: open demo/,
// right-click an image in the explorer → Explain Image, and check the panel: predictions, a
// heatmap on the canvas, the opacity slider redraws it, clicking another class brings a new map.
// Measures cold (command → first heatmap drawn) and warm (another class) times, for the demo
// model and for a MobileNetV2-size model (224×224, random weights) on wasm; runs the sanity
// check, TCAV on the demo experiment and the attention views. Every panel opens beside a code
// editor, as a tab of one group (checked before the last screenshots). Screenshots go to test-artifacts/.
//
//   node out/test/e2e/explain.e2e.js --vsix xai-lens.vsix [--from <a folder laid out like demo/>]
//
// Prints "N passed, N failed" last; exits non-zero on failure.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { Frame, Page } from 'playwright-core';
import { describeWebviews, explorerContextMenu, explorerRow, openFileFromExplorer, openWorkbench, panelFrame, repoPath, runCommand, runE2e, screenshot } from './workbench';
import { buildMobileNetV2 } from '../../bench/mobilenet-v2';
import { fsSaveHandler } from '../../src/extension/model/fs-io';
import { initBackend } from '../../src/extension/backend/backends';
import { tcavAndAttentionSteps } from './tcav-attention-steps';

interface Truth { label: string; box: { x: number; y: number; w: number; h: number } }

/** A scratch copy of demo/ with a MobileNetV2-size model beside the demo model. */
async function makeWorkspace(from: string): Promise<string> {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-e2e-'));
  fs.cpSync(from, ws, { recursive: true });
  fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
  fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), JSON.stringify({ 'xaiLens.modelPath': 'models/shapes/model.json', 'xaiLens.backend': 'wasm' }));
  await initBackend('cpu');
  const model = buildMobileNetV2();
  await model.save(fsSaveHandler(path.join(ws, 'models', 'mobilenet-size')));
  model.dispose();
  return ws;
}

/** The map counter the panel bumps each time it draws a new map. */
async function mapVersion(frame: Frame): Promise<number> {
  const v = await frame.locator('body').getAttribute('data-map-version');
  return Number(v ?? 0);
}

/** Waits until the panel body's `data-<name>` counter reaches at least `atLeast`. */
async function waitForCount(frame: Frame, name: 'mapVersion' | 'maps' | 'metrics', atLeast: number, timeoutMs = 120_000): Promise<void> {
  try {
    await frame.waitForFunction(
      ([key, n]) => Number((globalThis as unknown as { document: { body: { dataset: Record<string, string | undefined> } } }).document.body.dataset[key] ?? 0) >= n,
      [name, atLeast] as const,
      { timeout: timeoutMs, polling: 100 },
    );
  } catch (err) {
    const panels = await describeWebviews(frame.page()).catch(() => []);
    throw new Error(`${(err as Error).message.split('\n')[0]} (waiting for ${name} ≥ ${atLeast}); panels: ${JSON.stringify(panels)}`);
  }
}

/** Waits until the panel has finished its current run (maps and metrics). */
async function waitForIdle(frame: Frame, timeoutMs = 180_000): Promise<void> {
  await frame.waitForFunction(() => !(globalThis as unknown as { document: { body: { classList: { contains(c: string): boolean } } } }).document.body.classList.contains('busy'), undefined, { timeout: timeoutMs, polling: 100 });
}

/** Waits for a map drawn after the `after`-th. */
async function waitForMap(frame: Frame, after: number, timeoutMs = 120_000): Promise<void> {
  await waitForCount(frame, 'mapVersion', after + 1, timeoutMs);
}

/** The canvas as a data URL (to compare snapshots), its size, and the spread of its red channel. */
async function canvasStats(frame: Frame): Promise<{ url: string; width: number; height: number; std: number }> {
  // The page's canvas, typed by hand: this file compiles without the DOM library.
  interface Canvas2D {
    width: number;
    height: number;
    toDataURL(): string;
    getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
  }
  return frame.locator('#heatmap').evaluate((el) => {
    const c = el as unknown as Canvas2D;
    const ctx = c.getContext('2d');
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let s = 0, s2 = 0;
    for (let i = 0; i < d.length; i += 4) { s += d[i]; s2 += d[i] * d[i]; }
    const n = d.length / 4;
    return { url: c.toDataURL(), width: c.width, height: c.height, std: Math.sqrt(Math.max(0, s2 / n - (s / n) ** 2)) };
  });
}

/** The tab labels of each editor group, left to right. */
async function editorGroups(page: Page): Promise<string[][]> {
  // The page's elements, typed by hand: this file compiles without the DOM library.
  interface El { textContent: string | null; querySelectorAll(selector: string): ArrayLike<El> }
  return page.locator('.part.editor .editor-group-container').evaluateAll((groups) =>
    groups.map((g) => Array.from((g as unknown as El).querySelectorAll('.tabs-container .tab'), (t) => (t.textContent ?? '').trim())));
}

async function explainFromExplorer(page: Page, folder: string, file: string): Promise<number> {
  const row = explorerRow(page, file);
  if (!(await row.isVisible().catch(() => false))) await explorerRow(page, folder).click();
  await row.waitFor({ timeout: 30_000 });
  // The remote extension host registers the extension's menu items a few seconds after the
  // explorer shows: until then the context menu lacks them, so close it and try again.
  const deadline = Date.now() + 90_000;
  for (;;) {
    const t0 = Date.now();
    try {
      await explorerContextMenu(page, file, 'Explain Image', 4_000);
      return t0;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await page.keyboard.press('Escape');
      await page.waitForTimeout(1_000);
    }
  }
}

const { values: opts } = parseArgs({ options: { vsix: { type: 'string', default: repoPath('xai-lens.vsix') }, from: { type: 'string', default: repoPath('demo') } } });

void makeWorkspace(opts.from!).then((workspace) => runE2e('e2e', { workspace, vsix: opts.vsix }, async ({ page, server, step, check }) => {
  if (!fs.existsSync(opts.vsix!)) throw new Error(`${opts.vsix} not found: run npm run package first`);
  const boxes = JSON.parse(fs.readFileSync(path.join(workspace, 'images', 'boxes.json'), 'utf8')) as Record<string, Truth>;
  const [imageName, truth] = Object.entries(boxes)[0];
  const timings: Record<string, number> = {};
  // The panels' CSP allows no inline styles: anything that needs one shows up as a violation.
  const cspViolations: string[] = [];
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
  });
  await openWorkbench(page, server.url);
  step('workbench up');
  // The user is working on code: the panels open beside it, as tabs of one group.
  const codeFile = 'train.py';
  await explorerRow(page, 'pytorch').click();
  await openFileFromExplorer(page, codeFile);

  // 1. right-click → Explain Image on the demo model: the panel, predictions, a heatmap.
  const t0 = await explainFromExplorer(page, 'images', imageName);
  const frame = await panelFrame(page, imageName);
  await waitForMap(frame, 0);
  timings.coldDemoMs = Date.now() - t0;
  step(`first heatmap drawn ${timings.coldDemoMs} ms after the command`);
  const predictions = frame.locator('#predictions li');
  check((await predictions.count()) === 3, 'the panel lists the predictions (3 classes)');
  check((await predictions.first().innerText()).includes(truth.label), `the top prediction is ${truth.label}`);
  const bars = await predictions.locator('.bar').evaluateAll((els) => els.map((el) => (el as unknown as { getBoundingClientRect(): { width: number } }).getBoundingClientRect().width));
  check(bars.length === 3 && bars[0] > 10 * bars[2], `the probability bars are drawn to scale without inline style attributes (${bars.map((w) => w.toFixed(0)).join(', ')} px)`);
  const first = await canvasStats(frame);
  check(first.width > 0 && first.height > 0 && first.std > 5, `the heatmap canvas is drawn (${first.width}×${first.height}, pixel spread ${first.std.toFixed(1)})`);

  // 2. the opacity slider redraws at once, without recomputing.
  await waitForIdle(frame);
  await screenshot(page, 'e2e-panel-demo');
  const versionBefore = await mapVersion(frame);
  await frame.locator('#opacity').fill('90');
  await page.waitForTimeout(200);
  const after = await canvasStats(frame);
  check(after.url !== first.url, 'moving the opacity slider changes the canvas');
  check((await mapVersion(frame)) === versionBefore, 'the opacity change did not ask for a new map');
  await frame.locator('#opacity').fill('55');

  // 3. the grid: a row per default method, each with its map and faithfulness numbers; the
  // curves chart; clicking a tile shows that map large; ticking a method adds its row.
  const rows = frame.locator('#grid .row:not(.head)');
  const defaultRows = await rows.count();
  await waitForCount(frame, 'metrics', defaultRows);
  check(defaultRows >= 4, `the grid shows ${defaultRows} methods: ${(await rows.locator('.name').allInnerTexts()).join(', ')}`);
  const aucs = (await rows.locator('.deletion').allInnerTexts()).map(Number);
  check(aucs.every((a) => a >= 0 && a <= 1), `every row has a deletion AUC (${aucs.join(', ')})`);
  check(await frame.locator('#deletion-chart').isVisible(), 'the deletion/insertion curves are drawn');
  const bigBefore = await canvasStats(frame);
  const secondRow = rows.nth(1);
  await secondRow.locator('.tile').click();
  await page.waitForTimeout(300);
  const bigAfter = await canvasStats(frame);
  const secondName = (await secondRow.locator('.name').innerText()).trim();
  check(bigAfter.url !== bigBefore.url && (await frame.locator('#focus-caption').innerText()).startsWith(secondName), `clicking the ${secondName} tile shows it large`);
  const mapsBefore = Number(await frame.locator('body').getAttribute('data-maps'));
  await frame.locator('vscode-checkbox[data-method="occlusion"]').click();
  await waitForCount(frame, 'maps', mapsBefore + 1);
  check((await rows.count()) === defaultRows + 1, 'ticking Occlusion adds its row and map');
  await waitForCount(frame, 'metrics', defaultRows + 1);
  await page.waitForTimeout(300);
  await frame.locator('#grid').screenshot({ path: repoPath('test-artifacts', 'e2e-grid.png') });
  await frame.locator('.curves').screenshot({ path: repoPath('test-artifacts', 'e2e-curves.png') });
  await screenshot(page, 'e2e-panel-grid');
  // The README's picture (docs/panel.png): the training script beside the panel, side bar closed.
  await runCommand(page, 'View: Toggle Primary Side Bar Visibility');
  await frame.locator('body').evaluate((el) => (el as unknown as { ownerDocument: { defaultView: { scrollTo(x: number, y: number): void } } }).ownerDocument.defaultView.scrollTo(0, 0));
  await page.waitForTimeout(500);
  await screenshot(page, 'e2e-readme');
  await runCommand(page, 'View: Toggle Primary Side Bar Visibility');
  await explorerRow(page, 'images').waitFor({ timeout: 30_000 });

  // 4. click another class: a new map arrives (warm re-explain).
  const v = await mapVersion(frame);
  const second = predictions.nth(1).locator('button');
  const secondLabel = (await second.locator('.name').innerText()).trim();
  const t1 = Date.now();
  await second.click();
  await waitForMap(frame, v);
  timings.warmDemoMs = Date.now() - t1;
  check((await frame.locator('#predictions button.selected .name').innerText()).trim() === secondLabel, `clicking ${secondLabel} explains it (${timings.warmDemoMs} ms)`);
  await page.waitForTimeout(300);
  await screenshot(page, 'e2e-panel-other-class');

  // 5. a window reload restores the panel (serializer + setState), still explaining that class.
  // VS Code's own reload saves the workbench state first (a bare page reload may not).
  await runCommand(page, 'Developer: Reload Window');
  await page.waitForTimeout(3_000);
  await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
  const restored = await panelFrame(page, imageName, 120_000);
  await waitForMap(restored, 0, 120_000);
  check((await restored.locator('#predictions button.selected .name').innerText()).trim() === secondLabel, `after a window reload the panel is back, showing ${secondLabel}`);

  // 6. the panel's Sanity check button: the strip, the curves and a verdict per method.
  await restored.locator('#sanity').click();
  const sanity = await panelFrame(page, `${imageName} (sanity check)`, 60_000);
  await sanity.waitForFunction(() => Number((globalThis as unknown as { document: { body: { dataset: Record<string, string | undefined> } } }).document.body.dataset.sanityDone ?? 0) >= 1, undefined, { timeout: 180_000, polling: 200 });
  const verdicts = await sanity.locator('.verdict').allInnerTexts();
  check(verdicts.length === 3 && verdicts.every((v) => /passes|fails/.test(v)), `the sanity check gives a verdict per method: ${verdicts.map((v) => v.replace(/\s+/g, ' ')).join('; ')}`);
  const stripTiles = await sanity.locator('.strip-cell canvas').count();
  const columns = await sanity.locator('.strip-row.head .strip-cell').count();
  check(columns > 2 && stripTiles === 3 * columns, `the strip shows 3 methods × ${columns} steps`);
  check(await sanity.locator('#sanity-chart').isVisible(), 'the similarity-vs-layer chart is drawn');
  await page.waitForTimeout(300);
  await screenshot(page, 'e2e-sanity');
  await sanity.locator('#strip').screenshot({ path: repoPath('test-artifacts', 'e2e-sanity-strip.png') });
  await sanity.locator('#sanity-chart').screenshot({ path: repoPath('test-artifacts', 'e2e-sanity-chart.png') });

  // 7. TCAV and attention (Run TCAV on the demo experiment, Show Attention on the token model and a ViT image).
  Object.assign(timings, await tcavAndAttentionSteps({ page, step, check }));

  // 8. the models PyTorch and Keras users bring: the demo task exported to ONNX and saved as .keras.
  for (const [k, model, name] of [[3, 'models/shapes-pytorch/model.onnx', 'onnx'], [4, 'models/shapes-keras/model.keras', 'keras']] as const) {
    fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'xaiLens.modelPath': model, 'xaiLens.backend': 'wasm' }));
    await page.waitForTimeout(1500); // the settings file is picked up
    const [image, truthK] = Object.entries(boxes)[k];
    const tk = Date.now();
    await explainFromExplorer(page, 'images', image);
    const frameK = await panelFrame(page, image, 120_000);
    await waitForMap(frameK, 0, 180_000);
    timings[`cold${name === 'onnx' ? 'Onnx' : 'Keras'}Ms`] = Date.now() - tk;
    check((await frameK.locator('#predictions li').first().innerText()).includes(truthK.label), `${model}: the top prediction is ${truthK.label}`);
    const stats = await canvasStats(frameK);
    check(stats.std > 5, `${model}: the heatmap is drawn (pixel spread ${stats.std.toFixed(1)})`);
    await waitForIdle(frameK);
    await screenshot(page, `e2e-panel-${name}`);
  }

  // 9. the MobileNetV2-size model, cold (first load of that model) and warm.
  fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'xaiLens.modelPath': 'models/mobilenet-size/model.json', 'xaiLens.backend': 'wasm' }));
  await page.waitForTimeout(1500); // the settings file is picked up
  const secondImage = Object.keys(boxes)[1];
  const t2 = await explainFromExplorer(page, 'images', secondImage);
  const frame2 = await panelFrame(page, secondImage, 120_000);
  await waitForMap(frame2, 0, 180_000);
  timings.coldMobileNetMs = Date.now() - t2;
  const v2 = await mapVersion(frame2);
  const t3 = Date.now();
  await frame2.locator('#predictions li').nth(1).locator('button').click();
  await waitForMap(frame2, v2, 120_000);
  timings.warmMobileNetMs = Date.now() - t3;
  check(true, `MobileNetV2-size model: cold ${timings.coldMobileNetMs} ms, warm ${timings.warmMobileNetMs} ms`);
  const groups = await editorGroups(page);
  check(groups.length === 2 && groups[0].length === 1 && groups[0][0].includes(codeFile) && groups[1].length >= 5 && groups[1].every((t) => /^(Explain|Sanity check|TCAV|Attention)/.test(t)),
    `the code and one group of panel tabs beside it: ${JSON.stringify(groups)}`);
  check(cspViolations.length === 0, `no Content Security Policy violation in any panel${cspViolations.length ? `: ${cspViolations[0]}` : ''}`);
  await screenshot(page, 'e2e-panel-mobilenet');

  // 10. the panel in a dark and a high-contrast theme (colours come from the theme's variables).
  for (const [theme, name] of [['Default Dark Modern', 'dark'], ['Default High Contrast', 'high-contrast']]) {
    fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'xaiLens.modelPath': 'models/mobilenet-size/model.json', 'xaiLens.backend': 'wasm', 'workbench.colorTheme': theme }));
    await page.waitForTimeout(2000);
    await screenshot(page, `e2e-panel-${name}`);
  }

  fs.mkdirSync(repoPath('test-artifacts'), { recursive: true });
  fs.writeFileSync(repoPath('test-artifacts', 'e2e-timings.json'), JSON.stringify(timings, null, 2));
  step(`timings ${JSON.stringify(timings)}`);
}), (err) => {
  console.error(err);
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
});

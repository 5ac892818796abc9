// The e2e steps for TCAV and attention, in the same workbench as the explain steps:
// - Run TCAV from the explorer on demo/tcav/experiment.json: the bars, the planted concept
//   significant, the unrelated one marked n.s.;
// - Show Attention on the token model: the head view's lines and the model view's matrices;
// - Show Attention on a ViT image: the explain panel's Attention tab draws a rollout map.
import type { Frame, Page } from 'playwright-core';
import { describeWebviews, explorerContextMenu, explorerRow, repoPath, runCommand, screenshot } from './workbench';

type Dataset = Record<string, string | undefined>;
interface Session { page: Page; step: (msg: string) => void; check: (ok: boolean, what: string) => void }

/** The webview frame whose body has data-view = `view` (and, if given, data-image = `image`). */
async function viewFrame(page: Page, view: string, image?: string, timeoutMs = 90_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const f of page.frames()) {
      const d = await f.evaluate(() => ({ ...(globalThis as unknown as { document?: { body?: { dataset: Dataset } | null } }).document?.body?.dataset })).catch(() => undefined);
      if (d?.view === view && (image === undefined || d.image === image)) return f;
    }
    if (Date.now() > deadline) throw new Error(`no ${view} panel after ${timeoutMs} ms; panels: ${JSON.stringify(await describeWebviews(page))}`);
    await page.waitForTimeout(250);
  }
}

const dataset = (frame: Frame) => frame.evaluate(() => ({ ...(globalThis as unknown as { document: { body: { dataset: Dataset } } }).document.body.dataset }));

/** Polls the panel body's data attributes until `test` holds (the webview's CSP forbids evaluating strings). */
async function waitForData(frame: Frame, test: (d: Dataset) => boolean, what: string, timeoutMs: number): Promise<Dataset> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await dataset(frame);
    if (test(d)) return d;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; body data: ${JSON.stringify(d)}`);
    await frame.page().waitForTimeout(250);
  }
}

/** Picks the quick-pick item whose label is `label` (the quick pick an extension shows). */
async function pickQuickItem(page: Page, label: string, timeoutMs = 60_000): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: timeoutMs });
  await input.fill(label);
  const row = page.locator('.quick-input-list .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: label }) }).first();
  await row.waitFor({ state: 'visible', timeout: timeoutMs });
  await row.click();
  await input.waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => {});
}

/** Right-clicks `file` in `folder` and picks `item`, retrying while the extension's menu items register. */
async function contextMenu(page: Page, folder: string, file: string, item: string): Promise<void> {
  const row = explorerRow(page, file);
  if (!(await row.isVisible().catch(() => false))) await explorerRow(page, folder).click();
  await row.waitFor({ timeout: 30_000 });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await explorerContextMenu(page, file, item, 4_000);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await page.keyboard.press('Escape');
      await page.waitForTimeout(1_000);
    }
  }
}

export async function tcavAndAttentionSteps({ page, step, check }: Session): Promise<Record<string, number>> {
  const timings: Record<string, number> = {};

  // TCAV from the explorer: right-click demo/tcav/experiment.json → Run TCAV.
  let t0 = Date.now();
  await contextMenu(page, 'tcav', 'experiment.json', 'Run TCAV');
  const tcav = await viewFrame(page, 'tcav');
  const d = await waitForData(tcav, (x) => x.tcavSource === 'run' && x.tcavDone === '1', 'a finished TCAV run', 300_000);
  timings.tcavMs = Date.now() - t0;
  step(`TCAV finished ${timings.tcavMs} ms after the command`);
  check(Number(d.tcavBars) === 4, `the TCAV panel draws 4 bars (2 concepts × 2 layers): ${d.tcavBars}`);
  const rows = await tcav.locator('table tr').allInnerTexts();
  const striped = rows.filter((r) => /^striped\s/.test(r.trim()) && !r.includes(' vs '));
  const dotted = rows.filter((r) => /^dotted\s/.test(r.trim()) && !r.includes(' vs '));
  check(striped.length === 2 && striped.every((r) => /\byes\b/.test(r)), `striped is significant at both layers: ${striped.map((r) => r.replace(/\s+/g, ' ')).join(' | ')}`);
  check(dotted.length === 2 && dotted.every((r) => /n\.s\./.test(r)), `dotted is marked n.s. at both layers: ${dotted.map((r) => r.replace(/\s+/g, ' ')).join(' | ')}`);
  check((await tcav.locator('canvas').count()) >= 2, 'a bar chart per layer');
  await page.waitForTimeout(500);
  await screenshot(page, 'e2e-tcav');

  // Show Attention: the workspace model is a CNN, so the command offers the models with attention.
  t0 = Date.now();
  await runCommand(page, 'XAI Lens: Show Attention');
  await pickQuickItem(page, 'token-marker');
  const tokens = await viewFrame(page, 'attention');
  const a = await waitForData(tokens, (x) => Number(x.attentionResults ?? 0) >= 1, 'the token attention', 120_000);
  timings.attentionTokensMs = Date.now() - t0;
  check(Number(a.attentionTokens) > 2 && Number(a.attentionLines) > 0, `the head view shows ${a.attentionTokens} tokens and ${a.attentionLines} lines`);
  await page.waitForTimeout(300);
  await screenshot(page, 'e2e-attention-head-view');
  await tokens.getByRole('tab', { name: /model view/i }).click();
  const m = await waitForData(tokens, (x) => Number(x.attentionCells ?? 0) >= 1, 'the model view', 30_000);
  check(Number(m.attentionCells) >= 2, `the model view shows ${m.attentionCells} attention matrices (layers × heads)`);
  await page.waitForTimeout(300);
  await screenshot(page, 'e2e-attention-model-view');

  // A ViT image: Show Attention from the explorer opens the explain panel on its Attention tab.
  t0 = Date.now();
  await contextMenu(page, 'vit-images', 'cross-1.png', 'Show Attention');
  await pickQuickItem(page, 'tiny-vit');
  const vit = await viewFrame(page, 'explain', 'cross-1.png');
  const v = await waitForData(vit, (x) => Number(x.attentionMaps ?? 0) >= 1, 'an attention map', 120_000);
  timings.attentionVitMs = Date.now() - t0;
  check(v.attentionMode === 'rollout', `the Attention tab draws a rollout map (${timings.attentionVitMs} ms)`);
  await page.waitForTimeout(300);
  await screenshot(page, 'e2e-attention-vit');
  await vit.locator('#app').screenshot({ path: repoPath('test-artifacts', 'e2e-attention-vit-panel.png') }).catch(() => undefined);
  return timings;
}

/**
 * The extension inside a real VS Code: activation, commands, Explain Image end to end (the map
 * arrives and peaks inside the shape), cancel, a corrupt image, and a new checkpoint.
 * Runs on a scratch copy of demo/ (the runner opens it), so the model files may be rewritten.
 */
import { describe, it, before } from 'mocha';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { MessageType } from '../../src/shared/protocol/common';
import type { MapMessage, MetricsMessage, PredictionsMessage, AttentionMapMessage } from '../../src/shared/protocol/explain';
import type { SanityMapMessage, SanityResultMessage } from '../../src/shared/protocol/sanity';
import type { TcavResultMessage } from '../../src/shared/protocol/tcav';
import type { AttentionTokenResultMessage } from '../../src/shared/protocol/attention';
import type { ToWebviewMessage } from '../../src/extension/panel/services';
import { argmax2d, resizeMap } from '../../src/shared/map-ops';
import type { XaiLensApi } from '../../src/extension/extension';
import { collectMessages, finished } from './messages';

const EXTENSION_ID = 'xai-lens.xai-lens';
let api: XaiLensApi;
let root: string;

interface Truth { label: string; box: { x: number; y: number; w: number; h: number } }

function collect(subject: string, until: (m: ToWebviewMessage, all: ToWebviewMessage[]) => boolean, timeoutMs = 45_000): Promise<ToWebviewMessage[]> {
  return collectMessages(api, subject, until, timeoutMs);
}

/** Resolves once nothing has been posted to the image's panels for `ms` (the panel is idle). */
function quiet(subject: string, ms = 3000): Promise<void> {
  return new Promise((resolve) => {
    const subs: vscode.Disposable[] = [];
    const done = () => {
      subs.forEach((d) => d.dispose());
      resolve();
    };
    let timer = setTimeout(done, ms);
    subs.push(api.onDidPostMessage((e) => {
      if (e.subject !== subject) return;
      clearTimeout(timer);
      timer = setTimeout(done, ms);
    }));
  });
}

describe('XAI Lens in VS Code', () => {
  before(async () => {
    const ext = vscode.extensions.getExtension<XaiLensApi>(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} is installed`);
    api = await ext.activate();
    root = vscode.workspace.workspaceFolders![0].uri.fsPath;
  });

  it('registers exactly the commands package.json declares', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const declared = (ext.packageJSON.contributes.commands as { command: string }[]).map((c) => c.command).sort();
    const registered = (await vscode.commands.getCommands(true)).filter((c) => c.startsWith('xaiLens.')).sort();
    assert.deepEqual(registered, declared);
  });

  it('Explain Image opens a panel that receives predictions and a map peaking inside the shape', async () => {
    const boxes = JSON.parse(fs.readFileSync(path.join(root, 'images', 'boxes.json'), 'utf8')) as Record<string, Truth>;
    for (const [name, truth] of Object.entries(boxes).slice(0, 3)) {
      const image = path.join(root, 'images', name);
      const done = collect(image, finished);
      await vscode.commands.executeCommand('xaiLens.explainImage', vscode.Uri.file(image));
      const messages = await done;
      const failed = messages.find((m) => m.type === MessageType.Failed);
      assert.equal(failed, undefined, JSON.stringify(failed));
      const preds = messages.find((m): m is PredictionsMessage => m.type === MessageType.Predictions)!;
      assert.equal(preds.predictions[0].label, truth.label);
      assert.equal(preds.target.label, truth.label);
      const map = messages.find((m): m is MapMessage => m.type === MessageType.Map)!;
      assert.equal(map.method, 'gradcam');
      const up = resizeMap(new Float32Array(map.data), map.height, map.width, 64, 64);
      const peak = argmax2d(up, 64, 64);
      const b = truth.box;
      assert.ok(peak.x >= b.x && peak.x < b.x + b.w && peak.y >= b.y && peak.y < b.y + b.h, `${name}: peak ${JSON.stringify(peak)} outside ${JSON.stringify(b)}`);
      assert.ok(api.panelFor(image), 'the panel is open');
    }
  });

  it('explains another class on request, and a later request supersedes an earlier one', async () => {
    const image = path.join(root, 'images', Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'images', 'boxes.json'), 'utf8')))[0]);
    const panel = api.panelFor(image) ?? (await vscode.commands.executeCommand<unknown>('xaiLens.explainImage', vscode.Uri.file(image)), api.panelFor(image))!;
    const done = collect(image, (m) => m.type === MessageType.Done && m.requestId === 102);
    void panel.onMessage({ type: MessageType.Explain, requestId: 101, target: 1 });
    void panel.onMessage({ type: MessageType.Explain, requestId: 102, target: 2 });
    const messages = await done;
    const preds = messages.filter((m): m is PredictionsMessage => m.type === MessageType.Predictions);
    assert.ok(preds.every((p) => p.requestId === 102), 'the superseded request posts no results');
    assert.equal(preds[0].target.index, 2);
    assert.ok(messages.some((m) => m.type === MessageType.Map && m.requestId === 102));
  });

  it('cancel stops a run and says so', async () => {
    const image = path.join(root, 'images', fs.readdirSync(path.join(root, 'images')).find((f) => /\.(png|jpe?g)$/.test(f))!);
    await vscode.commands.executeCommand('xaiLens.explainImage', vscode.Uri.file(image));
    const panel = api.panelFor(image)!;
    const done = collect(image, (m) => finished(m) && 'requestId' in m && m.requestId === 201);
    void panel.onMessage({ type: MessageType.Explain, requestId: 201, target: 0 });
    void panel.onMessage({ type: MessageType.Cancel, requestId: 201 });
    const messages = await done;
    const last = messages[messages.length - 1];
    assert.equal(last.type, MessageType.Failed);
    assert.equal(last.type === MessageType.Failed && last.cancelled, true);
    assert.ok(!messages.some((m) => m.type === MessageType.Map && m.requestId === 201));
  });

  it('a corrupt image shows an error message with the cause, and the next image still works', async () => {
    const bad = path.join(root, 'images', 'corrupt.png');
    fs.writeFileSync(bad, Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
    const error = new Promise<string>((resolve) => {
      const sub = api.onDidShowError((m) => {
        sub.dispose();
        resolve(m);
      });
    });
    await vscode.commands.executeCommand('xaiLens.explainImage', vscode.Uri.file(bad));
    assert.match(await error, /corrupt\.png/);
    const good = path.join(root, 'images', Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'images', 'boxes.json'), 'utf8')))[1]);
    const done = collect(good, finished);
    const panel = api.panelFor(good);
    if (panel) void panel.onMessage({ type: MessageType.Explain, requestId: 301 });
    else await vscode.commands.executeCommand('xaiLens.explainImage', vscode.Uri.file(good));
    const messages = await done;
    assert.equal(messages[messages.length - 1].type, MessageType.Done);
  });

  it('recomputes open panels when training writes a new checkpoint', async () => {
    const image = path.join(root, 'images', Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'images', 'boxes.json'), 'utf8')))[0]);
    if (!api.panelFor(image)) {
      const first = collect(image, finished);
      await vscode.commands.executeCommand('xaiLens.explainImage', vscode.Uri.file(image));
      await first;
    }
    const modelDir = path.join(root, 'models', 'shapes');
    const recomputed = collect(image, (m, all) => finished(m) && all.some((x) => x.type === MessageType.Started && x.reason === 'checkpoint'), 30_000);
    // What a training loop does: rewrite the weights, then model.json.
    const weights = fs.readdirSync(modelDir).filter((f) => f.endsWith('.bin'));
    for (const w of weights) fs.writeFileSync(path.join(modelDir, w), fs.readFileSync(path.join(modelDir, w)));
    fs.writeFileSync(path.join(modelDir, 'model.json'), fs.readFileSync(path.join(modelDir, 'model.json')));
    const messages = await recomputed;
    const preds = messages.find((m): m is PredictionsMessage => m.type === MessageType.Predictions);
    assert.ok(preds, 'new predictions');
    assert.equal(messages[messages.length - 1].type, MessageType.Done);
    assert.ok(Date.parse(preds.checkpoint) > Date.now() - 60_000, `the checkpoint shown is the new one: ${preds.checkpoint}`);
  });

  it('Export PNG writes the overlay beside the image; Copy as .npy puts a loadable map on the clipboard', async () => {
    const name = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'images', 'boxes.json'), 'utf8')))[2];
    const image = path.join(root, 'images', name);
    if (!api.panelFor(image)) {
      const done = collect(image, finished);
      await vscode.commands.executeCommand('xaiLens.explainImage', vscode.Uri.file(image));
      await done;
    }
    const panel = api.panelFor(image)!;
    const png = path.join(root, 'images', name.replace(/\.[^.]+$/, '.gradcam.png'));
    fs.rmSync(png, { force: true });
    void panel.onMessage({ type: MessageType.ExportPng, method: 'gradcam', colormap: 'jet', opacity: 0.6 });
    for (let i = 0; i < 100 && !fs.existsSync(png); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(fs.existsSync(png), `${png} was written`);
    assert.deepEqual([...fs.readFileSync(png).subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"

    await vscode.env.clipboard.writeText('');
    void panel.onMessage({ type: MessageType.CopyNpy, method: 'gradcam' });
    let text = '';
    for (let i = 0; i < 100 && !text.includes('np.load'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      text = await vscode.env.clipboard.readText();
    }
    const b64 = /b64decode\("([A-Za-z0-9+/=]+)"\)/.exec(text)?.[1];
    assert.ok(b64, `a Python snippet with the .npy: ${text.slice(0, 80)}`);
    const npy = Buffer.from(b64, 'base64');
    assert.equal(npy.subarray(1, 6).toString('latin1'), 'NUMPY');
    assert.match(npy.toString('latin1', 10, 10 + npy.readUInt16LE(8)), /'shape': \(64, 64\)/);
  });

  it('the method grid: a new selection computes only the new methods, each map gets faithfulness metrics and the pointing game', async function () {
    this.timeout(300_000);
    const boxes = JSON.parse(fs.readFileSync(path.join(root, 'images', 'boxes.json'), 'utf8')) as Record<string, Truth>;
    const name = Object.keys(boxes)[4];
    const image = path.join(root, 'images', name);
    if (!api.panelFor(image)) {
      const first = collect(image, finished, 120_000);
      await vscode.commands.executeCommand('xaiLens.explainImage', vscode.Uri.file(image));
      await first;
    }
    await quiet(image);
    const panel = api.panelFor(image)!;
    const methods = ['gradcam', 'occlusion', 'random'];
    const once = collect(image, (m) => finished(m) && 'requestId' in m && m.requestId === 401, 120_000);
    void panel.onMessage({ type: MessageType.Explain, requestId: 401, methods, metrics: true });
    const first = await once;
    assert.equal(first[first.length - 1].type, MessageType.Done, JSON.stringify(first.find((m) => m.type === MessageType.Failed)));
    const maps = first.filter((m): m is MapMessage => m.type === MessageType.Map);
    // Maps arrive as they are ready (reused ones first, then as the pool's workers finish them):
    // the panel places each by its method, so only the set is fixed.
    assert.deepEqual(maps.map((m) => m.method).sort(), [...methods].sort(), 'one map per selected method');
    const metrics = first.filter((m): m is MetricsMessage => m.type === MessageType.Metrics);
    assert.deepEqual(metrics.map((m) => m.method).sort(), [...methods].sort(), 'metrics for every map');
    for (const m of metrics) {
      assert.ok(m.metrics.deletion.auc >= 0 && m.metrics.deletion.auc <= 1, `${m.method} deletion AUC ${m.metrics.deletion.auc}`);
      assert.equal(m.metrics.deletion.curve.length, m.metrics.insertion.curve.length);
      assert.ok(m.metrics.pointing, `${m.method}: the pointing game uses boxes.json`);
      assert.deepEqual(m.metrics.pointing.box, boxes[name].box);
    }
    const gradcam = metrics.find((m) => m.method === 'gradcam')!.metrics;
    const random = metrics.find((m) => m.method === 'random')!.metrics;
    assert.equal(gradcam.pointing?.hit, true, 'Grad-CAM points at the shape');
    assert.ok(gradcam.deletion.auc < random.deletion.auc, `Grad-CAM deletion AUC ${gradcam.deletion.auc} < random ${random.deletion.auc}`);

    // Adding a method: the maps already shown come back as they were (same values), unrecomputed.
    const again = collect(image, (m) => finished(m) && 'requestId' in m && m.requestId === 402, 120_000);
    void panel.onMessage({ type: MessageType.Explain, requestId: 402, methods: [...methods, 'gradient'], metrics: true });
    const second = (await again).filter((m): m is MapMessage => m.type === MessageType.Map);
    assert.deepEqual(second.map((m) => m.method).sort(), [...methods, 'gradient'].sort());
    for (const m of maps) {
      const twin = second.find((x) => x.method === m.method)!;
      assert.equal(twin.ms, m.ms, `${m.method} was reused, not recomputed`);
      assert.deepEqual(new Float32Array(twin.data), new Float32Array(m.data));
    }
  });

  it('Run Sanity Check: a cascade over the demo model with a verdict per method, on a copy that leaves the explain panel untouched', async function () {
    this.timeout(300_000);
    const name = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'images', 'boxes.json'), 'utf8')))[0];
    const image = path.join(root, 'images', name);
    const before = collect(image, (m) => finished(m) && 'requestId' in m && m.requestId === 501, 120_000);
    await vscode.commands.executeCommand('xaiLens.explainImage', vscode.Uri.file(image));
    await quiet(image);
    void api.panelFor(image)!.onMessage({ type: MessageType.Explain, requestId: 501, methods: ['gradcam'], metrics: false, target: 0 });
    const mapBefore = (await before).find((m): m is MapMessage => m.type === MessageType.Map)!;

    const done = collect(image, (m) => m.type === MessageType.SanityResult || m.type === MessageType.Failed, 240_000);
    await vscode.commands.executeCommand('xaiLens.runSanityCheck', vscode.Uri.file(image));
    const messages = await done;
    const result = messages.find((m): m is SanityResultMessage => m.type === MessageType.SanityResult);
    assert.ok(result, JSON.stringify(messages.find((m) => m.type === MessageType.Failed)));
    const r = result.result;
    assert.equal(r.mode, 'cascading');
    assert.ok(r.steps.length > 2, `${r.steps.length} steps`);
    assert.deepEqual(r.summary.map((x) => x.method), ['gradient', 'gradcam', 'guidedbp']);
    const strip = messages.filter((m): m is SanityMapMessage => m.type === MessageType.SanityMap);
    assert.equal(strip.length, r.steps.length * 3, 'a map per method per step for the strip');
    assert.ok(api.sanityPanelFor(image), 'the sanity panel is open');

    // The explain panel's model was not touched. Maps already shown are reused, so compute a new
    // one: on the demo model's GAP → Dense head HiResCAM equals Grad-CAM, but only with the same weights.
    const after = collect(image, (m) => finished(m) && 'requestId' in m && m.requestId === 502, 120_000);
    void api.panelFor(image)!.onMessage({ type: MessageType.Explain, requestId: 502, methods: ['hirescam'], metrics: false, target: 0 });
    const hires = (await after).find((m): m is MapMessage => m.type === MessageType.Map && m.method === 'hirescam')!;
    const a = new Float32Array(hires.data);
    const b = new Float32Array(mapBefore.data);
    const scale = Math.max(...b.map(Math.abs));
    assert.ok(scale > 0 && a.every((v, i) => Math.abs(v - b[i]) <= 1e-4 * scale), 'HiResCAM after the sanity check equals Grad-CAM before it');
  });

  it('Run TCAV on the demo experiment: the planted concept is significant for its class, the unrelated one is not, and the result is saved', async function () {
    this.timeout(300_000);
    const experiment = path.join(root, 'tcav', 'experiment.json');
    const done = collect(experiment, (m) => m.type === MessageType.TcavResult || m.type === MessageType.Failed, 240_000);
    await vscode.commands.executeCommand('xaiLens.runTcav', vscode.Uri.file(experiment));
    const messages = await done;
    const result = messages.find((m): m is TcavResultMessage => m.type === MessageType.TcavResult);
    assert.ok(result, JSON.stringify(messages.find((m) => m.type === MessageType.Failed)));
    const r = result.result;
    assert.equal(r.target.label, 'square');
    assert.ok(messages.some((m) => m.type === MessageType.TcavProgress), 'progress was reported');
    for (const layer of r.layers) {
      const striped = r.cells.find((c) => c.concept === 'striped' && c.layer === layer)!;
      const dotted = r.cells.find((c) => c.concept === 'dotted' && c.layer === layer)!;
      assert.ok(striped.mean >= 0.8 && striped.significant, `striped at ${layer}: ${striped.mean} p_adj ${striped.pAdjusted}`);
      assert.ok(!dotted.significant, `dotted at ${layer}: ${dotted.mean} p_adj ${dotted.pAdjusted}`);
    }
    assert.ok(fs.existsSync(result.file) && result.saved.some((x) => x.file === result.file), 'saved beside the experiment');
    assert.ok(api.tcavPanelFor(experiment), 'the TCAV panel is open');
  });

  it('Show Attention: the token model opens the head/model-view panel with every layer; a ViT image gets a rollout map over its patches', async function () {
    this.timeout(180_000);
    const config = vscode.workspace.getConfiguration('xaiLens');
    const before = config.get<string>('modelPath');
    try {
      const tokenModel = path.join(root, 'models', 'token-marker', 'model.json');
      await config.update('modelPath', 'models/token-marker/model.json', vscode.ConfigurationTarget.Workspace);
      const tokens = collect(tokenModel, (m) => m.type === MessageType.AttentionTokenResult || m.type === MessageType.Failed, 90_000);
      await vscode.commands.executeCommand('xaiLens.showAttention');
      const got = await tokens;
      const result = got.find((m): m is AttentionTokenResultMessage => m.type === MessageType.AttentionTokenResult);
      assert.ok(result, JSON.stringify(got.find((m) => m.type === MessageType.Failed)));
      assert.ok(api.attentionPanelFor(tokenModel), 'the token attention panel is open');
      const strings = result.tokens[0];
      assert.ok(strings.includes('needle'), `the example has the marker: ${strings.join(' ')}`);
      assert.equal(result.probabilities.length, result.layers.length);
      assert.equal(result.predictions?.[0].label, 'present');

      // The ViT: its image's explain panel answers an attention request with a map over the 4×4 patches.
      await config.update('modelPath', 'models/tiny-vit/model.json', vscode.ConfigurationTarget.Workspace);
      const image = path.join(root, 'vit-images', 'cross-1.png');
      await vscode.commands.executeCommand('xaiLens.showAttention', vscode.Uri.file(image));
      const panel = api.panelFor(image);
      assert.ok(panel, 'Show Attention on an image opens its explain panel');
      await quiet(image);
      const map = collect(image, (m) => (m.type === MessageType.AttentionMap || m.type === MessageType.Failed) && 'requestId' in m && m.requestId === 701, 90_000);
      void panel.onMessage({ type: MessageType.Attention, requestId: 701, mode: 'rollout', fusion: 'mean', discardRatio: 0 });
      const att = (await map).find((m): m is AttentionMapMessage => m.type === MessageType.AttentionMap);
      assert.ok(att, 'an attention map arrives');
      assert.deepEqual([att.height, att.width], [4, 4]);
      const truth = JSON.parse(fs.readFileSync(path.join(root, 'vit-images', 'patches.json'), 'utf8')) as Record<string, { patch: number }>;
      const values = new Float32Array(att.data);
      const peak = values.indexOf(Math.max(...values));
      assert.equal(peak, truth['cross-1.png'].patch, `the rollout peaks on the deciding patch (${JSON.stringify(Array.from(values, (v) => v.toFixed(3)))})`);
    } finally {
      await config.update('modelPath', before, vscode.ConfigurationTarget.Workspace);
    }
  });
});

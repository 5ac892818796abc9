/**
 * The models PyTorch and Keras users bring, inside a real VS Code: Explain Image on the demo's
 * ONNX export and Keras 3 .keras model (predictions, a Grad-CAM map peaking inside the shape, the
 * layer picker offering PyTorch module paths), a sanity cascade on the ONNX model, and a training
 * loop overwriting model.onnx re-explaining the open panel. Runs on the scratch copy of demo/.
 */
import { describe, it, before, after } from 'mocha';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { MessageType } from '../../src/shared/protocol/common';
import type { InitMessage, MapMessage, PredictionsMessage } from '../../src/shared/protocol/explain';
import type { SanityResultMessage } from '../../src/shared/protocol/sanity';
import type { ToWebviewMessage } from '../../src/extension/panel/services';
import { argmax2d, resizeMap } from '../../src/shared/map-ops';
import type { XaiLensApi } from '../../src/extension/extension';
import { collectMessages, finished } from './messages';

const EXTENSION_ID = 'xai-lens.xai-lens';
let api: XaiLensApi;
let root: string;
let boxes: [string, { label: string; box: { x: number; y: number; w: number; h: number } }][];

function collect(subject: string, until: (m: ToWebviewMessage, all: ToWebviewMessage[]) => boolean, timeoutMs = 90_000): Promise<ToWebviewMessage[]> {
  return collectMessages(api, subject, until, timeoutMs);
}

async function useModel(relative: string): Promise<void> {
  await vscode.workspace.getConfiguration('xaiLens').update('modelPath', relative, vscode.ConfigurationTarget.Workspace);
}

/** Explains image `k` of boxes.json with the model set now; returns what the panel was sent. */
async function explain(k: number): Promise<{ image: string; messages: ToWebviewMessage[] }> {
  const image = path.join(root, 'images', boxes[k][0]);
  const done = collect(image, finished);
  await vscode.commands.executeCommand('xaiLens.explainImage', vscode.Uri.file(image));
  const messages = await done;
  const failed = messages.find((m) => m.type === MessageType.Failed);
  assert.equal(failed, undefined, JSON.stringify(failed));
  return { image, messages };
}

function assertPeakInBox(k: number, messages: ToWebviewMessage[]): void {
  const map = messages.find((m): m is MapMessage => m.type === MessageType.Map && m.method === 'gradcam')!;
  assert.ok(map, 'a Grad-CAM map');
  const up = resizeMap(new Float32Array(map.data), map.height, map.width, 64, 64);
  const peak = argmax2d(up, 64, 64);
  const b = boxes[k][1].box;
  assert.ok(peak.x >= b.x && peak.x < b.x + b.w && peak.y >= b.y && peak.y < b.y + b.h, `${boxes[k][0]}: peak ${JSON.stringify(peak)} outside ${JSON.stringify(b)}`);
}

describe('Models from PyTorch (ONNX) and Keras (.keras, .h5)', () => {
  let previous: string | undefined;

  before(async () => {
    api = await vscode.extensions.getExtension<XaiLensApi>(EXTENSION_ID)!.activate();
    root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    boxes = Object.entries(JSON.parse(fs.readFileSync(path.join(root, 'images', 'boxes.json'), 'utf8')));
    previous = vscode.workspace.getConfiguration('xaiLens').get<string>('modelPath');
  });

  after(async () => {
    await useModel(previous ?? '');
  });

  it('Explain Image on the PyTorch ONNX export (chosen from the explorer): the right class, Grad-CAM on the shape, module paths in the layer picker', async function () {
    this.timeout(180_000);
    // Right-click model.onnx → XAI Lens: Select Model.
    await vscode.commands.executeCommand('xaiLens.selectModel', vscode.Uri.file(path.join(root, 'models', 'shapes-pytorch', 'model.onnx')));
    assert.equal(vscode.workspace.getConfiguration('xaiLens').get<string>('modelPath'), 'models/shapes-pytorch/model.onnx');
    const k = 6;
    const { messages } = await explain(k);
    const init = messages.find((m): m is InitMessage => m.type === MessageType.Init)!;
    assert.match(init.model.file, /shapes-pytorch[\\/]model\.onnx$/);
    const names = init.layers.map((l) => l.name);
    for (const module of ['layer1', 'layer2']) assert.ok(names.includes(module), `layer picker: ${names.join(', ')}`);
    assert.ok(names.every((n) => !n.startsWith('/')), `module paths, not ONNX node names: ${names.join(', ')}`);
    assert.equal(init.defaultLayer, 'layer2');
    const preds = messages.find((m): m is PredictionsMessage => m.type === MessageType.Predictions)!;
    assert.equal(preds.predictions[0].label, boxes[k][1].label);
    assertPeakInBox(k, messages);
  });

  it('Explain Image on the Keras 3 .keras model: the right class and Grad-CAM on the shape', async function () {
    this.timeout(180_000);
    await useModel('models/shapes-keras/model.keras');
    const k = 8;
    const { messages } = await explain(k);
    const init = messages.find((m): m is InitMessage => m.type === MessageType.Init)!;
    assert.match(init.model.file, /shapes-keras[\\/]model\.keras$/);
    assert.ok(init.defaultLayer, 'a default layer');
    const preds = messages.find((m): m is PredictionsMessage => m.type === MessageType.Predictions)!;
    assert.equal(preds.predictions[0].label, boxes[k][1].label);
    assertPeakInBox(k, messages);
  });

  it('Run Sanity Check on the ONNX model: a cascade from the logits down, with a verdict per method', async function () {
    this.timeout(300_000);
    await useModel('models/shapes-pytorch/model.onnx');
    const image = path.join(root, 'images', boxes[6][0]);
    const done = collect(image, (m) => m.type === MessageType.SanityResult || m.type === MessageType.Failed, 280_000);
    await vscode.commands.executeCommand('xaiLens.runSanityCheck', vscode.Uri.file(image));
    const messages = await done;
    const result = messages.find((m): m is SanityResultMessage => m.type === MessageType.SanityResult);
    assert.ok(result, JSON.stringify(messages.find((m) => m.type === MessageType.Failed)));
    assert.equal(result.result.steps[1].layer, 'fc', 'the cascade starts at the logits');
    assert.ok(result.result.steps.length > 3, `${result.result.steps.length} steps`);
    assert.deepEqual(result.result.summary.map((s) => s.method), ['gradient', 'gradcam', 'guidedbp']);
  });

  it('a training loop overwriting model.onnx re-explains the open panel', async function () {
    this.timeout(180_000);
    await useModel('models/shapes-pytorch/model.onnx');
    const k = 6;
    const image = path.join(root, 'images', boxes[k][0]);
    if (!api.panelFor(image)) await explain(k);
    const file = path.join(root, 'models', 'shapes-pytorch', 'model.onnx');
    const bytes = fs.readFileSync(file);
    const recomputed = collect(image, (m, all) => finished(m) && all.some((x) => x.type === MessageType.Started && x.reason === 'checkpoint'), 120_000);
    // What torch.onnx.export does every epoch: the file is written again (here in two steps, so
    // the watcher may see it half-written first).
    fs.writeFileSync(file, bytes.subarray(0, bytes.length >> 1));
    await new Promise((r) => setTimeout(r, 200));
    fs.writeFileSync(file, bytes);
    const messages = await recomputed;
    assert.equal(messages[messages.length - 1].type, MessageType.Done, JSON.stringify(messages.find((m) => m.type === MessageType.Failed)));
    const preds = messages.filter((m): m is PredictionsMessage => m.type === MessageType.Predictions).pop()!;
    assert.equal(preds.predictions[0].label, boxes[k][1].label);
    assert.ok(Date.parse(preds.checkpoint) > Date.now() - 120_000, `the checkpoint shown is the new one: ${preds.checkpoint}`);
  });
});

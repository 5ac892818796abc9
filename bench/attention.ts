/**
 * Attention rollout against its floor: one forward pass that also reads every layer's attention
 * probabilities (the capture). Prints the capture ÷ a plain forward pass (what reading the
 * attention costs) and the rollout's own time ÷ the capture (what rollout adds), on the demo's
 * tiny ViT and on a ViT-S/16-size model (random weights, 224×224).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { fsSaveHandler } from '../src/extension/model/fs-io';
import type { AttentionModel } from '../src/extension/attention/attention-model';
import { loadAttentionModel } from '../src/extension/attention/load-attention';
import { loadModel } from '../src/extension/model/load';
import { attentionImageMap } from '../src/extension/attention/image-maps';
import { buildVitS } from './vit-s';
import { fmt, medianMs, ratio } from './timing';

function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

async function benchModel(name: string, file: string, reps: number): Promise<string[]> {
  const am: AttentionModel = await loadAttentionModel(file);
  const plain = await loadModel(file);
  try {
    const input = am.inputs[0];
    if (input.kind !== 'image') throw new Error('an image model is expected');
    const x = tf.randomUniform([1, ...input.shape], 0, 1) as tf.Tensor4D;
    const forward = await medianMs(() => plain.adapter.logits(x), reps);
    const capture = await medianMs(() => { am.capture([x]); }, reps);
    const cap = am.capture([x]);
    const rolloutMs = await medianMs(() => { attentionImageMap(am, cap, { mode: 'rollout', fusion: 'mean', discardRatio: 0.9 }); }, reps);
    const t0 = performance.now();
    const withGrads = am.capture([x], { gradientTarget: 0 });
    const gradCapture = performance.now() - t0;
    const gradMs = await medianMs(() => { attentionImageMap(am, withGrads, { mode: 'grad-rollout', fusion: 'mean', discardRatio: 0 }); }, reps);
    x.dispose();
    const layers = am.layers.length;
    const tokens = am.layers[0].queryTokens;
    return [
      `${name} (${layers} layers × ${am.layers[0].heads} heads, ${tokens} tokens): forward ${fmt(forward)}, forward reading the attention ${fmt(capture)} (${ratio(capture, forward)}×)`,
      `  rollout ${fmt(rolloutMs)}: ${ratio(rolloutMs, capture)} of the capture; gradient-weighted rollout ${fmt(gradMs)} after a capture with gradients of ${fmt(gradCapture)} (${ratio(gradCapture, forward)}× forward)`,
    ];
  } finally {
    am.dispose();
    plain.adapter.dispose();
  }
}

export async function benchAttention(reps: number): Promise<string[]> {
  const lines = await benchModel('tiny ViT (demo)', path.join(repoRoot(), 'demo', 'models', 'tiny-vit', 'model.json'), reps);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-vit-s-'));
  try {
    const net = buildVitS();
    await net.save(fsSaveHandler(dir));
    net.dispose();
    lines.push(...await benchModel('ViT-S/16 size, 224×224, random weights', path.join(dir, 'model.json'), Math.min(reps, 3)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

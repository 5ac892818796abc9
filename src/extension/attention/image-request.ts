/**
 * The explain panel's Attention tab, computed in a worker: whether the panel's model has attention over
 * image patches, and one attention map (rollout, raw, gradient-weighted rollout) for its image.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MessageType, type AttentionInfo, type AttentionMapMessage, type AttentionRequestMessage } from '../../shared/protocol';
import { loadModelInput } from '../image/decode';
import { preprocess, type PreprocessPreset } from '../image/preprocess';
import type { AttentionModel } from './attention-model';
import { attentionImageMap } from './image-maps';

/** What the Attention tab needs, or undefined when the model has no attention over patches. */
export function attentionInfo(model: AttentionModel | undefined): AttentionInfo | undefined {
  if (!model?.patches || model.inputs.length !== 1 || model.inputs[0].kind !== 'image') return undefined;
  return { layers: model.layers.filter((l) => !l.cross), grid: model.patches.grid, cls: model.patches.cls };
}

export async function imageInput(model: AttentionModel, imageFile: string, preset: PreprocessPreset): Promise<tf.Tensor4D> {
  const input = model.inputs[0];
  if (input.kind !== 'image') throw new Error('not an image model');
  const [h, w, c] = input.shape;
  const decoded = await loadModelInput(imageFile, { height: h, width: w, channels: c as 1 | 3 });
  return tf.tidy(() => preprocess(tf.tensor4d(decoded.pixels, [1, h, w, c]), preset));
}

export async function attentionMapFor(model: AttentionModel, imageFile: string, preset: PreprocessPreset, m: AttentionRequestMessage): Promise<AttentionMapMessage> {
  const t0 = performance.now();
  const x = await imageInput(model, imageFile, preset);
  try {
    let target: number | undefined;
    if (m.mode === 'grad-rollout') {
      target = m.target;
      if (target === undefined) {
        const out = model.capture([x]).output;
        target = out.indexOf(Math.max(...out));
      }
    }
    const cap = model.capture([x], { gradientTarget: target });
    const map = attentionImageMap(model, cap, m);
    const data = map.data;
    return {
      type: MessageType.AttentionMap, requestId: m.requestId, mode: m.mode, height: map.height, width: map.width, label: map.label,
      data: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
      ...(target !== undefined ? { target } : {}), ms: performance.now() - t0,
    };
  } finally {
    x.dispose();
  }
}

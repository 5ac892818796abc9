/**
 * Attention over an image file, computed in a worker for the explain panel's Attention tab and
 * for `xai-lens attention <image>`: whether a model has attention over image patches, and one
 * attention map (rollout, raw, gradient-weighted rollout) of an image with the predictions.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../../shared/errors';
import { MessageType } from '../../shared/protocol/common';
import type { AttentionInfo, AttentionMapMessage } from '../../shared/protocol/explain';
import type { Prediction } from '../explain/explain-image';
import { loadModelInput, type ModelInput as DecodedImage } from '../image/decode';
import { preprocess, type PreprocessPreset } from '../image/preprocess';
import type { AttentionModel } from './attention-model';
import { captureFor, classOf, predictionsOf } from './capture';
import { attentionImageMap, patchSide, type ImageMap, type ImageMapRequest } from './image-maps';

/** What the Attention tab needs, or undefined when the model has no attention over patches. */
export function attentionInfo(model: AttentionModel | undefined): AttentionInfo | undefined {
  if (!model?.patches || model.inputs.length !== 1 || model.inputs[0].kind !== 'image') return undefined;
  const side = patchSide(model);
  if (!side) return undefined;
  return { layers: side.indices.map((i) => model.layers[i]), grid: model.patches.grid, cls: model.patches.cls };
}

/** The image file as the model's input [1, h, w, c], preprocessed, and the file's own size. */
export async function imageInput(model: AttentionModel, imageFile: string, preset: PreprocessPreset): Promise<{ x: tf.Tensor4D; original: DecodedImage['original'] }> {
  const input = model.inputs[0];
  if (model.inputs.length !== 1 || input.kind !== 'image') {
    throw new UserError(`${model.name} takes token ids (${model.inputs.map((x) => x.name).join(', ')}), not an image`);
  }
  const [h, w, c] = input.shape;
  const decoded = await loadModelInput(imageFile, { height: h, width: w, channels: c as 1 | 3 });
  return { x: tf.tidy(() => preprocess(tf.tensor4d(decoded.pixels, [1, h, w, c]), preset)), original: decoded.original };
}

export interface ImageAttentionRequest extends ImageMapRequest {
  /** grad-rollout: the class (default: the top prediction). */
  target?: number;
}

export interface ImageAttention {
  map: ImageMap;
  /** grad-rollout: the class explained. */
  target?: Prediction;
  predictions?: Prediction[];
  /** The image file as displayed (after EXIF orientation). */
  image: DecodedImage['original'];
  /** The model's input [height, width]. */
  inputSize: [number, number];
}

/** One attention map of an image file, with the model's predictions on it. */
export async function imageAttention(model: AttentionModel, imageFile: string, preset: PreprocessPreset, req: ImageAttentionRequest): Promise<ImageAttention> {
  const { x, original } = await imageInput(model, imageFile, preset);
  try {
    const { cap, target } = captureFor(model, [x], req.mode, req.target);
    const predictions = predictionsOf(model, cap.output);
    return {
      map: attentionImageMap(model, cap, req),
      ...(target !== undefined ? { target: classOf(model, cap.output, target) } : {}),
      ...(predictions ? { predictions } : {}),
      image: original,
      inputSize: [x.shape[1], x.shape[2]],
    };
  } finally {
    x.dispose();
  }
}

/**
 * The Attention tab's message for one map (what the panel posts), with what else `imageAttention`
 * found: the predictions, the target class with its probability, the image and input sizes.
 */
export type AttentionMapResult = AttentionMapMessage & Pick<ImageAttention, 'predictions' | 'image' | 'inputSize'> & { targetClass?: Prediction };

export async function attentionMapFor(
  model: AttentionModel, imageFile: string, preset: PreprocessPreset, req: ImageAttentionRequest & { requestId: number },
): Promise<AttentionMapResult> {
  const t0 = performance.now();
  const { map, target, ...rest } = await imageAttention(model, imageFile, preset, req);
  const data = map.data;
  return {
    type: MessageType.AttentionMap, requestId: req.requestId, mode: req.mode, height: map.height, width: map.width, label: map.label,
    data: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
    ...(target !== undefined ? { target: target.index, targetClass: target } : {}), ...rest, ms: performance.now() - t0,
  };
}

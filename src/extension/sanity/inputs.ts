/**
 * The images of a sanity check as preprocessed model inputs, decoded once for every step, with
 * the references some methods need (the preprocessed black image and the input value range),
 * made as for explain-image.ts (preprocessReference).
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadModelInput } from '../image/decode';
import { preprocess, preprocessReference, type PreprocessPreset } from '../image/preprocess';
import { throwIfCancelled } from '../../shared/errors';
import type { ModelAdapter } from '../model/types';

export interface SanityInputs {
  /** One [1, h, w, c] input per image, in the order of the files. */
  inputs: tf.Tensor4D[];
  black: tf.Tensor4D;
  range: [number, number];
  dispose(): void;
}

export async function loadSanityInputs(files: readonly string[], adapter: ModelAdapter, preset: PreprocessPreset, signal?: AbortSignal): Promise<SanityInputs> {
  const [h, w, c] = adapter.inputShape;
  const inputs: tf.Tensor4D[] = [];
  try {
    for (const file of files) {
      throwIfCancelled(signal);
      const decoded = await loadModelInput(file, { height: h, width: w, channels: c as 1 | 3 });
      inputs.push(tf.tidy(() => preprocess(tf.tensor4d(decoded.pixels, [1, h, w, c]), preset)));
    }
    throwIfCancelled(signal);
  } catch (err) {
    tf.dispose(inputs);
    throw err;
  }
  const { black, range } = preprocessReference(h, w, c, preset);
  return { inputs, black, range, dispose: () => tf.dispose([...inputs, black]) };
}

/** Preprocessing presets: from 0..255 RGB pixels to what a model was trained on. */
import * as tf from '@tensorflow/tfjs-core';

export const PREPROCESS_PRESETS = ['unit', 'symmetric', 'imagenet', 'caffe', 'raw'] as const;
export type PreprocessPreset = (typeof PREPROCESS_PRESETS)[number];

export function isPreprocessPreset(s: string): s is PreprocessPreset {
  return (PREPROCESS_PRESETS as readonly string[]).includes(s);
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];

/** pixels: [batch, h, w, c] in 0..255 (c = 1 or 3). Returns the model input. */
export function preprocess(pixels: tf.Tensor4D, preset: PreprocessPreset): tf.Tensor4D {
  return tf.tidy(() => {
    const c = pixels.shape[3];
    const pick = (v: number[]) => (c === 3 ? v : [v.reduce((a, b) => a + b) / 3]);
    switch (preset) {
      case 'unit':
        return tf.div(pixels, 255);
      case 'symmetric':
        return tf.sub(tf.div(pixels, 127.5), 1);
      case 'imagenet':
        return tf.div(tf.sub(tf.div(pixels, 255), pick(IMAGENET_MEAN)), pick(IMAGENET_STD));
      case 'raw':
        return tf.cast(pixels, 'float32');
      case 'caffe': {
        const bgr = c === 3 ? tf.reverse(pixels, -1) : pixels;
        return tf.sub(bgr, pick(CAFFE_MEAN_BGR));
      }
    }
  }) as tf.Tensor4D;
}

/**
 * The references some methods need under a preset: the preprocessed all-black image
 * [1, h, w, c] (caller disposes) and the [min, max] range of preprocessed values.
 */
export function preprocessReference(h: number, w: number, c: number, preset: PreprocessPreset): { black: tf.Tensor4D; range: [number, number] } {
  const black = tf.tidy(() => preprocess(tf.zeros([1, h, w, c]), preset));
  const ends = tf.tidy(() => preprocess(tf.concat([tf.zeros([1, 1, 1, c]), tf.fill([1, 1, 1, c], 255)], 1) as tf.Tensor4D, preset));
  const v = ends.dataSync();
  ends.dispose();
  return { black, range: [Math.min(...v), Math.max(...v)] };
}

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { preprocess } from '../../src/extension/image/preprocess';
import { useBackend } from '../helpers/tf-test';

before(() => useBackend('cpu'));

test('preprocessing presets map known pixels to known values', () => {
  const px = tf.tensor4d([0, 127.5, 255, 255, 0, 51], [1, 1, 2, 3]);
  const close = (a: ArrayLike<number>, b: number[]) => b.forEach((v, i) => assert.ok(Math.abs(a[i] - v) < 1e-4, `${a[i]} vs ${v} at ${i}`));
  close(preprocess(px, 'unit').dataSync(), [0, 0.5, 1, 1, 0, 0.2]);
  close(preprocess(px, 'symmetric').dataSync(), [-1, 0, 1, 1, -1, -0.6]);
  close(preprocess(px, 'imagenet').dataSync(), [
    (0 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (1 - 0.406) / 0.225,
    (1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.2 - 0.406) / 0.225,
  ]);
  // caffe: RGB → BGR, minus the BGR mean.
  close(preprocess(px, 'caffe').dataSync(), [255 - 103.939, 127.5 - 116.779, 0 - 123.68, 51 - 103.939, 0 - 116.779, 255 - 123.68]);
  const gray = tf.tensor4d([255], [1, 1, 1, 1]);
  close(preprocess(gray, 'imagenet').dataSync(), [(1 - 0.4490) / 0.226]);
});

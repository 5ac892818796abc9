import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { preprocess, preprocessReference } from '../../../src/extension/image/preprocess';
import { useBackend } from '../../helpers/tf-test';

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

test('the black image and the value range of a preset, with nothing left behind but the black image', () => {
  const before = tf.memory().numTensors;
  const unit = preprocessReference(2, 3, 3, 'unit');
  assert.deepEqual(unit.black.shape, [1, 2, 3, 3]);
  assert.ok(unit.black.dataSync().every((v) => v === 0));
  assert.deepEqual(unit.range, [0, 1]);
  const sym = preprocessReference(2, 3, 1, 'symmetric');
  assert.ok(sym.black.dataSync().every((v) => v === -1));
  assert.deepEqual(sym.range, [-1, 1]);
  // caffe: black is minus the BGR mean; the range spans its most negative to 255 minus the smallest mean.
  const caffe = preprocessReference(1, 1, 3, 'caffe');
  assert.deepEqual(Array.from(caffe.black.dataSync()).map((v) => Math.round(v * 1000) / 1000), [-103.939, -116.779, -123.68]);
  assert.ok(Math.abs(caffe.range[0] + 123.68) < 1e-3 && Math.abs(caffe.range[1] - (255 - 103.939)) < 1e-3);
  assert.equal(tf.memory().numTensors, before + 3, 'only the three black images remain');
  tf.dispose([unit.black, sym.black, caffe.black]);
});

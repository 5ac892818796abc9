import { test, before } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { conv2dInputGradient } from '../../src/extension/model/conv-input-grad';
import { assertClose, seededArray, useBackend } from '../helpers/tf-test';

before(() => useBackend('wasm'));

test('conv input gradient as a forward conv matches tfjs on the cpu backend', async () => {
  const cases: [number[], number[], [number, number], 'same' | 'valid'][] = [
    [[1, 7, 7, 3], [3, 3, 3, 4], [1, 1], 'same'],
    [[2, 8, 9, 3], [3, 3, 3, 5], [2, 2], 'same'],
    [[1, 9, 8, 2], [3, 2, 2, 3], [2, 1], 'valid'],
    [[1, 10, 10, 4], [1, 1, 4, 6], [1, 1], 'same'],
    [[1, 11, 10, 3], [5, 5, 3, 2], [3, 2], 'same'],
    [[1, 12, 12, 3], [4, 4, 3, 2], [2, 2], 'same'],
    [[1, 13, 13, 2], [7, 7, 2, 3], [2, 2], 'valid'],
    [[1, 6, 6, 8], [2, 2, 8, 8], [2, 2], 'valid'],
  ];
  for (const [i, [xs, ws, strides, pad]] of cases.entries()) {
    const info = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], ws as [number, number, number, number], strides, 1, pad);
    const dyShape = [xs[0], info.outHeight, info.outWidth, ws[3]];
    const dyData = seededArray(dyShape.reduce((a, b) => a * b), 10 + i);
    const wData = seededArray(ws.reduce((a, b) => a * b), 50 + i);
    await tf.setBackend('cpu');
    const ref = tf.tidy(() => tf.conv2dTranspose(tf.tensor4d(dyData, dyShape as never), tf.tensor4d(wData, ws as never), xs as never, strides, pad).dataSync());
    await tf.setBackend('wasm');
    const got = tf.tidy(() => conv2dInputGradient(tf.tensor4d(dyData, dyShape as never), tf.tensor4d(wData, ws as never), xs as never, strides, pad).dataSync());
    assertClose(got, ref, 1e-4, `case ${i}: x ${xs} w ${ws} s ${strides} ${pad}`);
  }
});

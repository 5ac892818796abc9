/**
 * Forward-only passes for the explanation methods and metrics: the model's forward engine
 * (ModelAdapter.forward, e.g. ONNX Runtime) when it has one, else the tfjs graph. Both give the
 * same values (within float rounding); nothing here asks which format a model is.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelAdapter, Target } from './types';

/** NHWC images: a tensor (the caller keeps it) or plain values with their shape. */
export type ImageBatch = tf.Tensor4D | { data: Float32Array; shape: readonly [number, number, number, number] };

async function valuesOf(x: ImageBatch): Promise<{ data: Float32Array; batch: number }> {
  if (x instanceof tf.Tensor) return { data: (await x.data()) as Float32Array, batch: x.shape[0] };
  return { data: x.data, batch: x.shape[0] };
}

/** Runs `f` on the batch as a tensor (made here when given as values) and reads its result. */
async function onTfjs<T extends tf.Tensor>(x: ImageBatch, f: (t: tf.Tensor4D) => T): Promise<{ data: Float32Array; shape: number[] }> {
  const out = tf.tidy(() => f(x instanceof tf.Tensor ? x : tf.tensor4d(x.data, [...x.shape])));
  try {
    return { data: (await out.data()) as Float32Array, shape: out.shape };
  } finally {
    out.dispose();
  }
}

/** The target's score per image, [batch]. */
export async function scoreBatch(adapter: ModelAdapter, x: ImageBatch, target: Target): Promise<Float32Array> {
  if (adapter.forward) {
    const { data, batch } = await valuesOf(x);
    return adapter.forward.scores(data, batch, target);
  }
  return (await onTfjs(x, (t) => adapter.score(t, target))).data;
}

/** The model's output after its head activation, [batch, outputSize] row by row. */
export async function probabilityBatch(adapter: ModelAdapter, x: ImageBatch): Promise<Float32Array> {
  if (adapter.forward) {
    const { data, batch } = await valuesOf(x);
    return adapter.forward.probabilities(data, batch);
  }
  return (await onTfjs(x, (t) => adapter.probabilities(t))).data;
}

/** A layer's output, rank-4 outputs NHWC (as ModelAdapter.activations). */
export async function activationBatch(adapter: ModelAdapter, x: ImageBatch, layer: string): Promise<{ data: Float32Array; shape: number[] }> {
  if (adapter.forward?.activations) {
    const { data, batch } = await valuesOf(x);
    return adapter.forward.activations(data, batch, layer);
  }
  return onTfjs(x, (t) => adapter.activations(t, layer));
}

/**
 * Grad-CAM and input-gradient cost on a MobileNetV2-size model, as ratios to their floors:
 *  - Grad-CAM ÷ (one forward pass + one backward pass from the logit to the layer);
 *  - a full input gradient ÷ one forward pass (a backward pass should cost about two forwards);
 * and, for reference, the input gradient through tfjs-layers' own layers (fused convolutions
 * whose gradient also computes every weight gradient).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LayersModelAdapter } from '../src/extension/model/layers-adapter';
import { gradCam } from '../src/extension/explain/methods/cam/gradcam';
import { buildMobileNetV2 } from './mobilenet-v2';
import { fmt, medianMs, ratio } from './timing';

export async function benchGradCam(reps = 7): Promise<string[]> {
  const model = buildMobileNetV2();
  const adapter = new LayersModelAdapter(model);
  const layer = adapter.defaultLayer()!;
  const x = tf.randomUniform([1, 224, 224, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
  const target = { index: 3, space: 'logit' as const };

  const forward = await medianMs(() => model.predict(x), reps);
  const ourForward = await medianMs(() => adapter.logits(x), reps);
  // Backward from the logit to the layer alone: gradient of the head w.r.t. a fixed activation,
  // minus the head's own forward time.
  const act = adapter.activations(x, layer);
  const headTail = model.layers.slice(model.layers.findIndex((l) => l.name === layer) + 1);
  const head = (a: tf.Tensor) => headTail.reduce((t, l) => l.apply(t) as tf.Tensor, a);
  const headGrad = await medianMs(() => tf.grad((a: tf.Tensor) => tf.sum(tf.slice(head(a) as tf.Tensor2D, [0, 3], [-1, 1])))(act), reps);
  const headForward = await medianMs(() => head(act), reps);
  // The floor uses the faster of the two forward passes, so no ratio flatters the adapter.
  const fastest = Math.min(forward, ourForward);
  const floor = fastest + Math.max(0, headGrad - headForward);
  const gradcam = await medianMs(() => gradCam.explain({ adapter, input: x, target }), reps);
  const inputGrad = await medianMs(() => adapter.inputGradient(x, target), reps);
  const naive = await medianMs(() => tf.grad((xi: tf.Tensor) => tf.sum(tf.slice(model.apply(xi) as tf.Tensor2D, [0, 3], [-1, 1])))(x), Math.min(reps, 3), 1);
  tf.dispose([x, act]);
  adapter.dispose();
  return [
    `MobileNetV2 224×224 (${(model.countParams() / 1e6).toFixed(2)}M params), layer ${layer}, backend ${tf.getBackend()}`,
    `  forward (tfjs-layers predict)       ${fmt(forward)}`,
    `  forward (model adapter)             ${fmt(ourForward)}   ratio ${ratio(ourForward, forward)}`,
    `  Grad-CAM                            ${fmt(gradcam)}   ÷ floor (forward + backward to layer, ${fmt(floor)}) = ${ratio(gradcam, floor)}   target ≤ 1.2`,
    `  input gradient                      ${fmt(inputGrad)}   ÷ fastest forward = ${ratio(inputGrad, fastest)}   ÷ tfjs-layers forward = ${ratio(inputGrad, forward)}   target ≤ 3`,
    `  input gradient via tfjs-layers      ${fmt(naive)}   ÷ tfjs-layers forward = ${ratio(naive, forward)}   (what the adapter avoids)`,
  ];
}

/** Small seeded models built in tests, each exercising a part of the model adapter. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { seededArray } from './tf-test';

let seedCounter = 1;
const init = () => tfl.initializers.glorotUniform({ seed: seedCounter++ });

/** Gives every weight deterministic values (BN variances positive) so nothing is trivial. */
export function randomizeWeights(model: tfl.LayersModel, seed: number): void {
  let s = seed;
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    const isBn = layer.getClassName() === 'BatchNormalization';
    layer.setWeights(ws.map((w, i) => {
      const v = seededArray(w.size, s++);
      if (isBn && i === ws.length - 1) return tf.tensor(v.map((x) => 0.5 + Math.abs(x)), w.shape);
      return tf.tensor(v.map((x) => x * 0.5), w.shape);
    }));
  }
}

/** Seeded weights for every layer of a Transformer (LayerNormalization's gamma around 1), the tensors freed. */
export function seedTransformerWeights(model: tfl.LayersModel, seed: number): void {
  let s = seed;
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    const isNorm = layer.getClassName() === 'LayerNormalization';
    const fresh = ws.map((w, i) => {
      const v = seededArray(w.size, s++);
      return tf.tensor(isNorm && i === 0 ? v.map((x) => 1 + 0.3 * x) : v.map((x) => 0.7 * x), w.shape);
    });
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
}


/** [4,4,3] → Flatten → Dense(5): input gradient of logit k is kernel[:, k]. */
export function linearModel(head: 'softmax' | 'linear' = 'softmax'): tfl.LayersModel {
  const m = tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [4, 4, 3], name: 'flat' }),
      tfl.layers.dense({ units: 5, activation: head, kernelInitializer: init(), name: 'dense' }),
    ],
  });
  randomizeWeights(m, 11);
  return m;
}

/**
 * Residual Add, Concatenate, BatchNormalization(scale=false, center=false), Dropout and ReLU
 * layers: the branchy shapes the adapter must get right.
 */
export function branchingModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [8, 8, 3], name: 'image' });
  const c1 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(), name: 'c1' }).apply(input) as tfl.SymbolicTensor;
  const a1 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: init(), name: 'a1' }).apply(c1) as tfl.SymbolicTensor;
  const aBn = tfl.layers.batchNormalization({ scale: false, center: false, name: 'a_bn' }).apply(a1) as tfl.SymbolicTensor;
  const aRelu = tfl.layers.reLU({ name: 'a_relu' }).apply(aBn) as tfl.SymbolicTensor;
  const b1 = tfl.layers.conv2d({ filters: 4, kernelSize: 1, kernelInitializer: init(), name: 'b1' }).apply(c1) as tfl.SymbolicTensor;
  const add = tfl.layers.add({ name: 'add' }).apply([aRelu, b1]) as tfl.SymbolicTensor;
  const drop = tfl.layers.dropout({ rate: 0.5, name: 'drop' }).apply(add) as tfl.SymbolicTensor;
  const cat = tfl.layers.concatenate({ name: 'cat' }).apply([drop, c1]) as tfl.SymbolicTensor;
  const bn2 = tfl.layers.batchNormalization({ name: 'bn2' }).apply(cat) as tfl.SymbolicTensor;
  const last = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6', kernelInitializer: init(), name: 'last' }).apply(bn2) as tfl.SymbolicTensor;
  const gap = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(last) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(), name: 'pred' }).apply(gap) as tfl.SymbolicTensor;
  const m = tfl.model({ inputs: input, outputs: out });
  randomizeWeights(m, 101);
  return m;
}

/** Conv → GAP → Dense(softmax): CAM applies, and Grad-CAM must equal it up to scale. */
export function gapModel(): tfl.LayersModel {
  const m = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [12, 12, 3], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(), name: 'conv_a' }),
      tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2, activation: 'relu6', depthwiseInitializer: init(), name: 'dw' }),
      tfl.layers.conv2d({ filters: 8, kernelSize: 1, activation: 'relu', kernelInitializer: init(), name: 'feat' }),
      tfl.layers.globalAveragePooling2d({ name: 'gap' }),
      tfl.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: init(), name: 'pred' }),
    ],
  });
  randomizeWeights(m, 202);
  return m;
}

/** A functional "backbone" used as a layer inside a Sequential, as Keras transfer learning does. */
export function nestedModel(): tfl.LayersModel {
  const bin = tfl.input({ shape: [10, 10, 3], name: 'backbone_in' });
  const b1 = tfl.layers.zeroPadding2d({ padding: 1, name: 'pad' }).apply(bin) as tfl.SymbolicTensor;
  const b2 = tfl.layers.conv2d({ filters: 5, kernelSize: 3, activation: 'relu', kernelInitializer: init(), name: 'bconv' }).apply(b1) as tfl.SymbolicTensor;
  const b3 = tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(b2) as tfl.SymbolicTensor;
  const b4 = tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(), name: 'bout' }).apply(b3) as tfl.SymbolicTensor;
  const backbone = tfl.model({ inputs: bin, outputs: b4, name: 'backbone' });
  const m = tfl.sequential({
    layers: [
      backbone,
      tfl.layers.flatten({ name: 'flatten' }),
      tfl.layers.dense({ units: 3, kernelInitializer: init(), name: 'logits' }),
      tfl.layers.activation({ activation: 'softmax', name: 'probs' }),
    ],
  });
  randomizeWeights(m, 303);
  return m;
}

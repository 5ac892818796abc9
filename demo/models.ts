/**
 * The demo model: a small residual CNN with global average pooling, built with the tfjs-layers
 * functional API. Every initializer is seeded, so the same seed gives the same initial weights.
 *
 *   image [s, s, 3]                                            (64×64 in the demo)
 *   conv1 4×4/w1 stride 2 - bn - relu                          s/2
 *   block1: conv 3×3/w1 - bn - relu - conv 3×3/w1 - bn, add skip (block1_add), relu
 *   down1 4×4/w2 stride 2 - bn - relu                          s/4
 *   block2, block3: like block1 with w2 channels
 *   last_conv 3×3/w3 + bias, relu                              s/4  (16×16 for 64×64)
 *   gap (global average pooling) - predictions (dense, softmax)
 *
 * `last_conv` is the last spatial layer, the natural one for Grad-CAM. Three things make its maps
 * land on the object:
 *  - its receptive field (58 pixels) sees a whole shape from the cells on it, so a cell does not
 *    have to make do with one edge of a shape and class evidence peaks on the shape;
 *  - 16×16 cells of 4 pixels are fine enough for a peak to fall inside a 16-pixel box;
 *  - the stride-2 convolutions use 4×4 kernels: with 'same' padding on an even-sized input they
 *    are padded symmetrically, so cell i is centred on input pixels 4i+1 and 4i+2 (what an
 *    upsampling with half-pixel centres assumes). 3×3 kernels would be padded on the bottom/right
 *    only and shift the maps by 1.5 input pixels.
 * The stride-2 stem keeps training affordable on the wasm backend.
 */
import * as tfl from '@tensorflow/tfjs-layers';

export interface ShapesNetOptions {
  /** Channels of conv1/block1, of down1/block2/block3, and of last_conv (default [8, 16, 32]). */
  widths?: [number, number, number];
}

/** Builds the model. `inputSize` is the side of the square RGB input. */
export function buildShapesNet(inputSize: number, numClasses: number, seed: number, opts: ShapesNetOptions = {}): tfl.LayersModel {
  const [w1, w2, w3] = opts.widths ?? [8, 16, 32];
  let nextSeed = seed >>> 0;
  const he = () => tfl.initializers.heNormal({ seed: nextSeed++ });
  const glorot = () => tfl.initializers.glorotUniform({ seed: nextSeed++ });

  // Stride-2 convolutions use 4×4 kernels (see above).
  const conv = (name: string, filters: number, strides = 1, activation: 'linear' | 'relu' = 'linear', useBias = false) =>
    tfl.layers.conv2d({
      name,
      filters,
      kernelSize: strides === 2 ? 4 : 3,
      strides,
      padding: 'same',
      useBias,
      activation,
      kernelInitializer: he(),
    });
  const bn = (name: string) => tfl.layers.batchNormalization({ name, momentum: 0.9, epsilon: 1e-3 });
  const relu = (name: string) => tfl.layers.activation({ name, activation: 'relu' });

  /** conv-bn-relu */
  const cbr = (x: tfl.SymbolicTensor, name: string, filters: number, strides = 1): tfl.SymbolicTensor => {
    const c = conv(name, filters, strides).apply(x) as tfl.SymbolicTensor;
    const b = bn(`${name}_bn`).apply(c) as tfl.SymbolicTensor;
    return relu(`${name}_relu`).apply(b) as tfl.SymbolicTensor;
  };

  /** Residual block: two conv-bn with an identity skip, then relu. */
  const block = (x: tfl.SymbolicTensor, name: string, filters: number): tfl.SymbolicTensor => {
    const a = cbr(x, `${name}_conv1`, filters);
    const c = conv(`${name}_conv2`, filters).apply(a) as tfl.SymbolicTensor;
    const b = bn(`${name}_conv2_bn`).apply(c) as tfl.SymbolicTensor;
    const sum = tfl.layers.add({ name: `${name}_add` }).apply([x, b]) as tfl.SymbolicTensor;
    return relu(`${name}_relu`).apply(sum) as tfl.SymbolicTensor;
  };

  const input = tfl.input({ name: 'image', shape: [inputSize, inputSize, 3] });
  let x = cbr(input, 'conv1', w1, 2);
  x = block(x, 'block1', w1);
  x = cbr(x, 'down1', w2, 2);
  x = block(x, 'block2', w2);
  x = block(x, 'block3', w2);
  x = conv('last_conv', w3, 1, 'relu', true).apply(x) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers
    .dense({ name: 'predictions', units: numClasses, activation: 'softmax', kernelInitializer: glorot() })
    .apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ name: 'shapes_net', inputs: input, outputs: out });
}

export interface SigmoidTraining {
  /** The model's layers up to `gap`, then a sigmoid dense head of the same shape as `predictions`. */
  trainModel: tfl.LayersModel;
  /** Copies the trained head into the model's `predictions` layer. */
  commit(): void;
}

/**
 * A one-vs-rest training view of a shapes net. Trained with binary cross-entropy, and with
 * shape-free images as negatives for every class, each class score must rise with evidence for
 * its own shape: with a softmax head one class can win by the mere absence of the others, and its
 * Grad-CAM then lights up the background. The softmax model keeps the trained logits, so its
 * predictions are the argmax of the same scores.
 */
export function sigmoidTraining(model: tfl.LayersModel): SigmoidTraining {
  const predictions = model.getLayer('predictions');
  const units = (predictions.getConfig() as { units: number }).units;
  const head = tfl.layers.dense({ name: 'train_head', units, activation: 'sigmoid' });
  const pooled = model.getLayer('gap').output as tfl.SymbolicTensor;
  const trainModel = tfl.model({ name: 'shapes_net_train', inputs: model.inputs, outputs: head.apply(pooled) as tfl.SymbolicTensor });
  head.setWeights(predictions.getWeights());
  return { trainModel, commit: () => predictions.setWeights(head.getWeights()) };
}

/**
 * A MobileNetV2 (alpha 1.0, 224×224, 1000 classes, ≈3.5M parameters) with seeded random
 * weights, built with tfjs-layers like keras.applications.MobileNetV2: the "MobileNet-size
 * model" the benchmarks measure. Timing does not depend on trained weights.
 */
import * as tfl from '@tensorflow/tfjs-layers';

type T = tfl.SymbolicTensor;

export function buildMobileNetV2(size = 224, classes = 1000, seed = 7): tfl.LayersModel {
  let s = seed;
  const init = () => tfl.initializers.heNormal({ seed: s++ });
  const convBn = (x: T, filters: number, k: number, stride: number, name: string, relu = true): T => {
    let y = tfl.layers.conv2d({ filters, kernelSize: k, strides: stride, padding: 'same', useBias: false, kernelInitializer: init(), name }).apply(x) as T;
    y = tfl.layers.batchNormalization({ name: `${name}_BN` }).apply(y) as T;
    return relu ? (tfl.layers.reLU({ maxValue: 6, name: `${name}_relu` }).apply(y) as T) : y;
  };
  const block = (x: T, expansion: number, filters: number, stride: number, id: number): T => {
    const inC = x.shape[3] as number;
    const p = `block_${id}`;
    let y = expansion === 1 ? x : convBn(x, inC * expansion, 1, 1, `${p}_expand`);
    y = tfl.layers.depthwiseConv2d({ kernelSize: 3, strides: stride, padding: 'same', useBias: false, depthwiseInitializer: init(), name: `${p}_depthwise` }).apply(y) as T;
    y = tfl.layers.batchNormalization({ name: `${p}_depthwise_BN` }).apply(y) as T;
    y = tfl.layers.reLU({ maxValue: 6, name: `${p}_depthwise_relu` }).apply(y) as T;
    y = convBn(y, filters, 1, 1, `${p}_project`, false);
    return stride === 1 && inC === filters ? (tfl.layers.add({ name: `${p}_add` }).apply([x, y]) as T) : y;
  };
  const input = tfl.input({ shape: [size, size, 3], name: 'input_1' });
  let x = convBn(input, 32, 3, 2, 'Conv1');
  const settings: [number, number, number, number][] = [
    [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
  ];
  let id = 0;
  for (const [t, c, n, stride] of settings) {
    for (let i = 0; i < n; i++) x = block(x, t, c, i === 0 ? stride : 1, id++);
  }
  x = convBn(x, 1280, 1, 1, 'Conv_1');
  x = tfl.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(x) as T;
  const out = tfl.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: s++ }), name: 'predictions' }).apply(x) as T;
  return tfl.model({ inputs: input, outputs: out, name: 'mobilenetv2_1.00_224' });
}

/**
 * A ViT-S/16-size model for benchmarks (random weights): 224×224 input, 16×16 patches → 196
 * tokens + CLS, width 384, 6 heads, MLP 1536, 12 pre-norm encoder blocks; built with the
 * project's MultiHeadAttention and ViT layers.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { MultiHeadAttention } from '../src/extension/model/layers/multi-head-attention';
import { AddPositionEmbs, ClassToken, ExtractToken } from '../src/extension/model/layers/vit-layers';

type T = tfl.SymbolicTensor;

export function buildVitS(size = 224, patch = 16, dim = 384, heads = 6, mlp = 1536, blocks = 12, classes = 1000): tfl.LayersModel {
  const input = tfl.input({ shape: [size, size, 3], name: 'image' });
  const n = (size / patch) ** 2;
  let x = tfl.layers.conv2d({ filters: dim, kernelSize: patch, strides: patch, name: 'patch_embed' }).apply(input) as T;
  x = tfl.layers.reshape({ targetShape: [n, dim], name: 'patches' }).apply(x) as T;
  x = new ClassToken({ name: 'class_token' }).apply(x) as T;
  x = new AddPositionEmbs({ name: 'pos_embed' }).apply(x) as T;
  for (let b = 0; b < blocks; b++) {
    const h = tfl.layers.layerNormalization({ epsilon: 1e-6, name: `block${b}_ln1` }).apply(x) as T;
    const a = new MultiHeadAttention({ numHeads: heads, keyDim: dim / heads, name: `block${b}_attention` }).apply([h, h]) as T;
    x = tfl.layers.add({ name: `block${b}_add1` }).apply([x, a]) as T;
    const h2 = tfl.layers.layerNormalization({ epsilon: 1e-6, name: `block${b}_ln2` }).apply(x) as T;
    const m1 = tfl.layers.dense({ units: mlp, activation: 'gelu', name: `block${b}_mlp1` }).apply(h2) as T;
    const m2 = tfl.layers.dense({ units: dim, name: `block${b}_mlp2` }).apply(m1) as T;
    x = tfl.layers.add({ name: `block${b}_add2` }).apply([x, m2]) as T;
  }
  x = tfl.layers.layerNormalization({ epsilon: 1e-6, name: 'final_ln' }).apply(x) as T;
  x = new ExtractToken({ index: 0, name: 'cls' }).apply(x) as T;
  const out = tfl.layers.dense({ units: classes, activation: 'softmax', name: 'predictions' }).apply(x) as T;
  return tfl.model({ inputs: input, outputs: out, name: 'vit_s16' });
}

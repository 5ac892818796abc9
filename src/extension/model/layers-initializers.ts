/**
 * Fresh values for one weight of a tfjs-layers layer, as the layer would have been initialised:
 * the initializer named in the layer's config for that weight (kernelInitializer,
 * depthwiseInitializer, biasInitializer, gamma/beta/moving-statistics initializers, …), rebuilt
 * through tfjs' serialization registry with a seed of our own; when the layer names none (or it
 * cannot make this shape), a truncated normal with the mean and standard deviation of the
 * original weight.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { layers as tfl, LayerVariable } from '@tensorflow/tfjs-layers';

/** The config key of the initializer of each kind of weight, by the last part of its name. */
const INITIALIZER_KEYS: Readonly<Record<string, string>> = {
  kernel: 'kernelInitializer',
  bias: 'biasInitializer',
  depthwise_kernel: 'depthwiseInitializer',
  pointwise_kernel: 'pointwiseInitializer',
  recurrent_kernel: 'recurrentInitializer',
  gamma: 'gammaInitializer',
  beta: 'betaInitializer',
  moving_mean: 'movingMeanInitializer',
  moving_variance: 'movingVarianceInitializer',
  embeddings: 'embeddingsInitializer',
  alpha: 'alphaInitializer',
};

interface InitializerLike {
  apply(shape: number[], dtype?: tf.DataType): tf.Tensor;
  getClassName(): string;
}

/** `conv1/kernel` → `kernel`; `block/gamma_1` → `gamma` (tfjs numbers clashing names). */
function weightKind(v: LayerVariable): string {
  const last = v.originalName.split('/').pop() ?? '';
  return last in INITIALIZER_KEYS ? last : last.replace(/_\d+$/, '');
}

/** The initializer the layer's config names for this weight, re-seeded; undefined when none. */
export function configuredInitializer(layer: tfl.Layer, v: LayerVariable, seed: number): InitializerLike | undefined {
  const key = INITIALIZER_KEYS[weightKind(v)];
  const spec = key === undefined ? undefined : (layer.getConfig() as Record<string, unknown>)[key];
  if (spec === null || typeof spec !== 'object' || typeof (spec as { className?: unknown }).className !== 'string') return undefined;
  const { className, config } = spec as { className: string; config?: Record<string, unknown> };
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (!entry) return undefined;
  const [cls, fromConfig] = entry;
  // Every seeded tfjs initializer reads `seed` from its config; the others ignore it.
  return fromConfig(cls, { ...(config ?? {}), seed }) as unknown as InitializerLike;
}

/**
 * New values for weight `v` (the layer's `index`-th) of `layer`, seeded by `seed`. `original`
 * (the weight before any re-initialisation) sets the fallback's mean and standard deviation.
 * The caller owns the returned tensor.
 */
export function freshWeight(layer: tfl.Layer, v: LayerVariable, seed: number, original: tf.Tensor): tf.Tensor {
  const shape = [...v.shape] as number[];
  const init = configuredInitializer(layer, v, seed);
  if (init) {
    try {
      return tf.tidy(() => tf.cast(init.apply(shape, 'float32'), v.dtype));
    } catch {
      // e.g. an Identity initializer on a 4-D kernel: fall through to the truncated normal.
    }
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(tf.cast(original, 'float32'));
    const [m, s2] = [mean.dataSync()[0], variance.dataSync()[0]];
    return tf.cast(tf.truncatedNormal(shape, m, Math.sqrt(s2), 'float32', seed), v.dtype);
  });
}

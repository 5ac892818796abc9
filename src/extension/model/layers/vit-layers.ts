/**
 * The Vision Transformer layers of the vit-keras package for tfjs-layers, under vit-keras' class
 * and weight names so its models (and ours) load: `ClassToken` (a learned token prepended to the
 * sequence), `AddPositionEmbs` (a learned position embedding added to it) and `ExtractToken` (one
 * token of the sequence: vit-keras takes the CLS token with a Lambda layer, which tfjs cannot
 * load, so models converted for tfjs name this layer instead). Importing this module registers
 * the classes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { initializers, layers, type LayerVariable } from '@tensorflow/tfjs-layers';

type LayerArgs = NonNullable<ConstructorParameters<typeof layers.Layer>[0]>;
type Shape = (number | null)[];

/** The one input shape of a single-input layer (tfjs passes it bare or in a one-element list). */
function singleShape(inputShape: Shape | Shape[], layer: string): Shape {
  const shapes = Array.isArray(inputShape[0]) ? (inputShape as Shape[]) : [inputShape as Shape];
  if (shapes.length !== 1) throw new Error(`${layer} expects one input, got ${shapes.length}`);
  return shapes[0];
}

/** The one input tensor of a single-input layer call. */
function singleTensor(inputs: tf.Tensor | tf.Tensor[], layer: string): tf.Tensor {
  const list = Array.isArray(inputs) ? inputs : [inputs];
  if (list.length !== 1) throw new Error(`${layer} expects one input, got ${list.length}`);
  return list[0];
}

/** Shape check shared by the layers: a sequence [batch, tokens, dim] with a known dim. */
function sequenceShape(shape: Shape, layer: string): { tokens: number | null; dim: number } {
  if (shape.length !== 3) throw new Error(`${layer} expects a sequence [batch, tokens, dim], got shape [${shape.join(', ')}]`);
  const dim = shape[2];
  if (dim == null) throw new Error(`${layer}: the last dimension of its input [${shape.join(', ')}] must be known`);
  return { tokens: shape[1], dim };
}

/** Keras writes a dtype in every layer's config; tfjs-layers' base config has one only for input layers. */
function withDtype(layer: layers.Layer, config: serialization.ConfigDict): serialization.ConfigDict {
  return { ...config, dtype: layer.dtype ?? 'float32' };
}

/**
 * Prepends a learned class token to a sequence: [batch, n, dim] → [batch, n + 1, dim]. Its one
 * weight is `cls`, [1, 1, dim], initialised to zeros as in vit-keras. Config: the base config only.
 */
export class ClassToken extends layers.Layer {
  static className = 'ClassToken';
  private cls?: LayerVariable;

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  override build(inputShape: Shape | Shape[]): void {
    const { dim } = sequenceShape(singleShape(inputShape, 'ClassToken'), `ClassToken "${this.name}"`);
    this.cls = this.addWeight('cls', [1, 1, dim], 'float32', initializers.zeros(), undefined, true);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape, 'ClassToken');
    const { tokens, dim } = sequenceShape(shape, `ClassToken "${this.name}"`);
    return [shape[0], tokens == null ? null : tokens + 1, dim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs, 'ClassToken');
      if (!this.cls) throw new Error(`ClassToken "${this.name}" is not built`);
      if (x.rank !== 3) throw new Error(`ClassToken "${this.name}" expects a sequence [batch, tokens, dim], got shape [${x.shape}]`);
      const cls = tf.tile(tf.cast(this.cls.read(), x.dtype), [x.shape[0], 1, 1]);
      return tf.concat([cls, x], 1);
    });
  }

  override getConfig(): serialization.ConfigDict {
    return withDtype(this, super.getConfig());
  }
}

/**
 * Adds a learned position embedding to a sequence: [batch, n, dim] → the same shape. Its one
 * weight is `pos_embedding`, [1, n, dim] (the sequence length must be known), initialised from
 * N(0, 0.06²) as in vit-keras. Config: the base config only.
 */
export class AddPositionEmbs extends layers.Layer {
  static className = 'AddPositionEmbs';
  private pe?: LayerVariable;

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  override build(inputShape: Shape | Shape[]): void {
    const { tokens, dim } = sequenceShape(singleShape(inputShape, 'AddPositionEmbs'), `AddPositionEmbs "${this.name}"`);
    if (tokens == null) throw new Error(`AddPositionEmbs "${this.name}": the sequence length must be known`);
    this.pe = this.addWeight('pos_embedding', [1, tokens, dim], 'float32', initializers.randomNormal({ mean: 0, stddev: 0.06 }), undefined, true);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape, 'AddPositionEmbs');
    sequenceShape(shape, `AddPositionEmbs "${this.name}"`);
    return [...shape];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs, 'AddPositionEmbs');
      if (!this.pe) throw new Error(`AddPositionEmbs "${this.name}" is not built`);
      const pe = this.pe.read();
      if (x.rank !== 3 || x.shape[1] !== pe.shape[1] || x.shape[2] !== pe.shape[2]) {
        throw new Error(`AddPositionEmbs "${this.name}": its input [${x.shape}] does not match the position embedding [${pe.shape}]`);
      }
      return tf.add(x, tf.cast(pe, x.dtype));
    });
  }

  override getConfig(): serialization.ConfigDict {
    return withDtype(this, super.getConfig());
  }
}

export interface ExtractTokenArgs extends LayerArgs {
  /** The token to take; negative counts from the end (−1 is the last token). Default 0, the CLS token. */
  index?: number;
}

/**
 * One token of a sequence: [batch, n, dim] → [batch, dim], token `index` (vit-keras'
 * `Lambda(lambda v: v[:, 0])` as a named layer). No weights. Config: `{index}`.
 */
export class ExtractToken extends layers.Layer {
  static className = 'ExtractToken';
  readonly index: number;

  constructor(args: ExtractTokenArgs = {}) {
    super(args);
    const index = args.index ?? 0;
    if (!Number.isInteger(index)) throw new Error(`ExtractToken: index must be an integer, got ${JSON.stringify(args.index)}`);
    this.index = index;
  }

  /** The index counted from the start of a sequence of `tokens`, checked against its length. */
  private position(tokens: number): number {
    const i = this.index < 0 ? tokens + this.index : this.index;
    if (i < 0 || i >= tokens) throw new Error(`ExtractToken "${this.name}": token ${this.index} is outside a sequence of ${tokens} tokens`);
    return i;
  }

  override build(inputShape: Shape | Shape[]): void {
    const { tokens } = sequenceShape(singleShape(inputShape, 'ExtractToken'), `ExtractToken "${this.name}"`);
    if (tokens != null) this.position(tokens);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = singleShape(inputShape, 'ExtractToken');
    const { tokens, dim } = sequenceShape(shape, `ExtractToken "${this.name}"`);
    if (tokens != null) this.position(tokens);
    return [shape[0], dim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = singleTensor(inputs, 'ExtractToken');
      if (x.rank !== 3) throw new Error(`ExtractToken "${this.name}" expects a sequence [batch, tokens, dim], got shape [${x.shape}]`);
      const [batch, tokens, dim] = x.shape as number[];
      return tf.reshape(tf.slice(x, [0, this.position(tokens), 0], [-1, 1, -1]), [batch, dim]);
    });
  }

  override getConfig(): serialization.ConfigDict {
    return withDtype(this, { ...super.getConfig(), index: this.index });
  }
}

serialization.registerClass(ClassToken);
serialization.registerClass(AddPositionEmbs);
serialization.registerClass(ExtractToken);

/** The model adapter for tfjs-layers models (Keras models converted to TF.js). */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { UserError } from '../../shared/errors';
import { LayersProgram, type Step } from './layers-program';
import { applyHead, targetScores } from './targets';
import type { GradientOptions, LayerGradient, LayerInfo, ModelAdapter, Randomizer, ScoredGradient, Target } from './types';
import { lastSpatialLayer, layerNotFound } from './layer-info';
import { LayersRandomizer } from './layers-randomizer';
import type { AttentionModel } from '../attention/attention-model';
import { attentionOfLayersModel } from './layers-attention';
import { noGradientThrough } from './layer-ops';
import { safeLine } from '../util/excerpt';

type AnyLayer = LayersModel['layers'][number];

/** The model's layers and those of the models nested in it. */
function everyLayer(model: { layers: AnyLayer[] }): AnyLayer[] {
  return model.layers.flatMap((l) => ('layers' in l && Array.isArray((l as { layers?: unknown }).layers) ? [l, ...everyLayer(l as unknown as { layers: AnyLayer[] })] : [l]));
}

export class LayersModelAdapter implements ModelAdapter {
  /** Every ReLU/ReLU6, fused ones included, takes the backward rule (layers-program.ts). */
  readonly reluOverride = undefined;
  readonly inputShape: [number, number, number];
  readonly outputSize: number;
  readonly layers: readonly LayerInfo[];
  private readonly program: LayersProgram;
  private attentionFacet?: AttentionModel | string;

  constructor(
    readonly model: LayersModel,
    inputSize?: [number, number],
    /** Names the model in errors: its file, as given (default "the model"). */
    source?: string,
  ) {
    const subject = source ?? 'the model';
    if (model.inputs.length !== 1) throw new UserError(`${subject} has ${model.inputs.length} inputs; one image input is expected`);
    const input = model.inputs[0];
    const shape = input.shape;
    const dims = `[${shape.map((d) => d ?? '?').join(', ')}]`;
    const toAttention = 'explanations need an image model (for a token model use Show Attention: xai-lens attention --tokens)';
    if (shape.length === 2) {
      const what = input.dtype === 'int32' ? `token ids (int32 ${dims})` : `a sequence ${dims}`;
      throw new UserError(`${subject} takes ${what}, not an image [batch, height, width, channels]; ${toAttention}`);
    }
    if (shape.length !== 4) throw new UserError(`${subject} takes a rank-${shape.length} tensor ${dims}, not an image [batch, height, width, channels]; ${toAttention}`);
    const [, h, w, c] = shape;
    const height = h ?? inputSize?.[0];
    const width = w ?? inputSize?.[1];
    if (height == null || width == null) throw new UserError(`${subject} does not fix its input size; pass one with --size <h>x<w>`);
    if (![height, width].every((d) => Number.isInteger(d) && d > 0)) throw new UserError(`${subject} takes images of ${safeLine(String(height))}×${safeLine(String(width))} pixels; sizes are whole numbers ≥ 1`);
    if (c !== 1 && c !== 3) throw new UserError(`${subject} expects ${safeLine(String(c))} channels per pixel; images give 1 (gray) or 3 (RGB)`);
    this.inputShape = [height, width, c];
    const out = model.outputs[0].shape;
    this.outputSize = out[out.length - 1] ?? 1;
    this.program = new LayersProgram(model);
    try {
      // Folded weights (conv + batch norm) are made here: freed again when a later layer fails.
      this.program.prepare();
      this.layers = this.program.layerInfos();
      this.probe(subject);
    } catch (err) {
      this.program.dispose();
      throw err;
    }
    this.noGradient = everyLayer(model).map(noGradientThrough).find((why) => why !== undefined);
  }

  /** Why gradients cannot be computed (a dilated convolution tfjs cannot differentiate), or undefined. */
  private readonly noGradient?: string;

  /**
   * One forward pass on a zero image, so that a model whose layers cannot run on its own input
   * (a damaged config: a dilation of 0, sizes that do not fit) fails here, in words, and not in
   * the middle of the first explanation.
   */
  private probe(subject: string): void {
    try {
      tf.tidy(() => {
        this.logits(tf.zeros([1, ...this.inputShape]) as tf.Tensor4D);
      });
    } catch (err) {
      if (err instanceof UserError) throw err;
      const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      throw new UserError(`${subject} does not run on a ${this.inputShape[0]}×${this.inputShape[1]} image: ${safeLine(message, 300)}`);
    }
  }

  private checkGradient(): void {
    if (this.noGradient) throw new UserError(`${this.noGradient}; methods that need gradients do not apply to this model (occlusion, RISE and Score-CAM do)`);
  }

  get headActivation() {
    return this.program.headActivation;
  }

  defaultLayer(): string | undefined {
    return lastSpatialLayer(this.layers);
  }

  private key(layer: string): string {
    const k = this.program.keyOfLayer(layer);
    if (k === undefined) throw layerNotFound(layer, this.layers);
    return k;
  }

  private logitsFrom(feeds: Map<string, tf.Tensor>, opts: GradientOptions = {}, keep = false): tf.Tensor2D {
    const out = this.program.run(feeds, [this.program.outputKey], { ...opts, stripActivation: true }, keep).get(this.program.outputKey)!;
    return (out.rank === 2 ? out : tf.reshape(out, [out.shape[0], -1])) as tf.Tensor2D;
  }

  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.logitsFrom(new Map([[this.program.inputKey, x]])));
  }

  probabilities(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => applyHead(this.logits(x), this.headActivation));
  }

  score(x: tf.Tensor4D, target: Target): tf.Tensor1D {
    return tf.tidy(() => targetScores(this.logits(x), this.headActivation, target));
  }

  activations(x: tf.Tensor4D, layer: string): tf.Tensor {
    const k = this.key(layer);
    return tf.tidy(() => this.program.run(new Map([[this.program.inputKey, x]]), [k], {}).get(k)!);
  }

  inputGradient(x: tf.Tensor4D, target: Target, opts: GradientOptions = {}): ScoredGradient {
    this.checkGradient();
    return tf.tidy(() => {
      const f = () => targetScores(this.logitsFrom(new Map([[this.program.inputKey, x]]), opts, true), this.headActivation, target);
      const { value, grads } = tf.engine().gradients(f, [x]);
      return { grad: grads[0], scores: value as tf.Tensor1D };
    });
  }

  layerGradient(x: tf.Tensor4D, layer: string, target: Target, opts: GradientOptions = {}): LayerGradient {
    const k = this.key(layer);
    this.checkGradient();
    return tf.tidy(() => {
      // One forward pass up to the cut (and the values that bypass it), then the rest of the
      // network is run from the cut under the tape: forward once, backward once.
      const boundary = this.program.boundaryOf(k);
      const upstream = this.program.run(new Map([[this.program.inputKey, x]]), [k, ...boundary], opts);
      const activation = upstream.get(k)!;
      const feeds = new Map(boundary.map((b) => [b, upstream.get(b)!] as [string, tf.Tensor]));
      const f = () => {
        feeds.set(k, activation);
        return targetScores(this.logitsFrom(feeds, opts, true), this.headActivation, target);
      };
      const { value, grads } = tf.engine().gradients(f, [activation]);
      return { activation, grad: grads[0], scores: value as tf.Tensor1D };
    });
  }

  gapDenseHead(layer: string): { weights: tf.Tensor2D } | string {
    const why = (what: string) => `needs a GlobalAveragePooling2D → Dense head after "${layer}"; ${what}`;
    const name = (s: Step) => `${s.className} "${s.name}"`;
    /** The one step reading `key`, or the reason there is not exactly one. */
    const soleReader = (key: string, what: string): Step | string => {
      const readers = this.program.consumersOf(key);
      if (readers.length === 0) return why(`${what} is the model's output`);
      if (readers.length > 1) return why(`${what} feeds ${readers.length} layers (${readers.map(name).join(', ')})`);
      return readers[0];
    };
    let step = soleReader(this.key(layer), 'it');
    if (typeof step === 'string') return step;
    if (step.className !== 'GlobalAveragePooling2D') return why(`it is followed by ${name(step)}`);
    if ((step.layer.getConfig() as { dataFormat?: string }).dataFormat === 'channelsFirst') return why(`${name(step)} pools channels-first data`);
    const gap = step;
    // Dropout (and its variants) is the identity at inference, so it may sit between the two.
    do {
      step = soleReader(step.outputs[0], name(step));
      if (typeof step === 'string') return step;
    } while (/Dropout$/.test(step.className));
    if (step.className !== 'Dense') return why(`${name(gap)} is followed by ${name(step)}, not by a Dense layer`);
    const dense = step;
    const activationOf = (s: Step) => (s.className === 'Softmax' ? 'softmax' : (s.layer.getConfig() as { activation?: string }).activation ?? 'linear');
    // The head's activation is the Dense layer's own, or that of a separate Activation / Softmax
    // output layer right after a linear Dense: the same head, the logits are the Dense output.
    let head = dense;
    if (!dense.isHead) {
      const after = soleReader(dense.outputs[0], name(dense));
      if (typeof after === 'string') return after;
      const separateHead = after.isHead && activationOf(dense) === 'linear' && (after.className === 'Activation' || after.className === 'Softmax');
      if (!separateHead) return why(`${name(dense)} is not the model's output layer (${name(after)} follows it)`);
      head = after;
    }
    const act = activationOf(head);
    if (act !== 'softmax' && act !== 'sigmoid' && act !== 'linear') return why(`${name(head)} applies ${act}, not softmax, sigmoid or linear`);
    return { weights: tf.clone(dense.layer.weights[0].read()) as tf.Tensor2D };
  }

  randomizer(): Randomizer | string {
    const r = new LayersRandomizer(this.model);
    return r.blocks.length > 0 ? r : 'the model has no layers with weights to re-initialise';
  }

  attention(): AttentionModel | string {
    if (this.attentionFacet === undefined) {
      const why = (what: string) => `needs MultiHeadAttention layers over image patches; ${what}`;
      if (!this.layers.some((l) => l.className === 'MultiHeadAttention')) {
        this.attentionFacet = why('this model has none');
      } else {
        try {
          const meta = this.model.getUserDefinedMetadata() as Record<string, unknown> | undefined;
          this.attentionFacet = attentionOfLayersModel(this.model, 'the model', meta ?? {});
        } catch (err) {
          if (!(err instanceof UserError)) throw err;
          this.attentionFacet = why(err.message.split('\n')[0]);
        }
      }
    }
    return this.attentionFacet;
  }

  dispose(): void {
    this.program.dispose();
    this.model.dispose();
  }
}

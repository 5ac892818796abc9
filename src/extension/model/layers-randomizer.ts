/**
 * Re-initialising the layers of a tfjs-layers model in place, and putting them back.
 *
 * Blocks: every layer with weights (Conv2D, DepthwiseConv2D, SeparableConv2D, Dense,
 * BatchNormalization, …) is randomizable. A BatchNormalization whose input is the output of a
 * layer with weights (other than another batch norm) joins that layer's block: conv → BN is one
 * column of the strip, as "a layer" is in the paper's figures, where batch norm is part of the
 * convolution it normalises. A batch norm after anything else (e.g. a Concatenate) is a block of
 * its own. Blocks are listed from the logits down, in reverse execution order of the model
 * adapter's program (nested models expanded, names as the adapter shows them).
 *
 * Transformers / ViTs: each MultiHeadAttention layer is a block (its query, key, value and
 * output kernels and biases, from the layer's kernel / bias initializers), and so is each
 * LayerNormalization (gamma, beta; it normalises the residual sum, not the attention output
 * alone, so it joins no block) and each ViT layer with a weight: ClassToken's `cls` and
 * AddPositionEmbs' `pos_embedding` name no initializer in their config and get the truncated
 * normal with the trained weight's mean and spread (initializers.ts).
 *
 * The model adapter reads weights and folds batch norms at call time (layer-ops.ts), so after a
 * re-initialisation the same adapter computes with the new weights: nothing is rebuilt or
 * reloaded per step.
 *
 * WeightSnapshot keeps the original values once. tfjs tensors are immutable and
 * `Variable.assign` points the variable at another buffer, so a clone of each weight holds the
 * original values for as long as the snapshot lives — a copy that costs no copying — and
 * assigning it back restores the weights bit for bit. Writes go to the tf.Variable directly
 * (not LayerVariable.write), so weight constraints are not applied to restored weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, LayerVariable, layers as tfl } from '@tensorflow/tfjs-layers';
import { UserError } from '../../shared/errors';
import { LayersProgram, type Step } from './layers-program';
import type { RandomizableBlock, Randomizer, WeightSnapshot } from './types';
import { freshWeight } from './layers-initializers';
import { weightSeed } from './weight-seed';

export interface LayerBlock {
  /** The column's name: its first layer's (the conv / dense layer, or a lone batch norm). */
  name: string;
  /** The layers it re-initialises, in execution order, with their names in the adapter. */
  layers: { name: string; layer: tfl.Layer }[];
}

/** The randomizable blocks of a model, from the logits down. */
export function randomizableBlocks(model: LayersModel): LayerBlock[] {
  const program = new LayersProgram(model);
  const producer = new Map<string, Step>();
  program.steps.forEach((s) => s.outputs.forEach((k) => producer.set(k, s)));
  const blocks: LayerBlock[] = [];
  const blockOf = new Map<tfl.Layer, LayerBlock>();
  for (const s of program.steps) {
    // A layer shared by several calls (or a nested model used twice) is one block.
    if (s.layer.weights.length === 0 || blockOf.has(s.layer)) continue;
    const from = s.className === 'BatchNormalization' ? producer.get(s.inputs[0]) : undefined;
    const owner = from && from.className !== 'BatchNormalization' ? blockOf.get(from.layer) : undefined;
    const block = owner ?? { name: s.name, layers: [] };
    if (!owner) blocks.push(block);
    block.layers.push({ name: s.name, layer: s.layer });
    blockOf.set(s.layer, block);
  }
  return blocks.reverse();
}

/** Models a snapshot currently holds: two checks randomizing one model would corrupt each other. */
const busy = new WeakSet<LayersModel>();

function assign(v: LayerVariable, value: tf.Tensor): void {
  // LayerVariable.read() returns the layer's tf.Variable itself.
  (v.read() as tf.Variable).assign(value);
}

export class LayersWeightSnapshot {
  private readonly saved = new Map<LayerVariable, tf.Tensor>();
  private released = false;

  /** Takes the snapshot of every block's weights; throws a UserError if the model is in use. */
  constructor(private readonly model: LayersModel, readonly blocks: readonly LayerBlock[]) {
    if (busy.has(model)) throw new UserError('a sanity check is already running on this model; wait for it to finish or cancel it');
    busy.add(model);
    for (const b of blocks) for (const { layer } of b.layers) for (const v of layer.weights) this.saved.set(v, tf.clone(v.read()));
  }

  /** The weight's original value (owned by the snapshot). */
  original(v: LayerVariable): tf.Tensor {
    const t = this.saved.get(v);
    if (!t) throw new Error(`no snapshot of weight ${v.name}`);
    return t;
  }

  /** Re-initialises a block's layers, seeded per (seed, layer, weight). */
  reinitialize(block: LayerBlock, seed: number): void {
    for (const { name, layer } of block.layers) {
      layer.weights.forEach((v, i) => {
        const fresh = freshWeight(layer, v, weightSeed(seed, name, i), this.original(v));
        assign(v, fresh);
        fresh.dispose();
      });
    }
  }

  /** Puts a block's original weights back. */
  restore(block: LayerBlock): void {
    for (const { layer } of block.layers) for (const v of layer.weights) assign(v, this.original(v));
  }

  /** Restores every weight and frees the snapshot; safe to call more than once. */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      for (const [v, t] of this.saved) assign(v, t);
    } finally {
      tf.dispose([...this.saved.values()]);
      this.saved.clear();
      busy.delete(this.model);
    }
  }
}

/** The Randomizer capability of a layers model: its blocks, snapshots taken on demand. */
export class LayersRandomizer implements Randomizer {
  readonly layerBlocks: readonly LayerBlock[];
  readonly blocks: readonly RandomizableBlock[];
  readonly initialization = "each layer's configured initializer (Keras' own; a truncated normal with the trained weight's mean and spread where none is configured)";

  constructor(private readonly model: LayersModel) {
    this.layerBlocks = randomizableBlocks(model);
    this.blocks = this.layerBlocks.map((b) => ({ name: b.name, layers: b.layers.map((l) => l.name) }));
  }

  snapshot(): WeightSnapshot {
    const s = new LayersWeightSnapshot(this.model, this.layerBlocks);
    return {
      reinitialize: (i, seed) => s.reinitialize(this.layerBlocks[i], seed),
      restore: (i) => s.restore(this.layerBlocks[i]),
      release: () => s.release(),
    };
  }
}

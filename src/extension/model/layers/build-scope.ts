/**
 * Building a tfjs-layers model from a file, with two guards tfjs-layers lacks:
 *
 * - A weight budget. Layers make their weights (zeros or initializer values) while the model is
 *   built, before any weight is read from the file, so a config whose `units` or `filters` says
 *   1e9 allocates gigabytes, or throws a bare RangeError, whatever the file holds. The weights a
 *   model can take are known beforehand (a model.json's manifest, the datasets of a Keras
 *   weights file), and every weight must be matched by one of them: a layer asking for more than
 *   is left is refused with a UserError before anything is allocated.
 * - Cleanup on failure. A build that fails half-way (a bad layer config after good ones, weights
 *   that do not fit, a weight name tfjs refuses) leaves the weights made so far registered with
 *   tfjs-core and the decoded weight tensors alive, since nothing holds the half-built model to
 *   dispose it: they are disposed here.
 * - Cleanup on dispose. tfjs-layers counts a reference per call of a layer and takes one per
 *   model dispose, so the weights of a layer called twice (a shared layer) outlive the model: a
 *   model built here disposes every weight it made.
 *
 * Builds are told apart by AsyncLocalStorage, so concurrent loads (a compute worker may load two
 * models at once) each charge and clean only their own weights.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { layers, LayersModel, type LayerVariable } from '@tensorflow/tfjs-layers';
import { UserError } from '../../../shared/errors';
import { compactLayersNames } from './name-registry';

interface BuildScope {
  file: string;
  /** Weight values (elements) the model may still make; Infinity when unknown. */
  left: number;
  /** Weights made so far, disposed when the build fails. */
  made: LayerVariable[];
}

const scopes = new AsyncLocalStorage<BuildScope>();
let hooked = false;

type AddWeight = (this: layers.Layer, name: string, shape: number[], ...rest: unknown[]) => LayerVariable;
type LoadWeights = (this: LayersModel, weights: tf.NamedTensorMap, strict?: boolean) => void;
type DisposeResult = { refCountAfterDispose: number; numDisposedVariables: number };
type Dispose = (this: LayersModel) => DisposeResult;

/** The weights each model built here made: all disposed with the model (see the dispose hook). */
const made = new WeakMap<LayersModel, LayerVariable[]>();

function hook(): void {
  if (hooked) return;
  hooked = true;
  const proto = layers.Layer.prototype as unknown as { addWeight: AddWeight };
  const addWeight = proto.addWeight;
  proto.addWeight = function (this: layers.Layer, name: string, shape: number[], ...rest: unknown[]): LayerVariable {
    const scope = scopes.getStore();
    if (!scope) return addWeight.call(this, name, shape, ...rest);
    const n = Array.isArray(shape) ? shape.reduce((a: number, b) => a * (typeof b === 'number' ? b : NaN), 1) : NaN;
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new UserError(`${scope.file}: the layer ${JSON.stringify(this.name).slice(0, 80)} asks for a weight ${JSON.stringify(name).slice(0, 60)} of shape ${JSON.stringify(shape).slice(0, 80)}, which no tensor can have`);
    }
    if (n > scope.left) {
      throw new UserError(`${scope.file}: the layer ${JSON.stringify(this.name).slice(0, 80)} asks for a weight of ${n} values, more than the file's weights hold (its config does not match its weights)`);
    }
    scope.left -= n;
    // A weight whose name tfjs-layers then refuses has its initial value made already: the scope
    // frees it (on success the value is the variable's, which no scope frees).
    tf.engine().startScope();
    let v: LayerVariable;
    try {
      v = addWeight.call(this, name, shape, ...rest);
    } finally {
      tf.engine().endScope();
    }
    scope.made.push(v);
    return v;
  };
  const mproto = LayersModel.prototype as unknown as { loadWeights: LoadWeights; dispose: Dispose };
  const loadWeights = mproto.loadWeights;
  mproto.loadWeights = function (this: LayersModel, weights: tf.NamedTensorMap, strict?: boolean): void {
    try {
      loadWeights.call(this, weights, strict);
    } catch (err) {
      // tfjs-layers' loader disposes the decoded weights only after they were put in.
      if (scopes.getStore() && weights && typeof weights === 'object') tf.dispose(Object.values(weights).filter((t) => t instanceof tf.Tensor));
      throw err;
    }
  };
  const dispose = mproto.dispose;
  mproto.dispose = function (this: LayersModel): DisposeResult {
    const result = dispose.call(this);
    const weights = made.get(this);
    if (weights && result.refCountAfterDispose === 0) {
      // A layer called twice in one model counts two references, and the model's dispose takes
      // one: its weights would stay registered for good.
      made.delete(this);
      for (const v of weights) disposeQuietly(v);
    }
    return result;
  };
}

function disposeQuietly(v: LayerVariable): void {
  try {
    v.dispose();
  } catch {
    // Disposed already.
  }
}

/**
 * Runs `build`, which builds one tfjs-layers model from `file`, guarded as above: the layers may
 * make at most `budget` weight values (undefined: no limit), and when `build` fails, the weights
 * it made are disposed. Also compacts tfjs-layers' name registry first (name-registry.ts).
 */
export async function buildLayersModel<T>(file: string, budget: number | undefined, build: () => Promise<T>): Promise<T> {
  hook();
  compactLayersNames();
  const scope: BuildScope = { file, left: budget ?? Infinity, made: [] };
  try {
    const result = await scopes.run(scope, build);
    if (result instanceof LayersModel) made.set(result, scope.made);
    return result;
  } catch (err) {
    for (const v of scope.made) disposeQuietly(v);
    throw err;
  }
}

/**
 * Sets the weight budget of the build under way (see buildLayersModel), once the weights are
 * known: a model.json's manifest is read by the IOHandler tfjs-layers calls inside the build.
 */
export function setWeightBudget(values: number): void {
  const scope = scopes.getStore();
  if (scope) scope.left = values;
}

/** Checks on a method's request (its input image and parameters): bad values become one-line UserErrors. */
import type * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_BATCH_SIZE, paramValue, type Explainer, type MethodParams } from '../explainer';
import { UserError } from '../../../shared/errors';

type Spec = Pick<Explainer, 'id' | 'params'>;

function range(e: Spec, key: string): { min: number; max: number } {
  const spec = e.params.find((p) => p.key === key);
  return { min: spec?.min ?? -Infinity, max: spec?.max ?? Infinity };
}

/** A number parameter within its spec's [min, max]. */
export function numberParam(e: Spec, params: MethodParams | undefined, key: string): number {
  const v = paramValue<number | string>(e, params, key);
  const { min, max } = range(e, key);
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new UserError(`${e.id}: ${key} must be a number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A whole-number parameter within its spec's [min, max]. */
export function integerParam(e: Spec, params: MethodParams | undefined, key: string): number {
  const v = paramValue<number | string>(e, params, key);
  const { min, max } = range(e, key);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new UserError(`${e.id}: ${key} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A choice parameter, one of its spec's choices. */
export function choiceParam<T extends string>(e: Spec, params: MethodParams | undefined, key: string): T {
  const v = paramValue<number | string>(e, params, key);
  const choices = e.params.find((p) => p.key === key)?.choices ?? [];
  if (typeof v !== 'string' || !choices.includes(v)) {
    throw new UserError(`${e.id}: ${key} must be one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

/**
 * Checks that `input` is one image [1, h, w, c] and that `black`, when given, has its shape;
 * returns [h, w, c].
 */
export function singleImage(label: string, input: tf.Tensor4D, black?: tf.Tensor): [number, number, number] {
  if (input.rank !== 4 || input.shape[0] !== 1) {
    throw new UserError(`${label} explains one image at a time: expected an input of shape [1, height, width, channels], got [${input.shape.join(', ')}]`);
  }
  if (black && black.shape.join() !== input.shape.join()) {
    throw new UserError(`${label}: the black image has shape [${black.shape.join(', ')}], the input [${input.shape.join(', ')}]`);
  }
  return [input.shape[1], input.shape[2], input.shape[3]];
}

/** The batch size to use: `requested`, or DEFAULT_BATCH_SIZE; anything but a positive whole number is an error. */
export function batchSizeOf(requested: number | undefined): number {
  if (requested === undefined) return DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(requested) || requested < 1) throw new UserError(`batch size must be a positive whole number, got ${requested}`);
  return requested;
}

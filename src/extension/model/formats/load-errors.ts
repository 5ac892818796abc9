/** Turns what a tfjs loader throws into one line for people. */
import { UserError } from '../../../shared/errors';
import { safeLine } from '../../util/excerpt';

/**
 * JavaScript's own errors (TypeError, RangeError, …) thrown inside a tfjs loader: it read a config
 * value of a shape it did not expect. tfjs' own errors (ValueError, …) already say what is wrong.
 */
function isBareJsError(err: unknown): err is Error {
  return err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError;
}

export function layersLoadError(file: string, err: unknown): Error {
  if (err instanceof UserError) return err;
  const msg = safeLine((err instanceof Error ? err.message : String(err)).split('\n')[0], 300);
  const unknownLayer = /Unknown layer: (\w+)/.exec(msg);
  if (unknownLayer) {
    return new UserError(`cannot load ${file}: it uses the layer ${unknownLayer[1]}, which TensorFlow.js does not provide`);
  }
  if (isBareJsError(err)) {
    return new UserError(`cannot load ${file}: its model topology is malformed, TensorFlow.js could not build it (${err.name}: ${msg})`);
  }
  return new UserError(`cannot load ${file}: ${msg}`);
}

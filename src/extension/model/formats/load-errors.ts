/** Turns what a tfjs loader throws into one line for people. */
import { UserError } from '../../../shared/errors';

export function layersLoadError(file: string, err: unknown): Error {
  if (err instanceof UserError) return err;
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  const unknownLayer = /Unknown layer: (\w+)/.exec(msg);
  if (unknownLayer) {
    return new UserError(`cannot load ${file}: it uses the layer ${unknownLayer[1]}, which TensorFlow.js does not provide`);
  }
  return new UserError(`cannot load ${file}: ${msg}`);
}

/** Helpers over layer descriptions shared by the adapters. */
import { UserError } from '../../shared/errors';
import type { LayerInfo } from './types';

/** The last layer with a spatial [batch, h, w, c] output: the usual choice for CAM methods. */
export function lastSpatialLayer(layers: readonly LayerInfo[]): string | undefined {
  for (let i = layers.length - 1; i >= 0; i--) if (layers[i].spatial) return layers[i].name;
  return undefined;
}

export function layerNotFound(name: string, layers: readonly LayerInfo[]): UserError {
  const spatial = layers.filter((l) => l.spatial).map((l) => l.name);
  const hint = spatial.length > 0 ? `spatial layers: ${spatial.slice(-12).join(', ')}` : 'the model has no spatial layers';
  return new UserError(`the model has no layer named "${name}" (${hint})`);
}

/** Resolves the layer a spatial method runs at, with a clear error when there is none. */
export function spatialLayerOrThrow(layers: readonly LayerInfo[], requested: string | undefined, method: string): LayerInfo {
  if (requested !== undefined) {
    const info = layers.find((l) => l.name === requested);
    if (!info) throw layerNotFound(requested, layers);
    if (!info.spatial) {
      throw new UserError(`${method} needs a layer with a spatial [batch, height, width, channels] output; "${requested}" outputs [${info.outputShape.map((d) => d ?? '?').join(', ')}]`);
    }
    return info;
  }
  const name = lastSpatialLayer(layers);
  if (name === undefined) throw new UserError(`${method} needs a layer with a spatial [batch, height, width, channels] output, and this model has none`);
  return layers.find((l) => l.name === name)!;
}

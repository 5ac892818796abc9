/**
 * tfjs-layers gives every weight variable and symbolic tensor a unique name through a module-level
 * Map: `conv1/kernel` counts its uses, and each suffixed name it hands out (`conv1/kernel_1`,
 * `conv1/kernel_2`, …) is added as a key of its own, "in case someone asks for it", and never
 * removed. Every load of a model adds one key per weight and per layer output for good (about
 * 10 KB per load of a small CNN; a training run's checkpoints reloaded for hours add up).
 * tfjs-layers exports no way to reach the Map, so it is found once by watching a SymbolicTensor
 * with a probe name look itself up in it, and compacted before each load.
 *
 * Compacting drops only those suffixed keys, and keeps every base name's counter. Names must stay
 * unique, and not only among live variables (tfjs-core refuses a second variable of a name): the
 * layers executor caches graph orders by the names of fetched and fed tensors, so a new model whose
 * tensors reused a disposed model's names would run the disposed model's graph. With every counter
 * kept, each name handed out later is new. A suffixed key is dropped when its base's counter has
 * passed it (it was handed out, not asked for) and no live variable has it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SymbolicTensor } from '@tensorflow/tfjs-layers';

const PROBE = 'xaiLensNameRegistryProbe';

let found: Map<string, number> | null | undefined;

/** tfjs-layers' Map of tensor names, or null when it cannot be found (another tfjs-layers version). */
export function layersNameMap(): Map<string, number> | null {
  if (found !== undefined) return found;
  found = null;
  const has = Map.prototype.has;
  let seen: Map<string, number> | undefined;
  // Watching one lookup of the probe name, for the length of one constructor call.
  (Map.prototype as { has(key: unknown): boolean }).has = function (this: Map<unknown, unknown>, key: unknown): boolean {
    if (key === PROBE && seen === undefined) seen = this as Map<string, number>;
    return has.call(this, key);
  };
  try {
    // The constructor scopes and uniquifies its name; no layer, no graph, no tensor memory.
    new SymbolicTensor('float32', [1], null as never, [], {}, PROBE);
  } catch {
    seen = undefined;
  } finally {
    Map.prototype.has = has;
  }
  if (seen && seen.get(PROBE) === 1) {
    seen.delete(PROBE);
    found = seen;
  }
  return found;
}

/** Drops the suffixed names tfjs-layers has handed out (see above); a no-op when its Map cannot be found. */
export function compactLayersNames(): void {
  const names = layersNameMap();
  if (!names) return;
  const live = tf.engine().registeredVariables;
  for (const [name, count] of names) {
    if (count !== 1) continue;
    const suffixed = /^(.*)_(\d+)$/.exec(name);
    if (!suffixed) continue;
    const base = names.get(suffixed[1]);
    if (base === undefined || base <= Number(suffixed[2]) || Object.hasOwn(live, name)) continue;
    names.delete(name);
  }
}

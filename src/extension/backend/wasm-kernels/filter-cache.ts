/**
 * Filters the gradient kernels derive from a conv's filter (rotated, in/out-transposed), kept per
 * filter buffer. A model's filters are the same tensors on every call, so the derivation runs
 * once, and — because XNNPACK keys the operator it packed on the filter's buffer — the backward
 * conv reuses its packed operator instead of re-packing the weights on every call. A derived
 * filter is freed when the wasm backend frees the filter's buffer.
 */
import type { DataId, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { withWasmOps, type WasmOps } from './wasm-ops';

type Derived = Map<string, TensorInfo>;

const caches = new WeakMap<BackendWasm, Map<DataId, Derived>>();

/** The backend's cache, freeing a filter's derivations when its buffer goes. */
function cacheOf(backend: BackendWasm): Map<DataId, Derived> {
  let cache = caches.get(backend);
  if (cache) return cache;
  const byFilter = new Map<DataId, Derived>();
  cache = byFilter;
  caches.set(backend, byFilter);
  const disposeData = backend.disposeData.bind(backend);
  backend.disposeData = (dataId: DataId, force?: boolean): boolean => {
    const freed = disposeData(dataId, force);
    const derived = byFilter.get(dataId);
    if (derived && !backend.dataIdMap.has(dataId)) {
      byFilter.delete(dataId);
      for (const t of derived.values()) disposeData(t.dataId, true);
    }
    return freed;
  };
  return byFilter;
}

/**
 * `make(ops, filter)`'s result, made once per filter buffer and `key`. The result belongs to the
 * cache: callers read it and never free it.
 */
export function derivedFilter(backend: unknown, filter: TensorInfo, key: string, make: (ops: WasmOps, filter: TensorInfo) => TensorInfo): TensorInfo {
  const b = backend as BackendWasm;
  const cache = cacheOf(b);
  const hit = cache.get(filter.dataId)?.get(key);
  if (hit && b.dataIdMap.has(hit.dataId)) return hit;
  const made = withWasmOps(b, (ops) => make(ops, filter));
  let derived = cache.get(filter.dataId);
  if (!derived) {
    derived = new Map();
    cache.set(filter.dataId, derived);
  }
  derived.set(key, made);
  return made;
}

/**
 * Runs the wasm backend's own kernels directly from inside another kernel. No engine tensors are
 * made (so `tf.memory()` is untouched) and every intermediate is freed when the scope closes, even
 * when a kernel throws.
 */
import { getKernel, type DataType, type NamedAttrMap, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** [before, after] per axis; a negative number crops instead of padding. */
export type AxisPadding = [number, number];

export class WasmOps {
  private readonly owned: TensorInfo[] = [];

  constructor(readonly backend: BackendWasm) {}

  /** Runs one wasm kernel; its output is freed when the scope closes unless it is the result. */
  run(kernelName: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const kernel = getKernel(kernelName, 'wasm');
    if (kernel == null) throw new Error(`the wasm backend has no ${kernelName} kernel`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`${kernelName} returned several outputs; WasmOps expects one`);
    this.owned.push(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** A fresh copy, for when a result must not share memory with an input. */
  copy(x: TensorInfo): TensorInfo {
    // Not the Identity kernel: it shares the buffer (see identity.ts).
    const out = this.empty(x.shape, x.dtype);
    (this.backend.typedArrayFromHeap(out) as Float32Array).set(this.backend.typedArrayFromHeap(x) as Float32Array);
    return out;
  }

  concat(xs: TensorInfo[], axis: number): TensorInfo {
    if (xs.length === 1) return xs[0];
    // Concat takes its inputs as an array, not a named map.
    return this.run('Concat', xs as unknown as NamedTensorInfoMap, { axis });
  }

  /**
   * Matmul of rank-3 operands. Only batch 1 without transposes runs on XNNPACK's GEMM; anything
   * else falls to a naive loop ~10× slower, so callers arrange their operands for this form.
   */
  matMul(a: TensorInfo, b: TensorInfo): TensorInfo {
    return this.run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
  }

  sum(x: TensorInfo, axis: number[]): TensorInfo {
    return this.run('Sum', { x }, { axis, keepDims: false });
  }

  /** A new tensor holding `values`. */
  fromValues(values: Int32Array | Float32Array, shape: number[], dtype: DataType): TensorInfo {
    const out = this.backend.makeOutput(shape, dtype, undefined, values);
    this.owned.push(out);
    return out;
  }

  /** A new tensor whose values are unset, for a kernel to write through typedArrayFromHeap. */
  empty(shape: number[], dtype: DataType): TensorInfo {
    const out = this.backend.makeOutput(shape, dtype);
    this.owned.push(out);
    return out;
  }

  zeros(shape: number[], dtype: DataType): TensorInfo {
    return this.run('Fill', {}, { shape, value: 0, dtype });
  }

  /** Pads with zeros and/or crops each axis, skipping the copy when nothing changes. */
  padOrCrop(x: TensorInfo, paddings: AxisPadding[]): TensorInfo {
    let out = x;
    if (paddings.some(([before, after]) => before < 0 || after < 0)) {
      const begin = paddings.map(([before]) => Math.max(0, -before));
      const size = paddings.map(([before, after], i) => x.shape[i] - Math.max(0, -before) - Math.max(0, -after));
      out = this.run('Slice', { x: out }, { begin, size });
    }
    if (paddings.some(([before, after]) => before > 0 || after > 0)) {
      const positive = paddings.map(([before, after]) => [Math.max(0, before), Math.max(0, after)]);
      out = this.run('PadV2', { x: out }, { paddings: positive, constantValue: 0 });
    }
    return out;
  }

  /** Whether `t` was made in this scope (and so may be handed out as a result). */
  owns(t: TensorInfo): boolean {
    return this.owned.includes(t);
  }

  /** Frees intermediates early, to bound peak memory inside long kernels. */
  free(...ts: TensorInfo[]): void {
    for (const t of ts) {
      const i = this.owned.indexOf(t);
      if (i < 0) continue;
      this.owned.splice(i, 1);
      this.backend.disposeData(t.dataId);
    }
  }

  /** Frees every intermediate except `result`, which passes to the caller. */
  close(result?: TensorInfo): void {
    for (const t of this.owned) {
      if (t !== result) this.backend.disposeData(t.dataId);
    }
    this.owned.length = 0;
  }
}

/**
 * Runs `body` with a fresh scope and returns its result as a new, caller-owned tensor. If `body`
 * returns one of the kernel's own inputs, it is copied so the output never aliases an input.
 */
export function withWasmOps(backend: unknown, body: (ops: WasmOps) => TensorInfo): TensorInfo {
  const ops = new WasmOps(backend as BackendWasm);
  let result: TensorInfo | undefined;
  try {
    result = body(ops);
    if (!ops.owns(result)) result = ops.copy(result);
    return result;
  } finally {
    ops.close(result);
  }
}

/**
 * MaxPoolGrad for wasm, replacing the backend's own kernel, which measured ~100× the forward pool
 * on ResNet's 3×3 stride-2 pool and routes gradients unlike PyTorch and tfjs' cpu backend: a tie
 * goes to the window's last maximum, and a window whose maximum is below the smallest positive
 * float (all ≤ 0, e.g. after a ReLU) sends its gradient to the tensor's first element if the
 * window holds it, else nowhere.
 *
 * Here each window routes its dy to one input, as PyTorch's max_pool2d backward does: the first
 * maximum in row-major window order (NaN counts as a maximum, the last one winning), scanning only
 * the window's positions inside the input. One pass over the windows, channels innermost (NHWC).
 */
import {
  backend_util, getKernel, MaxPoolGrad,
  type KernelConfig, type KernelFunc, type MaxPoolGradAttrs, type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type Shape4D = [number, number, number, number];

/** The kernel wasm registered itself, kept so tests can compare the two. */
let original: KernelConfig | undefined;

const maxPoolGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
  const info = backend_util.computePool2DInfo(input.shape as Shape4D, filterSize, strides, 1, pad, dimRoundingMode);
  const wasm = backend as BackendWasm;
  // Loops run on JS-heap copies: element access through views of the wasm heap measured ~20× slower.
  const x = (wasm.typedArrayFromHeap(input) as Float32Array).slice();
  const g = (wasm.typedArrayFromHeap(dy) as Float32Array).slice();
  const dx = new Float32Array(x.length);

  const { batchSize, inHeight: h, inWidth: w, inChannels: c, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, effectiveFilterHeight, effectiveFilterWidth } = info;
  const { top, left } = info.padInfo;
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  for (let n = 0; n < batchSize; n++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const r0 = Math.max(0, oy * strideHeight - top);
      const r1 = Math.min(h, oy * strideHeight - top + effectiveFilterHeight);
      for (let ox = 0; ox < outWidth; ox++) {
        const c0 = Math.max(0, ox * strideWidth - left);
        const c1 = Math.min(w, ox * strideWidth - left + effectiveFilterWidth);
        if (r0 >= r1 || c0 >= c1) continue; // the window lies wholly in the padding
        const first = ((n * h + r0) * w + c0) * c;
        for (let k = 0; k < c; k++) {
          best[k] = -Infinity;
          at[k] = first + k;
        }
        for (let r = r0; r < r1; r++) {
          for (let col = c0; col < c1; col++) {
            const base = ((n * h + r) * w + col) * c;
            for (let k = 0; k < c; k++) {
              const v = x[base + k];
              if (v > best[k] || v !== v) {
                best[k] = v;
                at[k] = base + k;
              }
            }
          }
        }
        const dyBase = ((n * outHeight + oy) * outWidth + ox) * c;
        for (let k = 0; k < c; k++) dx[at[k]] += g[dyBase + k];
      }
    }
  }
  const out = wasm.makeOutput(input.shape, 'float32');
  (wasm.typedArrayFromHeap(out) as Float32Array).set(dx);
  return out;
};

export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad,
  // The original kernel binds its wasm function when the backend starts: keep doing that for it.
  setupFunc: (backend) => original?.setupFunc?.(backend),
};

/** Remembers the backend's own kernel before ours replaces it. */
export function keepOriginalMaxPoolGrad(): void {
  const k = getKernel(MaxPoolGrad, 'wasm');
  if (k && k.kernelFunc !== maxPoolGrad) original = k;
}

/** The backend's own MaxPoolGrad, if it had one (for comparisons in tests). */
export function wasmOwnMaxPoolGrad(): KernelConfig | undefined {
  return original;
}

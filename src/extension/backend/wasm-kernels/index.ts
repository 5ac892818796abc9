/**
 * Gradient kernels the tfjs wasm backend lacks, built from kernels it has (strided slices,
 * XNNPACK GEMM and depthwise conv, ScatterNd), so training and gradient-based explanations of
 * conv nets run on wasm instead of falling back to the ~50× slower cpu backend.
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { conv2dBackpropInputConfig, keepOriginalConv2dBackpropInput } from './conv2d-backprop-input';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter';
import { depthwiseBackpropFilterConfig } from './depthwise-backprop-filter';
import { depthwiseBackpropInputConfig } from './depthwise-backprop-input';
import { keepOriginalMaxPoolGrad, maxPoolGradConfig } from './max-pool-grad';
import { identityConfig, keepOriginalIdentity } from './identity';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum';

export const WASM_GRADIENT_KERNELS: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  depthwiseBackpropFilterConfig,
  unsortedSegmentSumConfig,
];

/** Kernels the wasm backend has, but slowly: replaced by ours. */
export const WASM_KERNEL_REPLACEMENTS: readonly KernelConfig[] = [conv2dBackpropInputConfig, maxPoolGradConfig, identityConfig];

/**
 * Registers the kernels for the 'wasm' backend. Idempotent, and leaves alone any missing kernel
 * that is already registered (e.g. by a future tfjs-backend-wasm that ships its own).
 */
export function registerWasmGradientKernels(): void {
  for (const config of WASM_GRADIENT_KERNELS) {
    if (getKernel(config.kernelName, config.backendName) == null) registerKernel(config);
  }
  keepOriginalConv2dBackpropInput();
  keepOriginalMaxPoolGrad();
  keepOriginalIdentity();
  for (const config of WASM_KERNEL_REPLACEMENTS) {
    if (getKernel(config.kernelName, config.backendName)?.kernelFunc === config.kernelFunc) continue;
    if (getKernel(config.kernelName, config.backendName)) unregisterKernel(config.kernelName, config.backendName);
    registerKernel(config);
  }
}

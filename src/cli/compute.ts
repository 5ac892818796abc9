/**
 * The CLI's compute pool: the same worker threads as the extension's, sized by `--workers`
 * (default: the cores minus one). The main thread parses, routes and writes files.
 */
import { ComputePool, defaultPoolSize } from '../extension/compute/pool';
import type { BackendChoice, BackendReport } from '../extension/backend/backends';
import type { ModelRef } from '../extension/compute/protocol';
import type { LoadOptions } from '../extension/model/load';
import { parseIntOption } from './args';

export const WORKERS_USAGE = `  --workers <n>         worker threads (default: the cores minus one, here ${defaultPoolSize()})`;
export const ONNX_USAGE = '  --no-onnxruntime      run ONNX models on the backend only (default: forward passes on onnxruntime)';

/** The option table entries every computing command takes. */
export const COMPUTE_OPTIONS = {
  workers: { type: 'string' },
  'no-onnxruntime': { type: 'boolean' },
} as const;

export async function startPool(values: { workers?: string; backend: BackendChoice }): Promise<{ pool: ComputePool; backend: BackendReport }> {
  const size = values.workers === undefined ? undefined : parseIntOption(values.workers, '--workers', 1, 1);
  const pool = new ComputePool({ size, backend: values.backend });
  try {
    return { pool, backend: await pool.ready() };
  } catch (err) {
    await pool.dispose();
    throw err;
  }
}

/** The model reference jobs take, from the command's options. */
export function modelRef(file: string, values: { 'no-onnxruntime'?: boolean }, options: LoadOptions = {}): ModelRef {
  return { file, options: { ...options, ...(values['no-onnxruntime'] ? { onnxRuntime: { enabled: false } } : {}) } };
}

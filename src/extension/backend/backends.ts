/**
 * The backend chain: auto tries tfjs-node-gpu, then tfjs-node, then wasm (with the gradient
 * kernels it lacks supplied by this project), then the pure-JS cpu backend. Every attempt that
 * fails is recorded with its reason, so the user can see why a preferred backend was skipped.
 */
import * as tf from '@tensorflow/tfjs-core';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
// In Node, tfjs-core's entry point registers no gradient functions; tfjs-layers' does. Import it
// here so gradients work whatever else the caller imports.
import '@tensorflow/tfjs-layers';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { registerWasmGradientKernels } from './wasm-kernels';

export const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export type ConcreteBackend = Exclude<BackendChoice, 'auto'>;

export interface BackendAttempt {
  backend: ConcreteBackend;
  ok: boolean;
  /** Why it was skipped or failed; empty when it was taken. */
  reason: string;
}

export interface BackendReport {
  /** The backend in use. */
  backend: ConcreteBackend;
  /** The tfjs backend name (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
  attempts: BackendAttempt[];
}

export interface BackendOptions {
  /** Extra folders that may hold a node_modules with tfjs-node(-gpu), searched first. */
  nativeSearchPaths?: string[];
  /** Folder that holds the tfjs-backend-wasm `.wasm` files (defaults to the package's dist/). */
  wasmDir?: string;
}


const NATIVE_PACKAGE: Record<'tensorflow-gpu' | 'tensorflow', string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

export function isSupportedBackendChoice(s: string): s is BackendChoice {
  return (BACKEND_CHOICES as readonly string[]).includes(s);
}

/** Locates the tfjs-backend-wasm dist folder holding the .wasm binaries. */
export function defaultWasmDir(): string {
  const bundled = path.join(__dirname, 'tfjs-backend-wasm.wasm');
  if (fs.existsSync(bundled)) return __dirname + path.sep;
  const pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return path.join(path.dirname(pkg), 'dist') + path.sep;
}

export function explainNativeFailure(pkg: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/tfjs_binding\.node/.test(msg)) {
    return `${pkg} is installed but its native binding is missing (its install step could not download libtensorflow)`;
  }
  if (/Cannot find module/.test(msg) && msg.includes(pkg)) {
    return `${pkg} is not installed`;
  }
  const lib = /(lib[\w.+-]+\.so(?:\.\d+)*)/.exec(msg);
  if (lib) {
    const cuda = /cud|cublas|cufft|curand|cusolver|cusparse/.test(lib[1]);
    return cuda
      ? `${pkg} could not load ${lib[1]}: it needs CUDA 11.2 and cuDNN 8.1 libraries on the library path`
      : `${pkg} could not load ${lib[1]} (its native TensorFlow library is missing; reinstall the package)`;
  }
  return `${pkg} failed to load: ${msg.split('\n')[0]}`;
}

/**
 * Loads tfjs-node(-gpu). Loading it registers the `tensorflow` backend with the tfjs-core it
 * requires — which must be this extension's tfjs-core, or the backend lands in another engine.
 * A native package installed elsewhere (the extension's storage, the workspace) brings its own
 * copy, so while it loads, its requests for tfjs-core are answered with ours.
 */
function requireNative(pkg: string, searchPaths: string[]): void {
  const resolved = require.resolve(pkg, { paths: [...searchPaths, process.cwd(), __dirname] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Module = require('node:module') as { _load: (request: string, parent: unknown, isMain: boolean) => unknown };
  const load = Module._load;
  Module._load = function (request: string, parent: unknown, isMain: boolean) {
    return request === '@tensorflow/tfjs-core' ? tf : load.call(this, request, parent, isMain);
  };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(resolved);
  } finally {
    Module._load = load;
  }
}

async function tryBackend(b: ConcreteBackend, opts: BackendOptions): Promise<string | undefined> {
  try {
    if (b === 'tensorflow-gpu' || b === 'tensorflow') {
      const pkg = NATIVE_PACKAGE[b];
      try {
        requireNative(pkg, opts.nativeSearchPaths ?? []);
      } catch (err) {
        return explainNativeFailure(pkg, err);
      }
      if (!(await tf.setBackend('tensorflow'))) return `${pkg} loaded but its backend did not initialise`;
      return undefined;
    }
    if (b === 'wasm') {
      setWasmPaths(opts.wasmDir ?? defaultWasmDir());
      registerWasmGradientKernels();
      if (!(await tf.setBackend('wasm'))) return 'the wasm backend did not initialise';
      return undefined;
    }
    if (!(await tf.setBackend('cpu'))) return 'the cpu backend did not initialise';
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * Initialises tfjs with the chosen backend. `auto` walks the chain; a named backend that fails
 * falls back along the rest of the chain, and the report says why.
 */
export async function initBackend(choice: BackendChoice = 'auto', opts: BackendOptions = {}): Promise<BackendReport> {
  // Loading the cpu backend's module registers it. Its package declares itself free of side
  // effects, so a bundler drops an import nothing reads at run time: read one.
  if (typeof version_cpu !== 'string') throw new Error('the cpu backend of TensorFlow.js is missing from this build');
  const chain: ConcreteBackend[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
  const start = choice === 'auto' ? 0 : chain.indexOf(choice);
  const attempts: BackendAttempt[] = [];
  for (const b of chain.slice(start)) {
    const reason = await tryBackend(b, opts);
    attempts.push({ backend: b, ok: reason === undefined, reason: reason ?? '' });
    if (reason === undefined) {
      await tf.ready();
      return { backend: b, tfBackend: tf.getBackend(), attempts };
    }
  }
  throw new Error(`no TensorFlow.js backend could be initialised: ${attempts.map((a) => `${a.backend}: ${a.reason}`).join('; ')}`);
}

/** One line for people: which backend runs and why the preferred ones were skipped. */
export function describeBackend(r: BackendReport): string {
  const skipped = r.attempts.filter((a) => !a.ok);
  return skipped.length === 0
    ? r.backend
    : `${r.backend} (skipped: ${skipped.map((a) => `${a.backend}: ${a.reason}`).join('; ')})`;
}

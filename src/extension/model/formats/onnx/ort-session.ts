/**
 * Forward-only passes of ONNX models through onnxruntime-node: the adapter's ForwardRunner.
 * Sessions are made from the model's bytes (ort-model-bytes.ts) with the logits, or a layer's
 * value, among the graph outputs; images arrive NHWC and are transposed to the model's NCHW here;
 * the head and the target are applied to the logits as the tfjs graph does (targets.ts).
 * onnxruntime-node is required lazily, on the first load: when it cannot load, or no provider
 * starts a session, the adapter keeps its tfjs path and says why.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type * as Ort from 'onnxruntime-node';
import { UserError } from '../../../../shared/errors';
import { applyHeadValues, targetScoreValues } from '../../targets';
import type { ForwardRunner, OnnxRuntimeOptions, Target } from '../../types';
import type { OnnxModelAdapter } from './adapter';
import { ortModelBytes } from './ort-model-bytes';
import { DataType, dataTypeName } from './proto';

export type OrtModule = typeof Ort;
type Session = Ort.InferenceSession;

/** The execution providers a person may choose (xaiLens.onnxExecutionProvider). */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'dml', 'coreml'] as const;

/** Layer sessions kept at once (each holds the model's weights). */
const LAYER_SESSIONS = 2;

let loaded: OrtModule | string | undefined;

/** onnxruntime-node, or why it cannot load (loaded once per thread). */
export function loadOnnxRuntime(): OrtModule | string {
  if (loaded === undefined) {
    try {
      // Required here, not imported: a missing or broken native binary only disables the fast path.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const ort = require('onnxruntime-node') as OrtModule;
      // Errors reach us as exceptions; the native log would repeat them on stderr.
      ort.env.logLevel = 'fatal';
      loaded = ort;
    } catch (err) {
      // Not installed (the darwin-x64 .vsix leaves it out: it has no build for that platform), or
      // installed without a binary for this platform: the tfjs path runs every pass.
      loaded = `onnxruntime-node could not load on ${process.platform}-${process.arch} (${ortMessage(err)}); TensorFlow.js runs the forward passes`;
    }
  }
  return loaded;
}

/** The first line of an onnxruntime error without its C++ source location and status prefix. */
export function ortMessage(err: unknown): string {
  const line = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  return line
    .replace(/^\S+\.(?:cc|cpp|h):\d+ (?:[\w:<>,*& ]+\([^)]*\)(?: const)? )?/, '')
    .replace(/^\[ONNXRuntimeError\] : \d+ : \w+ : /, '')
    .trim()
    .slice(0, 300);
}

/** Why an execution provider did not start, for people. */
function providerFailure(provider: string, err: unknown): string {
  const msg = ortMessage(err);
  if (/backend not found/i.test(msg)) return 'not in this build of onnxruntime-node';
  if (provider === 'cuda' && /failed to load shared library/i.test(msg)) return 'its provider library, or the CUDA 12 and cuDNN 9 libraries it needs, could not be loaded';
  return msg;
}

/** Intra-op threads: the option, else the cores shared among the workers. */
export function ortThreads(opts: OnnxRuntimeOptions): number {
  if (opts.threads !== undefined && Number.isInteger(opts.threads) && opts.threads >= 1) return opts.threads;
  const workers = opts.workers !== undefined && opts.workers >= 1 ? opts.workers : 1;
  return Math.max(1, Math.floor(os.availableParallelism() / workers));
}

function sessionOptions(provider: string, threads: number): Ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // DirectML runs without memory patterns.
    enableMemPattern: provider !== 'dml',
    logSeverityLevel: 4,
  };
}

/** NHWC → NCHW. */
function toNchw(x: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  if (c === 1) return x;
  const out = new Float32Array(x.length);
  const plane = h * w;
  for (let b = 0; b < n; b++) {
    const base = b * plane * c;
    for (let p = 0; p < plane; p++) for (let k = 0; k < c; k++) out[base + k * plane + p] = x[base + p * c + k];
  }
  return out;
}

/** NCHW → NHWC (as activations are presented). */
function toNhwc(x: Float32Array, [n, c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(x.length);
  const plane = h * w;
  for (let b = 0; b < n; b++) {
    const base = b * plane * c;
    for (let k = 0; k < c; k++) for (let p = 0; p < plane; p++) out[base + p * c + k] = x[base + k * plane + p];
  }
  return out;
}

/** A session and the runs in flight on it, so that one retired from the cache is released when idle. */
interface SessionEntry {
  session: Promise<Session>;
  running: number;
  retired: boolean;
}

function release(entry: SessionEntry): void {
  entry.retired = true;
  if (entry.running === 0) entry.session.then((s) => s.release(), () => undefined).catch(() => undefined);
}

/** The model file's size and time, to notice a file replaced after the load. */
function stamp(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return 'unreadable';
  }
}

export class OrtForward implements ForwardRunner {
  private readonly main: SessionEntry;
  private readonly layerSessions = new Map<string, SessionEntry>();
  /** One image at a time: the graph fixes its batch to 1, or it failed on a batch and ran per image. */
  private perImage: boolean;
  private readonly file: string;
  private readonly loadedStamp: string;

  constructor(
    private readonly ort: OrtModule,
    session: Session,
    private readonly adapter: OnnxModelAdapter,
    private readonly options: Ort.InferenceSession.SessionOptions,
    readonly description: string,
    readonly note: string | undefined,
  ) {
    this.main = { session: Promise.resolve(session), running: 0, retired: false };
    this.perImage = adapter.fixedBatch;
    this.file = adapter.graph.file;
    this.loadedStamp = stamp(this.file);
  }

  async scores(x: Float32Array, batch: number, target: Target): Promise<Float32Array> {
    return targetScoreValues(await this.logits(x, batch), this.adapter.outputSize, this.adapter.headActivation, target);
  }

  async probabilities(x: Float32Array, batch: number): Promise<Float32Array> {
    return applyHeadValues(await this.logits(x, batch), this.adapter.outputSize, this.adapter.headActivation);
  }

  async activations(x: Float32Array, batch: number, layer: string): Promise<{ data: Float32Array; shape: number[] }> {
    const value = this.adapter.valueOf(layer);
    if (value === this.adapter.inputName) return { data: x.slice(0, this.checkBatch(x, batch)), shape: [batch, ...this.adapter.inputShape] };
    const { data, dims } = await this.run(this.layerSession(value), value, x, batch);
    return dims.length === 4 ? { data: toNhwc(data, dims), shape: [dims[0], dims[2], dims[3], dims[1]] } : { data, shape: dims };
  }

  private async logits(x: Float32Array, batch: number): Promise<Float32Array> {
    const { data } = await this.run(this.main, this.adapter.logitsName, x, batch);
    if (data.length !== batch * this.adapter.outputSize) {
      throw new Error(`onnxruntime gave ${data.length} logits for ${batch} images of ${this.adapter.outputSize} outputs`);
    }
    return data;
  }

  /** The session with `value` among its outputs, made on first use (the file read again). */
  private layerSession(value: string): SessionEntry {
    const known = this.layerSessions.get(value);
    if (known) {
      // Most recently used last.
      this.layerSessions.delete(value);
      this.layerSessions.set(value, known);
      return known;
    }
    const session = (async () => {
      if (stamp(this.file) !== this.loadedStamp) throw new UserError(`${this.file} changed after it was loaded; run again to load the new model`);
      return this.ort.InferenceSession.create(ortModelBytes(this.file, [value]), this.options);
    })();
    const entry: SessionEntry = { session, running: 0, retired: false };
    session.catch(() => this.layerSessions.get(value) === entry && this.layerSessions.delete(value));
    this.layerSessions.set(value, entry);
    while (this.layerSessions.size > LAYER_SESSIONS) {
      const [oldest, old] = this.layerSessions.entries().next().value as [string, SessionEntry];
      this.layerSessions.delete(oldest);
      release(old);
    }
    return entry;
  }

  /** The number of values `batch` images hold; a UserError when `x` has fewer. */
  private checkBatch(x: Float32Array, batch: number): number {
    const [h, w, c] = this.adapter.inputShape;
    if (!Number.isInteger(batch) || batch < 1 || x.length < batch * h * w * c) {
      throw new UserError(`${this.file} takes [batch, ${h}, ${w}, ${c}] images, got ${x.length} values for ${batch}`);
    }
    return batch * h * w * c;
  }

  /** Runs `batch` NHWC images, in one call or one image at a time, fetching `output`. */
  private async run(entry: SessionEntry, output: string, x: Float32Array, batch: number): Promise<{ data: Float32Array; dims: number[] }> {
    const [h, w, c] = this.adapter.inputShape;
    const size = this.checkBatch(x, batch) / batch;
    entry.running++;
    try {
      const session = await entry.session;
      const nchw = toNchw(x.subarray(0, batch * size), batch, h, w, c);
      const once = (start: number, n: number) => this.runOnce(session, output, nchw.subarray(start * size, (start + n) * size), n);
      if (batch === 1 || this.perImage) return await this.imageByImage(once, batch);
      try {
        return await once(0, batch);
      } catch (err) {
        // A graph with a dynamic batch axis that still fixes it inside (a Reshape to [1, -1]):
        // when single images run, it runs one image at a time from now on.
        const single = await this.imageByImage(once, batch).catch(() => undefined);
        if (!single) throw err;
        this.perImage = true;
        return single;
      }
    } finally {
      entry.running--;
      if (entry.retired && entry.running === 0) release(entry);
    }
  }

  private async imageByImage(once: (start: number, n: number) => Promise<{ data: Float32Array; dims: number[] }>, batch: number): Promise<{ data: Float32Array; dims: number[] }> {
    if (batch === 1) return once(0, 1);
    const parts: { data: Float32Array; dims: number[] }[] = [];
    for (let i = 0; i < batch; i++) parts.push(await once(i, 1));
    const data = new Float32Array(parts.reduce((s, p) => s + p.data.length, 0));
    let at = 0;
    for (const p of parts) {
      data.set(p.data, at);
      at += p.data.length;
    }
    return { data, dims: [batch, ...parts[0].dims.slice(1)] };
  }

  private async runOnce(session: Session, output: string, nchw: Float32Array, n: number): Promise<{ data: Float32Array; dims: number[] }> {
    const [h, w, c] = this.adapter.inputShape;
    const input = new this.ort.Tensor('float32', nchw, [n, c, h, w]);
    let result: Ort.InferenceSession.OnnxValueMapType;
    try {
      result = await session.run({ [this.adapter.inputName]: input }, [output]);
    } catch (err) {
      throw new Error(`onnxruntime failed on ${this.file}: ${ortMessage(err)}`);
    }
    const t = result[output] as Ort.Tensor;
    const dims = [...t.dims];
    if (t.type === 'float32') return { data: t.data as Float32Array, dims };
    if (t.type === 'float64') return { data: Float32Array.from(t.data as Float64Array), dims };
    throw new Error(`onnxruntime gave ${t.type} values for ${output}; float32 was expected`);
  }

  /** Releases every session. */
  dispose(): void {
    release(this.main);
    for (const entry of this.layerSessions.values()) release(entry);
    this.layerSessions.clear();
  }
}

/** For tests: the module to use, or why there is none, instead of requiring onnxruntime-node. */
export interface OrtForwardOverrides {
  runtime?: OrtModule | string;
}

/**
 * The forward runner of `adapter` on the chosen execution provider (cpu when that one does not
 * start, the runner's note saying why), or why there is none.
 */
export async function createOrtForward(adapter: OnnxModelAdapter, opts: OnnxRuntimeOptions = {}, overrides: OrtForwardOverrides = {}): Promise<OrtForward | string> {
  if (opts.enabled === false) return 'onnxruntime is switched off (xaiLens.onnxRuntime)';
  const ort = overrides.runtime ?? loadOnnxRuntime();
  if (typeof ort === 'string') return ort;
  const file = adapter.graph.file;
  const elemType = adapter.graph.inputs[0].elemType;
  if (elemType !== DataType.FLOAT) return `onnxruntime is not used for ${file}: its input holds ${dataTypeName(elemType)} values, images are float32`;
  let bytes: Uint8Array;
  try {
    bytes = ortModelBytes(file, [adapter.logitsName]);
  } catch (err) {
    return `onnxruntime cannot read ${file}: ${ortMessage(err)}`;
  }
  const threads = ortThreads(opts);
  const asked = (opts.executionProvider ?? 'cpu').trim().toLowerCase() || 'cpu';
  let note: string | undefined;
  let provider = 'cpu';
  let session: Session | undefined;
  if (asked !== 'cpu') {
    if (!(EXECUTION_PROVIDERS as readonly string[]).includes(asked)) {
      note = `onnxruntime: unknown execution provider "${asked}" (${EXECUTION_PROVIDERS.join(', ')}), running on cpu`;
    } else {
      try {
        session = await ort.InferenceSession.create(bytes, sessionOptions(asked, threads));
        provider = asked;
      } catch (err) {
        note = `onnxruntime: ${asked} unavailable (${providerFailure(asked, err)}), running on cpu`;
      }
    }
  }
  try {
    session ??= await ort.InferenceSession.create(bytes, sessionOptions('cpu', threads));
  } catch (err) {
    return `onnxruntime cannot run ${file}: ${ortMessage(err)}`;
  }
  if (!session.inputNames.includes(adapter.inputName)) {
    void session.release();
    return `onnxruntime sees other inputs in ${file} (${session.inputNames.join(', ')})`;
  }
  const version = ort.env.versions?.node ?? ort.env.versions?.common ?? '';
  const description = `onnxruntime${version ? ` ${version}` : ''} (${provider}, ${threads} thread${threads === 1 ? '' : 's'})`;
  return new OrtForward(ort, session, adapter, sessionOptions(provider, threads), description, note);
}

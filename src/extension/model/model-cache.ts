/**
 * Loaded models by model file, reloaded when the files change. A model that is being
 * written (a checkpoint in progress: shards missing or short) is retried a few times before the
 * error is reported, so a training loop's write is picked up after it finishes. Models are lent
 * out: a replaced model is disposed only when the last explanation using it has finished.
 */
import { checkpointTime, resolveModelFile } from './formats/registry';
import { loadModel, type LoadedModel, type LoadOptions } from './load';
import { UserError } from '../../shared/errors';

export interface CachedModel extends LoadedModel {
  /** When the model's files were last written (ISO time): the checkpoint shown. */
  checkpoint: string;
}

interface Entry {
  loading: Promise<CachedModel>;
  users: number;
  stale: boolean;
}

/**
 * Load errors that a checkpoint still being written produces, in any format. A file cut short says
 * "is truncated" (ONNX, .keras, .h5); an .h5 whose superblock is not yet rewritten at the end of a
 * save can look "damaged" instead.
 */
export function looksHalfWritten(message: string): boolean {
  // Not a shard outside the model's folder or one that is no regular file: that is no write in progress.
  if (/outside its folder|at an absolute path|not a regular file/.test(message)) return false;
  return /shard .* is missing|bytes but its manifest|not valid JSON|truncated|damaged|not a valid|unexpected end|is empty|no model found|not a model XAI Lens reads|zip|HDF5|invalid wire type|index out of range/i.test(message);
}

/** The checkpoint time, or undefined while the files cannot be read (being written). */
function currentCheckpoint(file: string): string | undefined {
  try {
    return checkpointTime(file);
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ModelCache {
  private readonly entries = new Map<string, Entry>();

  /**
   * Runs `use` with the model at `modelPath`, loading it when absent or when its files changed
   * since it was loaded. The model stays alive until `use` settles.
   */
  async with<T>(modelPath: string, use: (m: CachedModel) => Promise<T>, opts: LoadOptions = {}): Promise<T> {
    const file = resolveModelFile(modelPath);
    let entry = this.entries.get(file);
    if (entry) {
      const m = await entry.loading.catch(() => undefined);
      if (!m || m.checkpoint !== currentCheckpoint(file)) {
        this.retire(file, entry);
        entry = undefined;
      }
    }
    entry ??= this.start(file, opts);
    entry.users++;
    try {
      return await use(await entry.loading);
    } finally {
      entry.users--;
      if (entry.stale && entry.users === 0) this.disposeEntry(entry);
    }
  }

  private start(file: string, opts: LoadOptions): Entry {
    const entry: Entry = { loading: this.load(file, opts), users: 0, stale: false };
    this.entries.set(file, entry);
    entry.loading.catch(() => {
      if (this.entries.get(file) === entry) this.entries.delete(file);
    });
    return entry;
  }

  private async load(file: string, opts: LoadOptions, attempts = 4): Promise<CachedModel> {
    for (let i = 0; ; i++) {
      try {
        const checkpoint = checkpointTime(file);
        const m = await loadModel(file, opts);
        return { ...m, checkpoint };
      } catch (err) {
        // A checkpoint being written shows up as a missing or short file: wait and retry.
        const writing = err instanceof UserError && looksHalfWritten(err.message);
        if (!writing || i >= attempts - 1) throw err;
        await sleep(500 * (i + 1));
      }
    }
  }

  /** Takes an entry out of the cache; it is disposed once nobody uses it. */
  private retire(file: string, entry: Entry): void {
    if (this.entries.get(file) === entry) this.entries.delete(file);
    entry.stale = true;
    if (entry.users === 0) this.disposeEntry(entry);
  }

  private disposeEntry(entry: Entry): void {
    entry.loading.then((m) => m.adapter.dispose(), () => undefined);
  }

  /** Drops every model (e.g. after a backend switch); models in use go when their run ends. */
  clear(): void {
    for (const [file, entry] of [...this.entries]) this.retire(file, entry);
  }

  dispose(): void {
    this.clear();
  }

  /** Models currently loaded (for tests). */
  get size(): number {
    return this.entries.size;
  }
}

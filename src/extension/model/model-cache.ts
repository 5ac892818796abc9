/**
 * Loaded models by model.json path, reloaded when the files change. A model that is being
 * written (a checkpoint in progress: shards missing or short) is retried a few times before the
 * error is reported, so a training loop's write is picked up after it finishes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveModelJson } from './fs-io';
import { loadModel, type LoadedModel, type LoadOptions } from './load';
import { UserError } from '../../shared/errors';

export interface CachedModel extends LoadedModel {
  /** When the model's files were last written (ISO time): the checkpoint shown. */
  checkpoint: string;
}

function checkpointTime(file: string): string {
  const dir = path.dirname(file);
  let latest = fs.statSync(file).mtimeMs;
  for (const f of fs.readdirSync(dir)) {
    if (f.endsWith('.bin')) latest = Math.max(latest, fs.statSync(path.join(dir, f)).mtimeMs);
  }
  return new Date(latest).toISOString();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ModelCache {
  private readonly models = new Map<string, Promise<CachedModel>>();

  /** The model at `modelPath`, loading it when absent or when its files changed. */
  async get(modelPath: string, opts: LoadOptions = {}): Promise<CachedModel> {
    const file = resolveModelJson(modelPath);
    const existing = this.models.get(file);
    if (existing) {
      const m = await existing.catch(() => undefined);
      if (m && m.checkpoint === checkpointTime(file)) return m;
      this.forget(file);
    }
    const loading = this.load(file, opts);
    this.models.set(file, loading);
    loading.catch(() => this.models.delete(file));
    return loading;
  }

  private async load(file: string, opts: LoadOptions, attempts = 4): Promise<CachedModel> {
    for (let i = 0; ; i++) {
      const checkpoint = checkpointTime(file);
      try {
        const m = await loadModel(file, opts);
        return { ...m, checkpoint };
      } catch (err) {
        // A checkpoint being written shows up as a missing or short shard: wait and retry.
        const writing = err instanceof UserError && /shard|bytes but its manifest|not valid JSON/.test(err.message);
        if (!writing || i >= attempts - 1) throw err;
        await sleep(500 * (i + 1));
      }
    }
  }

  forget(modelPath: string): void {
    const file = path.resolve(modelPath);
    const m = this.models.get(file);
    this.models.delete(file);
    m?.then((x) => x.adapter.dispose(), () => undefined);
  }

  dispose(): void {
    for (const f of [...this.models.keys()]) this.forget(f);
  }
}

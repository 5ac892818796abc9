/**
 * Attention models by model file, reloaded when the file changes. A model whose topology names
 * no MultiHeadAttention layer and no Softmax node is not loaded a second time just to find out.
 */
import * as fs from 'node:fs';
import { formatOf, resolveModelFile } from '../model/formats/registry';
import type { AttentionModel } from './attention-model';
import { loadAttentionModel } from './load-attention';

/** Cheap check (no load) on the model file: could this model have attention to show? */
export function mayHaveAttention(modelPath: string): boolean {
  const file = resolveModelFile(modelPath);
  const format = formatOf(file);
  if (!format.loadAttention) return false;
  return format.mayHaveAttention?.(file) ?? true;
}

export class AttentionModelCache {
  private readonly entries = new Map<string, { stamp: string; loaded: boolean; model: Promise<AttentionModel | undefined> }>();

  /**
   * The file's attention model, or undefined when it has no attention layers. Load errors
   * propagate. With `why` (someone asked for this model's attention) the model is loaded even
   * when the cheap check finds none, so the load says precisely why there is none.
   */
  get(modelPath: string, opts: { why?: boolean } = {}): Promise<AttentionModel | undefined> {
    const file = resolveModelFile(modelPath);
    const st = fs.statSync(file);
    const stamp = `${st.size}:${st.mtimeMs}`;
    const known = this.entries.get(file);
    if (known?.stamp === stamp && (known.loaded || !opts.why)) return known.model;
    void known?.model.then((m) => m?.dispose(), () => undefined);
    const loaded = opts.why === true || mayHaveAttention(file);
    const model = loaded ? loadAttentionModel(file) : Promise.resolve(undefined);
    this.entries.set(file, { stamp, loaded, model });
    model.catch(() => this.entries.delete(file));
    return model;
  }

  clear(): void {
    for (const e of this.entries.values()) void e.model.then((m) => m?.dispose(), () => undefined);
    this.entries.clear();
  }
}

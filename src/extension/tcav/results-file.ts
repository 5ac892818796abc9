/**
 * TCAV results saved beside the experiment (`results/<time>-<checkpoint>.json`), so runs at
 * different checkpoints of the model can be compared side by side.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../shared/errors';
import type { TcavResult } from '../../shared/tcav';
import type { TcavSavedResult } from '../../shared/protocol';

export function resultsDir(experimentFile: string): string {
  return path.join(path.dirname(experimentFile), 'results');
}

/** Writes the result and returns its file. */
export function saveResult(result: TcavResult, dir = resultsDir(result.experiment)): string {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = result.createdAt.replace(/[:.]/g, '-');
  const file = path.join(dir, `${stamp}-${result.model.hash.slice(0, 8)}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

export function loadResult(file: string): TcavResult {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(`cannot read the TCAV result ${file}: ${(err as Error).message}`);
  }
  const r = json as Partial<TcavResult>;
  if (r?.version !== 1 || !Array.isArray(r.cells) || !Array.isArray(r.random) || !r.model) throw new UserError(`${file} is not a TCAV result saved by XAI Lens`);
  return r as TcavResult;
}

/** Saved results of an experiment, newest first; files that are not results are skipped. */
export function listResults(experimentFile: string): TcavSavedResult[] {
  const dir = resultsDir(experimentFile);
  if (!fs.existsSync(dir)) return [];
  const out: TcavSavedResult[] = [];
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    const file = path.join(dir, name);
    try {
      const r = loadResult(file);
      out.push({ file, createdAt: r.createdAt, modelName: r.model.name, checkpoint: r.model.hash.slice(0, 8), modified: r.model.modified });
    } catch {
      // not ours
    }
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

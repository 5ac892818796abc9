/**
 * TCAV results saved beside the experiment (`results/<time>-<checkpoint>.json`), so runs at
 * different checkpoints of the model can be compared side by side.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../shared/errors';
import { jsonErrorDetail } from '../util/excerpt';
import { fsErrorParts, fsErrorReason } from '../util/fs-errors';
import type { TcavResult } from '../../shared/tcav';
import type { TcavSavedResult } from '../../shared/protocol/tcav';

export function resultsDir(experimentFile: string): string {
  return path.join(path.dirname(experimentFile), 'results');
}

/**
 * Writes the result under a name of its own (`<time>-<checkpoint>.json`, `-2`, `-3`, … when a
 * result of the same millisecond is there) and returns its file; a folder that cannot be written
 * is a UserError saying where and why.
 */
export function saveResult(result: TcavResult, dir = resultsDir(result.experiment)): string {
  const stamp = result.createdAt.replace(/[:.]/g, '-');
  const text = `${JSON.stringify(result, null, 2)}\n`;
  try {
    fs.mkdirSync(dir, { recursive: true });
    for (let n = 1; ; n++) {
      const file = path.join(dir, `${stamp}-${result.model.hash.slice(0, 8)}${n > 1 ? `-${n}` : ''}.json`);
      try {
        fs.writeFileSync(file, text, { flag: 'wx' });
        return file;
      } catch (err) {
        if (fsErrorParts(err)?.code !== 'EEXIST' || n >= 1000) throw err;
      }
    }
  } catch (err) {
    throw new UserError(`cannot save the TCAV result in ${dir}: ${fsErrorReason(err)}`);
  }
}

export function loadResult(file: string): TcavResult {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read the TCAV result ${file}: ${fsErrorReason(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserError(`cannot read the TCAV result ${file}: it is not valid JSON (${jsonErrorDetail(err, text)})`);
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

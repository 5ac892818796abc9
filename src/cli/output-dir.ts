/**
 * The folders a command writes to, checked before any work: each is created (with its parents)
 * and a probe file is written and removed in it, so a folder that is a file, lies under a file or
 * cannot be written fails in one line before the maps are computed, not after. Folders created
 * here that are still empty when the command fails are removed again: a failed run leaves nothing.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../shared/errors';
import { fsErrorParts, fsErrorReason } from '../extension/util/fs-errors';

export interface OutputFolder {
  /** The folder, absolute. */
  dir: string;
  /** What it is, for the message: "the output folder", "the activation cache". */
  what: string;
  /** The option that chooses it ("--out"); said in the message. */
  option: string;
  /** Whether the option was given (else the message says the folder is the default). */
  given: boolean;
}

/** The first existing path among `dir` and its ancestors. */
function firstExisting(dir: string): { at: string; stat: fs.Stats } | undefined {
  for (let p = dir; ; p = path.dirname(p)) {
    try {
      return { at: p, stat: fs.statSync(p) };
    } catch (err) {
      const code = fsErrorParts(err)?.code;
      // ENOTDIR: a file further up; keep climbing to name it.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    if (path.dirname(p) === p) return undefined;
  }
}

/** Every OutputFolders of the process, for removeEmptyFolders on Ctrl+C. */
const live = new Set<OutputFolders>();

/** Removes the still-empty folders every command of the process created (Ctrl+C: a stopped run leaves no empty folder). */
export function removeEmptyFolders(): void {
  for (const f of live) f.removeEmpty();
}

export class OutputFolders {
  /** Folders created by prepare, in the order they were made. */
  private readonly created: string[] = [];

  constructor() {
    live.add(this);
  }

  /**
   * Makes `o.dir` and checks that a file can be written in it; a UserError naming it and why
   * otherwise, after removing the folders made so far (by this and earlier calls).
   */
  prepare(o: OutputFolder): string {
    try {
      return this.make(o);
    } catch (err) {
      this.removeEmpty();
      throw err;
    }
  }

  private make(o: OutputFolder): string {
    const dir = path.resolve(o.dir);
    const which = `${o.what} ${dir} (${o.given ? o.option : `the default; ${o.option} chooses another`})`;
    let existing: ReturnType<typeof firstExisting>;
    try {
      existing = firstExisting(dir);
    } catch (err) {
      throw new UserError(`cannot use ${which}: ${fsErrorReason(err)}`);
    }
    if (existing && !existing.stat.isDirectory()) {
      throw new UserError(existing.at === dir ? `${which} is a file, not a folder` : `${which} lies under ${existing.at}, which is a file`);
    }
    // The missing folders, outermost first.
    const missing: string[] = [];
    for (let p = dir; p !== existing?.at; p = path.dirname(p)) {
      missing.unshift(p);
      if (path.dirname(p) === p) break;
    }
    for (const p of missing) {
      try {
        fs.mkdirSync(p);
      } catch (err) {
        if (fsErrorParts(err)?.code === 'EEXIST' && fs.statSync(p).isDirectory()) continue; // made meanwhile
        const parent = path.dirname(p);
        throw new UserError(`cannot create ${which}: ${fsErrorReason(err)}${parent !== dir ? ` (in ${parent})` : ''}`);
      }
      this.created.push(p);
    }
    const probe = path.join(dir, `.xai-lens-probe-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
    try {
      fs.writeFileSync(probe, '');
    } catch (err) {
      throw new UserError(`cannot write to ${which}: ${fsErrorReason(err)}`);
    }
    try {
      fs.rmSync(probe, { force: true });
    } catch {
      // A probe that cannot be removed is harmless, and the folder is writable.
    }
    return dir;
  }

  /** Removes the folders prepare created that are still empty, innermost first (after a failed run). */
  removeEmpty(): void {
    while (this.created.length > 0) {
      const p = this.created.pop()!;
      try {
        fs.rmdirSync(p);
      } catch {
        // Not empty (the run wrote something) or already gone: leave it.
      }
    }
  }

  /** Runs `f`; when it fails, removes the empty folders prepare created. */
  async guard<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      this.removeEmpty();
      throw err;
    }
  }
}

/**
 * Names of the files the commands write, unique per image file and per target:
 *
 *   <image file name, extension included>[.class<k>].<what>.<ext>
 *
 * e.g. `cat.jpg.gradcam.npy` for the default target (the top class) and `cat.jpg.class3.gradcam.npy`
 * for `--target 3`, so `cat.jpg` and `cat.png`, or two targets of one image, never share a file.
 * Images of one run with the same file name in different folders (`a/cat.jpg`, `b/cat.jpg`) get
 * `~2`, `~3`, … after the name of the second, third, … (in the order given).
 */
import * as path from 'node:path';

/** Characters kept in names taken from user input (layers, inputs); the others become `_`. */
export const fileSafe = (name: string): string => name.replace(/[^A-Za-z0-9_.-]+/g, '_');

/** The name part of each image of a run, by the path as given: its file name, or with `~n` when taken. */
export function imageNames(files: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const f of files) {
    if (out.has(f)) continue;
    const base = path.basename(f);
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}~${n}`;
    used.add(name);
    out.set(f, name);
  }
  return out;
}

/** `.class<k>` for a target named on the command line, nothing for the default (the top class). */
export function targetPart(target: number | undefined): string {
  return target === undefined ? '' : `.class${target}`;
}

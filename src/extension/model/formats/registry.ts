/**
 * Every model format XAI Lens reads, and the questions asked of a model file: which format, which
 * files make up its checkpoint. A new format is one folder plus one line in MODEL_FORMATS.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../../shared/errors';
import type { ModelFormat } from './format';
import { regularFileStats } from '../side-files';
import { TFJS_LAYERS_FORMAT } from './tfjs-layers/format';
import { TFJS_GRAPH_FORMAT } from './tfjs-graph/format';
import { KERAS_H5_FORMAT, KERAS_V3_FORMAT } from './keras/format';
import { ONNX_FORMAT } from './onnx/format';

export const MODEL_FORMATS: readonly ModelFormat[] = [
  TFJS_LAYERS_FORMAT,
  TFJS_GRAPH_FORMAT,
  KERAS_V3_FORMAT,
  KERAS_H5_FORMAT,
  ONNX_FORMAT,
];

/** What the model picker searches for: every format's globs, as one pattern. */
export function modelFilesGlob(): string {
  const names = [...new Set(MODEL_FORMATS.flatMap((f) => f.globs.map((g) => g.replace(/^\*\*\//, ''))))];
  return `**/{${names.join(',')}}`;
}

const HEAD_BYTES = 4096;

function readHead(file: string): Buffer {
  // Opening a FIFO would wait for a writer, and a device never ends: model files are regular files.
  regularFileStats(file, Number.MAX_SAFE_INTEGER, 'a model file');
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(HEAD_BYTES);
    const n = fs.readSync(fd, buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, n);
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The format that reads `file`, or undefined. */
export function claimingFormat(file: string): ModelFormat | undefined {
  const head = readHead(file);
  return MODEL_FORMATS.find((f) => f.claims(file, head));
}

const SUPPORTED = 'a TF.js model.json, an ONNX .onnx file, a Keras .keras or .h5 file';

/** The format of a model file; a UserError naming the file when no format reads it. */
export function formatOf(file: string): ModelFormat {
  const head = readHead(file);
  if (head.length === 0) throw new UserError(`${file} is empty`);
  const f = MODEL_FORMATS.find((m) => m.claims(file, head));
  if (!f) throw new UserError(`${file} is not a model XAI Lens reads (expected ${SUPPORTED})`);
  return f;
}

/** Files in a folder that some format claims, sorted by name. */
function modelFilesIn(dir: string): string[] {
  return fs.readdirSync(dir)
    .map((n) => path.join(dir, n))
    .filter((p) => {
      try {
        return fs.statSync(p).isFile() && claimingFormat(p) !== undefined;
      } catch {
        return false;
      }
    })
    .sort();
}

/**
 * A model path as people give it: a model file, or a folder holding one (its model.json, else its
 * only model file). Throws a UserError when there is none or the choice is ambiguous.
 */
export function resolveModelFile(p: string): string {
  if (!fs.existsSync(p)) throw new UserError(`no model found at ${p} (expected ${SUPPORTED}, or a folder holding one)`);
  if (!fs.statSync(p).isDirectory()) {
    regularFileStats(p, Number.MAX_SAFE_INTEGER, 'a model file');
    return p;
  }
  const json = path.join(p, 'model.json');
  if (fs.existsSync(json)) return json;
  const found = modelFilesIn(p);
  if (found.length === 1) return found[0];
  if (found.length === 0) throw new UserError(`no model found in ${p} (expected ${SUPPORTED})`);
  throw new UserError(`${p} holds ${found.length} models (${found.map((f) => path.basename(f)).join(', ')}); name one`);
}

/**
 * The side files each model file names, while that file stays the same (size and time): the
 * names live in the model file (a manifest, ONNX external-data entries), and finding them may mean
 * decoding the whole file, which the model cache's staleness check must not do on every request.
 */
const namedFiles = new Map<string, { stamp: string; files: string[] }>();

/** The files of the checkpoint at `p` (resolved), the model file first. */
export function checkpointFiles(p: string): string[] {
  const file = resolveModelFile(p);
  const st = fs.statSync(file);
  const stamp = `${st.size}:${st.mtimeMs}`;
  const known = namedFiles.get(file);
  if (known?.stamp === stamp) return known.files.filter((f) => fs.existsSync(f));
  const files = formatOf(file).checkpointFiles(file);
  // A file written less than two seconds ago may be rewritten within its mtime's coarse tick.
  if (Date.now() - st.mtimeMs > 2000) namedFiles.set(file, { stamp, files });
  return files;
}

/** When the checkpoint's files were last written (ISO time). */
export function checkpointTime(p: string): string {
  let latest = 0;
  for (const f of checkpointFiles(p)) latest = Math.max(latest, fs.statSync(f).mtimeMs);
  return new Date(latest).toISOString();
}

/** What the two TF.js formats share: a model.json, its weight shards, and which of the two it is. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readModelJson } from '../fs-io';

/** True when the head of a JSON file says it is a graph model (its topology holds `node`). */
export function looksLikeGraphModel(head: string): boolean {
  return /"format"\s*:\s*"graph-model"/.test(head) || /"modelTopology"\s*:\s*\{\s*"node"/.test(head);
}

/** A file named model.json (whatever it holds: its loader says what is wrong), or any JSON file whose head names a modelTopology. */
export function isModelJson(file: string, head: Buffer): boolean {
  const name = path.basename(file).toLowerCase();
  if (name === 'model.json') return true;
  return name.endsWith('.json') && head.toString('utf8').trimStart().startsWith('{') && head.includes('"modelTopology"');
}

/** The model.json and the weight shards its manifest names (the ones that exist). */
export function tfjsCheckpointFiles(file: string): string[] {
  const dir = path.dirname(file);
  let shards: string[] = [];
  try {
    shards = (readModelJson(file).weightsManifest ?? []).flatMap((g) => (Array.isArray(g.paths) ? g.paths : [])).map((p) => path.join(dir, p));
  } catch {
    // A model.json being written: the model file alone identifies the checkpoint for now.
  }
  return [file, ...shards.filter((s) => fs.existsSync(s))];
}

export function tfjsWatchPattern(file: string): string {
  return `{${path.basename(file)},*.bin}`;
}

/** What the two TF.js formats share: a model.json, its weight shards, and which of the two it is. */
import * as path from 'node:path';
import { readableShards } from '../fs-io';

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

/**
 * The model.json and the weight shards its manifest names that load would read: regular files
 * inside the model's folder (never ../x or a link to /dev/zero, which nothing hashes or watches).
 */
export function tfjsCheckpointFiles(file: string): string[] {
  return [file, ...readableShards(file)];
}

export function tfjsWatchPattern(file: string): string {
  return `{${path.basename(file)},*.bin}`;
}

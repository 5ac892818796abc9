/**
 * The wiring of a graph model's GraphDef, checked before TensorFlow.js builds it: every node a
 * named operation whose inputs name nodes that exist. tfjs reads these fields without looking, so
 * a damaged file would otherwise end in a JavaScript error about `startsWith` or `outputs`.
 */
import { UserError } from '../../../../shared/errors';
import { safeLine } from '../../../util/excerpt';

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Throws a one-line UserError naming `file` and the first node that is not well formed. */
export function checkGraphTopology(file: string, topology: unknown): void {
  const bad = (what: string) => new UserError(`${file}: its graph is malformed: ${what}`);
  if (!isObject(topology)) throw bad('modelTopology is not an object');
  if (!Array.isArray(topology.node) || topology.node.length === 0) throw bad('it has no nodes');
  if (!isObject(topology.versions)) throw bad('it has no versions entry (every converter writes one)');
  const names = new Set<string>();
  for (const [i, node] of topology.node.entries()) {
    if (!isObject(node)) throw bad(`node #${i} is not an object`);
    if (typeof node.name !== 'string' || node.name === '') throw bad(`node #${i} has no name`);
    const name = safeLine(node.name);
    if (names.has(node.name)) throw bad(`two nodes are named ${name}`);
    names.add(node.name);
    if (typeof node.op !== 'string' || node.op === '') throw bad(`the node ${name} names no operation`);
    if (node.input !== undefined && (!Array.isArray(node.input) || node.input.some((x) => typeof x !== 'string'))) throw bad(`the inputs of ${name} are not a list of node names`);
    if (node.attr !== undefined && (!isObject(node.attr) || Object.values(node.attr).some((a) => !isObject(a)))) throw bad(`the attributes of ${name} are not objects`);
  }
  for (const node of topology.node as Array<{ name: string; input?: string[] }>) {
    for (const input of node.input ?? []) {
      const source = input.replace(/^\^/, '').replace(/:\d+$/, '');
      if (!names.has(source)) throw bad(`the node ${safeLine(node.name)} reads ${safeLine(input)}, which is not a node of the graph`);
    }
  }
}

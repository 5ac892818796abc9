/**
 * PyTorch module paths of ONNX nodes, so layers are named the way a PyTorch user names them
 * (`layer4`, `layer4.1`, `features.12`, `blocks.3.attn`).
 *
 * - TorchScript exporter (dynamo=False): node names are scopes, `/layer4/layer4.1/relu_1/Relu`.
 *   Each segment is a module's name relative to its parent, where Sequential children repeat the
 *   parent's name (`features` → `features.1` → `conv` → `conv.0`); a module called twice gets
 *   `_1`, `_2`, … (`relu_1`); the last segment is the op.
 * - torch.export-based exporter (dynamo=True): the node's metadata_props `namespace`
 *   (`: __main__.Net/layer4: torch.nn.Sequential/layer4.1: BasicBlock/relu_1: aten.relu.default`,
 *   full module paths with their classes, the root first and the op last), or, in older
 *   versions, `pkg.torch.onnx.name_scopes` (`['', 'layer4', 'layer4.1', 'relu']`) with
 *   `pkg.torch.onnx.class_hierarchy`.
 */
import type { OnnxNode } from './graph';

export interface NodeScope {
  /** Module paths from the outermost to the innermost, e.g. ['layer4', 'layer4.1', 'layer4.1.relu']. */
  modules: string[];
  /** PyTorch class names of those modules (short: 'BasicBlock'), when the export records them. */
  classes: (string | undefined)[];
}

const shortClass = (c: string | undefined) => c?.trim().split('.').pop() || undefined;

/** Parses a Python list literal of strings: "['', 'layer4', 'layer4.1']". */
function pyStringList(s: string): string[] | undefined {
  const m = /^\s*\[(.*)\]\s*$/s.exec(s);
  if (!m) return undefined;
  const out: string[] = [];
  const re = /'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g;
  let x: RegExpExecArray | null;
  while ((x = re.exec(m[1])) !== null) out.push(x[1] ?? x[2]);
  return out;
}

/** Joins relative scope segments into full paths (`layer1`, `layer1.0` → `layer1.0`; `conv`, `conv.0` → `….conv.0`). */
function fullPaths(segments: string[]): string[] {
  const out: string[] = [];
  let parent = '';
  let parentLocal = '';
  for (const s of segments) {
    let full: string;
    if (parent === '') full = s;
    else if (s.startsWith(`${parent}.`)) full = s; // already a full path
    else if (parentLocal && s.startsWith(`${parentLocal}.`)) full = parent + s.slice(parentLocal.length);
    else full = `${parent}.${s}`;
    out.push(full);
    parent = full;
    parentLocal = s;
  }
  return out;
}

function fromNamespace(ns: string): NodeScope | undefined {
  const parts = ns.split('/');
  if (parts.length < 3) return { modules: [], classes: [] };
  // parts[0] is the root module (name ''), the last is the op.
  const modules: string[] = [];
  const classes: (string | undefined)[] = [];
  for (const p of parts.slice(1, -1)) {
    const at = p.indexOf(': ');
    const name = (at >= 0 ? p.slice(0, at) : p).trim();
    if (!name) continue;
    modules.push(name);
    classes.push(shortClass(at >= 0 ? p.slice(at + 2) : undefined));
  }
  return { modules: fullPaths(modules), classes };
}

function fromNameScopes(scopes: string, hierarchy: string | undefined): NodeScope | undefined {
  const names = pyStringList(scopes);
  if (!names) return undefined;
  let classes = (hierarchy && pyStringList(hierarchy)) || [];
  let segs = names;
  // The first entry is the root module ('').
  if (segs[0] === '') { segs = segs.slice(1); classes = classes.slice(1); }
  // When the class list ends with an aten op, the last scope is the op, not a module.
  if (classes.length === segs.length && classes.length > 0 && /^aten\.|^<built-in|^prims\./.test(classes[classes.length - 1])) {
    segs = segs.slice(0, -1);
    classes = classes.slice(0, -1);
  }
  return { modules: fullPaths(segs.filter((s) => s !== '')), classes: classes.map(shortClass) };
}

/** Module scopes of every node; nodes at the model's top level have none. */
export function nodeScopes(nodes: readonly OnnxNode[]): Map<OnnxNode, NodeScope> {
  const out = new Map<OnnxNode, NodeScope>();
  const tsSegments = new Map<OnnxNode, string[]>();
  for (const n of nodes) {
    const ns = n.meta['namespace'];
    const scopes = n.meta['pkg.torch.onnx.name_scopes'];
    const s = scopes !== undefined ? fromNameScopes(scopes, n.meta['pkg.torch.onnx.class_hierarchy']) : ns !== undefined ? fromNamespace(ns) : undefined;
    if (s) { out.set(n, s); continue; }
    if (n.name.startsWith('/')) tsSegments.set(n, n.name.split('/').slice(1, -1));
  }
  // TorchScript: `relu_1` is the second call of `relu` when `relu` is also a segment under the same parent.
  const known = new Set<string>();
  for (const segs of tsSegments.values()) segs.forEach((_, i) => known.add(segs.slice(0, i + 1).join('/')));
  for (const [n, segs] of tsSegments) {
    const fixed = segs.map((s, i) => {
      const m = /^(.*)_(\d+)$/.exec(s);
      return m && known.has([...segs.slice(0, i), m[1]].join('/')) ? m[1] : s;
    });
    out.set(n, { modules: fullPaths(fixed), classes: fixed.map(() => undefined) });
  }
  return out;
}

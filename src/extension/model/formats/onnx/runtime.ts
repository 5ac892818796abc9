/**
 * The interpreter of an ONNX graph: values by name, each node one call into the operator library.
 *
 * Layout (see ops/op-types.ts): a 4-D value may be held channels-last — the logical NCHW tensor
 * stored NHWC — which is what tfjs' convolutions and pools take. The image arrives NHWC and is
 * fed as such; an op with an `nhwc` variant gets NHWC operands as they are, elementwise ops get
 * every operand permuted to NHWC, and only the other ops see logical tensors (the transpose back
 * is made once per value and run). A ResNet thus runs with no transposes before its global pool.
 *
 * Memory: a value is freed as soon as its last reader in the run has run (the gradient tape keeps
 * its own clones of what the backward pass needs), so peak memory is the live set, not the net.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ReluBackward } from '../../types';
import type { OnnxGraph, OnnxNode } from './graph';
import type { OpTable } from './ops/op-types';
import { UserError } from '../../../../shared/errors';

/**
 * Why a node failed on the probe run, in words: JavaScript's allocation errors (an attribute or a
 * shape that asks for an impossible tensor) say so; the rest keep their first line.
 */
function probeFailure(node: OnnxNode, err: unknown): Error {
  if (err instanceof UserError) return err;
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  const size = /Invalid typed array length: (\S+)/.exec(message);
  const reason = size ? `it would make a tensor of ${Number(size[1]).toPrecision(3)} values`
    : /Invalid array length|Array buffer allocation failed/.test(message) ? 'it would make a tensor larger than memory holds'
      : message;
  return new Error(`its ${node.opType} node ${node.name || `#${node.index}`} fails: ${reason}`);
}

/** A value: the tensor, and whether it is a 4-D NCHW value held NHWC. */
export interface Val {
  t: tf.Tensor;
  nhwc: boolean;
}

export interface RunOptions {
  /** Replaces the backward rule of ReLU / ReLU6 nodes (Guided Backprop). */
  reluBackward?: ReluBackward;
  /** Called with every value computed (logical shape), e.g. to record shapes. */
  observe?: (name: string, v: Val) => void;
  /** Replaces a computed value (given logically) before anything reads it: attention gradients. */
  hooks?: ReadonlyMap<string, (t: tf.Tensor) => tf.Tensor>;
  /**
   * The load's probe run (no gradients): each node runs in its own tidy, so its temporaries are
   * freed as soon as it has run, and weights whose values are not read yet (OnnxWeights'
   * pending ones) are zeros of their shape, made for the node and freed with it.
   */
  probe?: boolean;
}

export type Layout = 'nhwc' | 'naive';

const TO_NHWC = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];

/** The logical shape of a value. */
export function logicalShape(v: Val): number[] {
  const s = v.t.shape;
  return v.nhwc ? [s[0], s[3], s[1], s[2]] as number[] : s;
}

/** A rank-4 value presented NHWC (as activations are shown); other ranks as they are. */
export function presentedNhwc(v: Val): tf.Tensor {
  if (v.nhwc) return v.t;
  return v.t.rank === 4 ? tf.transpose(v.t, TO_NHWC) : v.t;
}

interface Entry extends Val {
  /** The other layout of the same value, made at most once per run. */
  alt?: tf.Tensor;
  uses: number;
}

/** What ReLU-like nodes are: Relu, and Clip with min 0 (ReLU6 when max is 6). */
export interface ReluLike {
  /** Upper bound of the active range (Infinity for Relu). */
  max: number;
}

export class OnnxRuntime {
  /** Layout conversions of graph values (rank-4 transposes) since the last reset. */
  transposes = 0;
  private readonly plans = new Map<string, OnnxNode[]>();
  private readonly reluLike = new Map<OnnxNode, ReluLike>();
  /** Conv nodes whose weight is held in a tfjs filter layout (see OpContext.convFilter). */
  private readonly convFilters = new Map<OnnxNode, 'hwio' | 'depthwise'>();
  /** Tensors derived from constants (ctx.derive), by constant and key; freed with the constant. */
  private readonly derived = new Map<tf.Tensor, Map<string, tf.Tensor>>();
  private readonly deriveFn = (source: tf.Tensor, key: string, make: () => tf.Tensor): tf.Tensor => this.derive(source, key, make);
  private readonly isConstantFn = (t: tf.Tensor): boolean => this.isConstantTensor(t);

  constructor(
    readonly graph: OnnxGraph,
    private readonly ops: OpTable,
    readonly layout: Layout = 'nhwc',
  ) {
    for (const n of graph.nodes) {
      if (n.opType === 'Relu') this.reluLike.set(n, { max: Infinity });
      if (n.opType === 'Clip') {
        const [lo, hi] = this.clipBounds(n);
        if (lo === 0 && (hi === 6 || hi === Infinity)) this.reluLike.set(n, { max: hi });
      }
      const filter = n.opType === 'Conv' && n.inputs[1] ? graph.weights.layoutOf(n.inputs[1]) : undefined;
      if (filter) this.convFilters.set(n, filter.kind);
    }
  }

  /** Whether `node` is a ReLU / ReLU6 (its backward rule is replaceable). */
  isReluLike(node: OnnxNode): boolean {
    return this.reluLike.has(node);
  }

  /** A constant value (initializer or Constant node), if `name` is one. */
  constantOf(name: string): tf.Tensor | undefined {
    return this.graph.weights.get(name) ?? this.graph.constants.get(name);
  }

  private clipBounds(n: OnnxNode): [number, number] {
    if (this.graph.opset < 11) {
      const lo = typeof n.attrs.min === 'number' ? n.attrs.min : -Infinity;
      const hi = typeof n.attrs.max === 'number' ? n.attrs.max : Infinity;
      return [lo, hi];
    }
    const read = (name: string | undefined, fallback: number) => {
      if (!name) return fallback;
      const t = this.constantOf(name);
      return t && t.size === 1 ? t.dataSync()[0] : NaN;
    };
    return [read(n.inputs[1], -Infinity), read(n.inputs[2], Infinity)];
  }

  /** The nodes that compute `targets` from the values in `fed` (and the constants), in order. */
  plan(targets: readonly string[], fed: ReadonlySet<string>): OnnxNode[] {
    const key = `${[...targets].join('\u0000')}\u0001${[...fed].sort().join('\u0000')}`;
    const cached = this.plans.get(key);
    if (cached) return cached;
    const need = new Set<OnnxNode>();
    const stack = [...targets];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (seen.has(name) || fed.has(name) || this.constantOf(name) || this.graph.weights.isPending(name)) continue;
      seen.add(name);
      const p = this.graph.producer.get(name);
      if (!p) continue;
      need.add(p);
      for (const i of p.inputs) if (i) stack.push(i);
    }
    const plan = [...need].sort((a, b) => a.index - b.index);
    this.plans.set(key, plan);
    return plan;
  }

  /**
   * Computes `targets` from `feeds`. Call inside tf.tidy: the returned values are the caller's;
   * everything else is freed by the run or the tidy.
   */
  run(feeds: ReadonlyMap<string, Val>, targets: readonly string[], opts: RunOptions = {}): Map<string, Val> {
    const plan = this.plan(targets, new Set(feeds.keys()));
    const values = new Map<string, Entry>();
    const holders = new Map<tf.Tensor, number>();
    const hold = (t: tf.Tensor | undefined) => t && holders.set(t, (holders.get(t) ?? 0) + 1);
    const protectedTensors = new Set<tf.Tensor>();
    for (const [name, v] of feeds) {
      values.set(name, { ...v, uses: Infinity });
      protectedTensors.add(v.t);
    }
    // Uses per value within this plan; targets are never freed.
    const uses = new Map<string, number>();
    for (const n of plan) for (const i of n.inputs) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
    for (const t of targets) uses.set(t, Infinity);

    const release = (name: string) => {
      const e = values.get(name);
      if (!e || e.uses === Infinity) return;
      if (--e.uses > 0) return;
      values.delete(name);
      for (const t of [e.t, e.alt]) {
        if (!t) continue;
        const left = (holders.get(t) ?? 1) - 1;
        holders.set(t, left);
        if (left <= 0 && !protectedTensors.has(t) && !this.isConstantTensor(t)) t.dispose();
      }
    };
    const logical = (e: Entry): tf.Tensor => {
      if (!e.nhwc) return e.t;
      if (!e.alt) { e.alt = tf.transpose(e.t, TO_NCHW); this.transposes++; hold(e.alt); }
      return e.alt;
    };
    const channelsLast = (e: Entry): tf.Tensor => {
      if (e.nhwc) return e.t;
      if (!e.alt) { e.alt = tf.transpose(e.t, TO_NHWC); this.transposes++; hold(e.alt); }
      return e.alt;
    };
    const get = (name: string): Entry | undefined => {
      if (!name) return undefined;
      const v = values.get(name);
      if (v) return v;
      const c = this.constantOf(name);
      if (c) return { t: c, nhwc: false, uses: Infinity };
      const pending = opts.probe ? this.graph.weights.pendingShape(name) : undefined;
      if (pending) return { t: tf.zeros(pending), nhwc: false, uses: Infinity };
      throw new Error(`ONNX runtime: the value ${name} is not available`);
    };

    for (const node of plan) {
      let outputs: tf.Tensor[];
      let nhwc: boolean[];
      if (opts.probe) {
        // The other layouts made for this node's inputs outlive its tidy (later readers use them).
        const made: tf.Tensor[] = [];
        const track = (f: (e: Entry) => tf.Tensor) => (e: Entry) => {
          const had = e.alt;
          const t = f(e);
          if (e.alt && e.alt !== had) made.push(e.alt);
          return t;
        };
        let r;
        try {
          r = tf.tidy(() => {
            const done = this.execute(node, node.inputs.map(get), track(logical), track(channelsLast), opts);
            return { outputs: done.outputs, nhwc: done.nhwc, made };
          });
        } catch (err) {
          throw probeFailure(node, err);
        }
        ({ outputs, nhwc } = r);
      } else {
        ({ outputs, nhwc } = this.execute(node, node.inputs.map(get), logical, channelsLast, opts));
      }
      node.outputs.forEach((name, i) => {
        if (!name || outputs[i] === undefined) return;
        let t = outputs[i];
        let isNhwc = nhwc[i];
        const hook = opts.hooks?.get(name);
        if (hook) {
          t = hook(isNhwc ? tf.transpose(t, TO_NCHW) : t);
          isNhwc = false;
        }
        const e: Entry = { t, nhwc: isNhwc, uses: uses.get(name) ?? 0 };
        hold(t);
        values.set(name, e);
        opts.observe?.(name, e);
        if (e.uses === 0) { e.uses = 1; release(name); }
      });
      // Outputs an op did not return are absent (trailing optional outputs).
      for (const o of outputs.slice(node.outputs.length)) if (!protectedTensors.has(o)) o.dispose();
      for (const i of node.inputs) if (i) release(i);
    }
    const result = new Map<string, Val>();
    for (const name of targets) {
      const e = values.get(name) ?? get(name);
      if (!e) throw new Error(`ONNX runtime: the value ${name} was not computed`);
      result.set(name, { t: e.t, nhwc: e.nhwc });
    }
    return result;
  }

  /** ctx.derive: `make()` once per graph constant and key (see OpContext.derive). */
  private derive(source: tf.Tensor, key: string, make: () => tf.Tensor): tf.Tensor {
    const hit = this.derived.get(source)?.get(key);
    if (hit && !hit.isDisposed) return hit;
    if (!this.isConstantTensor(source)) return make();
    // A constant that was swapped out and disposed (the randomizer) takes its derivations along.
    for (const [src, byKey] of this.derived) {
      if (!src.isDisposed) continue;
      tf.dispose([...byKey.values()]);
      this.derived.delete(src);
    }
    const t = tf.keep(tf.tidy(() => {
      const r = make();
      // Never hand out the constant itself under a key: freeing derivations must not free it.
      return r === source ? tf.clone(r) : r;
    }));
    if (!this.derived.has(source)) this.derived.set(source, new Map());
    this.derived.get(source)!.set(key, t);
    return t;
  }

  /** Frees the tensors derived from constants (with the graph's own weights, on dispose). */
  disposeDerived(): void {
    for (const byKey of this.derived.values()) tf.dispose([...byKey.values()]);
    this.derived.clear();
  }

  private isConstantTensor(t: tf.Tensor): boolean {
    for (const w of this.graph.weights.values()) if (w === t) return true;
    for (const c of this.graph.constants.values()) if (c === t) return true;
    return false;
  }

  private execute(
    node: OnnxNode,
    ins: (Entry | undefined)[],
    logical: (e: Entry) => tf.Tensor,
    channelsLast: (e: Entry) => tf.Tensor,
    opts: RunOptions,
  ): { outputs: tf.Tensor[]; nhwc: boolean[] } {
    const op = this.ops[node.opType];
    if (!op) throw new Error(`ONNX runtime: no operator ${node.opType}`);
    const ctx = { opset: this.graph.opset, node: node.name, numOutputs: node.outputs.length, derive: this.deriveFn, isConstant: this.isConstantFn, convFilter: this.convFilters.get(node) };
    const relu = opts.reluBackward ? this.reluLike.get(node) : undefined;
    if (relu && ins[0]) {
      return { outputs: [reluWithRule(ins[0].t, relu.max, opts.reluBackward!)], nhwc: [ins[0].nhwc] };
    }
    const anyNhwc = this.layout === 'nhwc' && ins.some((e) => e?.nhwc);
    if (anyNhwc && op.nhwc) {
      const r = op.nhwc(ins.map((e) => e?.t), ins.map((e) => e?.nhwc ?? false), node.attrs, ctx);
      if (r) return r;
    }
    if (anyNhwc && op.elementwise && ins.every((e) => !e || e.t.rank <= 4)) {
      const operands = ins.map((e) => {
        if (!e) return undefined;
        if (e.nhwc) return e.t;
        if (e.t.rank === 4) return channelsLast(e);
        if (e.t.size === 1) return e.t.rank === 0 ? e.t : tf.reshape(e.t, []);
        const padded = tf.reshape(e.t, [...new Array(4 - e.t.rank).fill(1), ...e.t.shape]);
        return tf.transpose(padded, TO_NHWC);
      });
      const outputs = op.run(operands, node.attrs, ctx);
      return { outputs, nhwc: outputs.map((o) => o.rank === 4) };
    }
    const outputs = op.run(ins.map((e) => (e ? logical(e) : undefined)), node.attrs, ctx);
    return { outputs, nhwc: outputs.map(() => false) };
  }
}

/** relu(x) (or clip(x, 0, max)) whose backward pass is `rule(dy, true gradient)`. */
function reluWithRule(x: tf.Tensor, max: number, rule: ReluBackward): tf.Tensor {
  const f = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    save([input]);
    const value = max === Infinity ? tf.relu(input) : tf.clipByValue(input, 0, max);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs] = saved;
        const active = max === Infinity ? tf.greater(xs, 0) : tf.logicalAnd(tf.greater(xs, 0), tf.less(xs, max));
        return rule(dy, tf.mul(dy, tf.cast(active, dy.dtype)));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x);
}

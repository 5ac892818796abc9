/**
 * XAI Lens against PyTorch (CPU) on the ONNX ResNet-18 and MobileNetV2 of bench/formats.ts (the same
 * seeded weights), everything on one thread: ONNX Runtime with one intra-op thread, the tfjs
 * backend as initialised (wasm runs single-threaded in Node), PyTorch after torch.set_num_threads(1).
 * The aims:
 *  1. perturbation throughput: RISE and occlusion images/s (the real methods, their forward passes
 *     on ONNX Runtime, the method's batch size) ÷ PyTorch's plain batched forward images/s at that
 *     batch size under torch.no_grad(): ≥ 2;
 *  2. Grad-CAM latency ÷ PyTorch's: ≤ 1.5;
 *  3. input gradient latency ÷ PyTorch's: ≤ 1.5.
 * The machine may be shared and loaded, so the comparison runs in rounds, each timing PyTorch and
 * then XAI Lens on the same model back to back; each ratio is printed as its range over the rounds,
 * of the medians (the verdict) and of the fastest runs (the steadiest estimate of the work itself).
 * Where the time goes, beside PyTorch's (torch.profiler, bench/peers/torch_peer.py --profile), in
 * the same categories of operators: the tfjs kernels of Grad-CAM and the input gradient (tf.profile)
 * and ONNX Runtime's nodes in a batched forward (its own profiler), each the least over a few
 * calls, since time lost to other processes only ever adds. When an aim is missed, the category
 * that exceeds its share of the aim by the most is named, with its heaviest kernel.
 * Opt-in (`--only peers`): three rounds on two models take several minutes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel } from '../src/extension/model/load';
import type { ModelAdapter, Target } from '../src/extension/model/types';
import type { ExplainRequest } from '../src/extension/explain/explainer';
import { loadOnnxRuntime } from '../src/extension/model/formats/onnx/ort-session';
import { autoBatchSize } from '../src/extension/explain/batch-size';
import { gradCam } from '../src/extension/explain/methods/cam/gradcam';
import { occlusion } from '../src/extension/explain/methods/perturbation/occlusion';
import { rise } from '../src/extension/explain/methods/perturbation/rise';
import { ensureModel, python } from './formats';

const MODELS = [
  { file: 'resnet18.onnx', make: 'resnet18', label: 'ONNX ResNet-18' },
  { file: 'mobilenet_v2.onnx', make: 'mobilenet_v2', label: 'ONNX MobileNetV2' },
] as const;

/** PyTorch's target in torch_peer.py: logit 3 of the image. */
const TARGET: Target = { index: 3, space: 'logit' };

/**
 * Fixed amounts of perturbation work, about two batches at the batch size of 32 both models get:
 * enough that full batches dominate a run, few enough that a round takes seconds. Occlusion's
 * 56-pixel windows every 28 pixels make 7 × 7 windows, plus the unoccluded input.
 */
const RISE_PARAMS = { masks: 64 };
const OCCLUSION_PARAMS = { window: 56, stride: 28 };

const AIM_THROUGHPUT = 2;
const AIM_LATENCY = 1.5;

/**
 * Categories of operators, by tfjs kernel name; torch_peer.py sorts PyTorch's operators into the
 * same names, so the two sides line up. Activation gradients are made of elementwise kernels in tfjs
 * (ReLU: Step, Multiply; the ONNX Clip of ReLU6: Sub, Abs, Step, Sub, Multiply), so activations,
 * their gradients and bias adds are one category on both sides.
 */
const KERNEL_CATEGORIES: [RegExp, string][] = [
  [/^(Conv2D|FusedConv2D)$/, 'conv'],
  [/^(DepthwiseConv2dNative|FusedDepthwiseConv2D)$/, 'depthwise conv'],
  [/^Conv2DBackpropInput$/, 'conv backward'],
  [/^DepthwiseConv2dNativeBackpropInput$/, 'depthwise conv backward'],
  [/BackpropFilter$/, 'filter backward'],
  [/^(MaxPoolGrad|AvgPoolGrad)$/, 'pooling backward'],
  [/^(MaxPool|AvgPool)$/, 'pooling'],
  [/^(MatMul|BatchMatMul|_FusedMatMul)$/, 'matmul'],
  [/^(Mean|Sum|Max|Min|Prod)$/, 'reduction'],
  [/^(Relu|Relu6|Prelu|LeakyRelu|Elu|ClipByValue|Add|AddN|Multiply|Sub|RealDiv|Step|Greater|GreaterEqual|Less|LessEqual|Equal|LogicalAnd|Maximum|Minimum|NotEqual|LogicalOr|LogicalNot|Neg|Abs|Sign|Square|SquaredDifference|Sqrt|Rsqrt|Pow|Exp|Log|Tanh|Erf|Sigmoid|Select|Fill|ZerosLike|OnesLike)$/, 'elementwise'],
  [/^(Transpose|Reshape|Pad|PadV2|MirrorPad|Slice|StridedSlice|Concat|Identity|Cast|Tile|GatherV2|GatherNd|Pack|Unpack|ExpandDims|Squeeze|ScatterNd|UnsortedSegmentSum)$/, 'layout & copies'],
];

function tfjsCategory(kernel: string): string {
  return KERNEL_CATEGORIES.find(([re]) => re.test(kernel))?.[1] ?? 'other';
}

/** The same categories for ONNX Runtime's op types (ortProfile names depthwise convolutions apart). */
function ortCategory(op: string): string {
  if (/^(Fused)?Conv$/.test(op)) return 'conv';
  if (/^(Fused)?Conv \(depthwise\)$/.test(op)) return 'depthwise conv';
  if (/Pool$/.test(op)) return 'pooling';
  if (/^(Fused)?(Gemm|MatMul)$/.test(op)) return 'matmul';
  if (/^(Relu|Clip|Add|Sum|Mul|Sub|Div)$/.test(op)) return 'elementwise';
  if (/^(Reorder(Input|Output)|Reshape|Flatten|Transpose|Concat|Identity)$/.test(op)) return 'layout & copies';
  return 'other';
}

/** One run of torch_peer.py on one model: ms, and the profiles in self CPU ms. */
interface TorchRun {
  forward: number;
  gradcam: number;
  inputGradient: number;
  gradcamBest: number;
  inputGradientBest: number;
  batch: number;
  batchForward: number;
  batchForwardBest: number;
  gradcamProfile: Record<string, number>;
  inputGradientProfile: Record<string, number>;
  batchForwardProfile: Record<string, number>;
  gradcamOps: Record<string, number>;
  inputGradientOps: Record<string, number>;
  batchForwardOps: Record<string, number>;
}

function torchRun(script: string, model: string, batch: number): TorchRun | string {
  const r = python([script, '1', model, '--batch', String(batch), '--profile']);
  const line = r.out.split('\n').find((l) => l.startsWith('{'));
  if (!r.ok || !line) return r.out.trim().split('\n').pop() ?? 'no output';
  return JSON.parse(line) as TorchRun;
}

/** Wall ms of each of `reps` runs of `f` after `warmup` runs. */
async function timesMs(f: () => Promise<unknown>, reps: number, warmup: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < warmup + reps; i++) {
    const t0 = performance.now();
    await f();
    if (i >= warmup) times.push(performance.now() - t0);
  }
  return times;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Per-name medians of several measurements. */
function medianMaps(maps: Map<string, number>[]): Map<string, number> {
  const names = new Set(maps.flatMap((m) => [...m.keys()]));
  return new Map([...names].map((n) => [n, median(maps.map((m) => m.get(n) ?? 0))]));
}

/** Per-name least of several measurements of the same work: time lost to other processes only ever adds. */
function leastMaps(maps: Map<string, number>[]): Map<string, number> {
  const names = new Set(maps.flatMap((m) => [...m.keys()]));
  return new Map([...names].map((n) => [n, Math.min(...maps.map((m) => m.get(n) ?? 0))]));
}

/** A profile: ms per kernel (or op type), and the wall ms of the profiled call. */
interface Profile {
  kernels: Map<string, number>;
  wall: number;
}

/**
 * tf.profile of `f`: kernel ms summed per kernel name, the least over `runs` calls. Entries that
 * are not kernels of the backend are dropped: customGrad records its scope ("forward", "unnamed
 * scope") around kernels that are recorded themselves, which would count their time twice.
 */
async function tfjsProfile(f: () => Promise<void>, runs = 3): Promise<Profile> {
  const perRun: Map<string, number>[] = [];
  const walls: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const info = await tf.profile(f);
    walls.push(performance.now() - t0);
    const byName = new Map<string, number>();
    for (const k of info.kernels) {
      if (!tf.getKernel(k.name, tf.getBackend())) continue;
      // A number once tf.profile resolves (an error object when the backend has no timer).
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      byName.set(k.name, (byName.get(k.name) ?? 0) + ms);
    }
    perRun.push(byName);
  }
  return { kernels: leastMaps(perRun), wall: Math.min(...walls) };
}

interface OrtEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; input_type_shape?: Record<string, number[]>[] };
}

/**
 * ONNX Runtime's own profile of a batched forward, ms per op type, the least of two runs after a
 * warm-up, in a session of its own: XAI Lens' sessions do not profile. Its options are those of
 * src/extension/model/formats/onnx/ort-session.ts for the cpu provider and one thread.
 * Convolutions whose weight is [C, 1, k, k] are named "(depthwise)".
 */
async function ortProfile(file: string, nchw: Float32Array, shape: number[]): Promise<Profile> {
  const ort = loadOnnxRuntime();
  if (typeof ort === 'string') return { kernels: new Map(), wall: NaN };
  const prefix = `xai-lens-ort-profile-${process.pid}`;
  const session = await ort.InferenceSession.create(file, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    enableMemPattern: true, logSeverityLevel: 4, enableProfiling: true, profileFilePrefix: path.join(os.tmpdir(), prefix),
  });
  let events: OrtEvent[] = [];
  try {
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', nchw, shape) };
    for (let i = 0; i < 3; i++) await session.run(feeds);
    session.endProfiling();
  } finally {
    for (const f of fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(prefix))) {
      const p = path.join(os.tmpdir(), f);
      if (events.length === 0) events = JSON.parse(fs.readFileSync(p, 'utf8')) as OrtEvent[];
      fs.rmSync(p);
    }
    await session.release();
  }
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').slice(1); // not the warm-up
  if (runs.length === 0) return { kernels: new Map(), wall: NaN };
  const perRun = runs.map((run) => {
    const kernels = new Map<string, number>();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < run.ts || e.ts > run.ts + run.dur) continue;
      const weight = e.args?.input_type_shape?.[1]?.float;
      const depthwise = weight?.length === 4 && weight[1] === 1 && weight[0] > 1;
      const op = `${e.args?.op_name ?? 'unknown'}${depthwise ? ' (depthwise)' : ''}`;
      kernels.set(op, (kernels.get(op) ?? 0) + e.dur / 1000);
    }
    return kernels;
  });
  return { kernels: leastMaps(perRun), wall: Math.min(...runs.map((r) => r.dur / 1000)) };
}

/** What one round measured of XAI Lens on one model. */
interface OurRound {
  riseImages: number;
  occlusionImages: number;
  /** ms per explanation. */
  rise: number[];
  occlusion: number[];
  /** ms per batch of ONNX Runtime's own forward (adapter.forward.scores). */
  engine: number[];
  gradcam: number[];
  inputGradient: number[];
  gradcamProfile: Profile;
  inputGradientProfile: Profile;
  engineProfile: Profile;
}

async function measureOurs(file: string, adapter: ModelAdapter, input: tf.Tensor4D, batch: tf.Tensor4D, reps: number): Promise<OurRound> {
  const layer = adapter.defaultLayer()!;
  const batchSize = batch.shape[0];
  const req = (params: ExplainRequest['params']): ExplainRequest => ({ adapter, input, target: TARGET, layer, params, batchSize, seed: 1 });
  // Runs of a second or more: one warm-up (which also gives the image counts), then three.
  const riseImages = (await rise.explain(req(RISE_PARAMS))).stats!.masks;
  const riseMs = await timesMs(() => rise.explain(req(RISE_PARAMS)), 3, 0);
  const occlusionImages = (await occlusion.explain(req(OCCLUSION_PARAMS))).stats!.windows + 1; // + the unoccluded input
  const occlusionMs = await timesMs(() => occlusion.explain(req(OCCLUSION_PARAMS)), 3, 0);
  const values = (await batch.data()) as Float32Array;
  const engine = await timesMs(() => adapter.forward!.scores(values, batchSize, TARGET), 3, 1);
  const explainGradCam = async () => {
    await gradCam.explain({ adapter, input, target: TARGET, layer });
  };
  const inputGradient = async () => {
    const g = adapter.inputGradient(input, TARGET);
    await g.grad.data(); // backends that run asynchronously finish here
    tf.dispose([g.grad, g.scores]);
  };
  const nchw = tf.tidy(() => tf.transpose(batch, [0, 3, 1, 2]));
  const [, h, w, c] = batch.shape;
  const engineProfile = await ortProfile(file, (await nchw.data()) as Float32Array, [batchSize, c, h, w]);
  nchw.dispose();
  return {
    riseImages, occlusionImages, rise: riseMs, occlusion: occlusionMs, engine,
    gradcam: await timesMs(explainGradCam, reps, 2),
    inputGradient: await timesMs(inputGradient, reps, 2),
    gradcamProfile: await tfjsProfile(explainGradCam),
    inputGradientProfile: await tfjsProfile(inputGradient),
    engineProfile,
  };
}

/** min–max of values, e.g. "1.21–1.45". */
function span(xs: number[], digits = 2): string {
  const lo = Math.min(...xs).toFixed(digits);
  const hi = Math.max(...xs).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
}

/** Whether every round, some rounds or no round met the aim. */
function verdict(ratios: number[], met: (r: number) => boolean): string {
  const n = ratios.filter(met).length;
  if (n === ratios.length) return 'met';
  return n === 0 ? 'MISSED' : `met in ${n} of ${ratios.length} rounds`;
}

/** The category of the time a pass spends outside any kernel. */
const OUTSIDE = 'outside kernels';

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

interface Breakdown {
  /** What is profiled, e.g. "input gradient". */
  name: string;
  /** Whose kernels, e.g. "tfjs kernels (tf.profile, least of 3 calls)". */
  source: string;
  ours: Profile[];
  categoryOf: (kernel: string) => string;
  /** Unprofiled ms of the pass per round, ours and PyTorch's (medians: the aim's terms). */
  wall: number[];
  torchWall: number[];
  /** The fastest unprofiled runs, ours and PyTorch's: what the kernels do not account for is the rest. */
  best: number[];
  torchBest: number[];
  torch: Record<string, number>[];
  torchOps: Record<string, number>[];
  /**
   * The aim as a bound on our time: ours ≤ aimFactor × PyTorch's (1.5 for a latency, ½ for a
   * throughput of at least twice PyTorch's); a category's excess is ours − aimFactor × PyTorch's.
   */
  aimFactor: number;
  missed: boolean;
}

/**
 * Where one pass's time goes, over the rounds: the top kernels with their share of the kernel time,
 * each category beside PyTorch's, and — when the aim is missed — the category with the largest
 * excess over its share of the aim, with its heaviest kernel.
 */
function breakdown(b: Breakdown): string[] {
  const totals = b.ours.map((p) => sum(p.kernels));
  const kernels = medianMaps(b.ours.map((p) => p.kernels));
  const top = [...kernels.entries()].sort((x, y) => y[1] - x[1]).slice(0, 6);
  const lines = [
    `    ${b.name}: ${b.source}: ${span(totals, 0)} ms of kernels; the pass ${span(b.best, 0)} ms at best (${span(b.ours.map((p) => p.wall), 0)} ms while profiled);` +
      ' top kernels, ms and share of the kernel time:',
    ...top.map(([k]) => {
      const ms = b.ours.map((p) => p.kernels.get(k) ?? 0);
      return `      ${k.padEnd(36)} ${span(ms, 1).padStart(13)} ms ${span(ms.map((v, i) => (100 * v) / totals[i]), 0).padStart(7)}%`;
    }),
  ];
  // The pass's time outside any kernel is a category of its own: in tfjs the ONNX graph interpreter,
  // the tape and tensor bookkeeping; around ONNX Runtime the layout change and the session call;
  // in PyTorch Python and whatever its profiler misses. Fastest run − least kernel time, both
  // estimates of the work without other processes' share of the core (0 when noise makes it negative).
  const outside = (wall: number, kernelMs: number) => Math.max(0, wall - kernelMs);
  const ourCats = b.ours.map((p, i) => {
    const out = new Map<string, number>();
    for (const [k, ms] of p.kernels) out.set(b.categoryOf(k), (out.get(b.categoryOf(k)) ?? 0) + ms);
    out.set(OUTSIDE, outside(b.best[i], totals[i]));
    return out;
  });
  const torchCats = b.torch.map((r, i) => {
    const out = new Map(Object.entries(r));
    out.set(OUTSIDE, outside(b.torchBest[i], sum(out)));
    return out;
  });
  const ratioSpan = (ours: number[], torch: number[]) => {
    // A category PyTorch spends (almost) nothing on has no meaningful ratio.
    const ratios = ours.map((v, i) => v / torch[i]).filter((_, i) => torch[i] >= 0.5 && ours[i] >= 0.5);
    return ratios.length ? `${span(ratios)}×` : '—';
  };
  const rows = [...new Set([...ourCats, ...torchCats].flatMap((m) => [...m.keys()]))]
    .map((c) => ({ c, ours: ourCats.map((m) => m.get(c) ?? 0), torch: torchCats.map((m) => m.get(c) ?? 0) }))
    .filter((r) => Math.max(...r.ours, ...r.torch) >= 0.5)
    .sort((x, y) => median(y.ours) - median(x.ours));
  lines.push(`      by category, beside PyTorch (torch.profiler self CPU ms, least of its calls)  ${'XAI Lens ms'.padStart(13)} ${'PyTorch ms'.padStart(13)}   ÷ PyTorch`);
  for (const r of rows) lines.push(`        ${r.c.padEnd(68)} ${span(r.ours, 1).padStart(13)} ${span(r.torch, 1).padStart(13)}   ${ratioSpan(r.ours, r.torch)}`);
  const topOps = [...leastMaps(b.torchOps.map((r) => new Map(Object.entries(r)))).entries()].sort((x, y) => y[1] - x[1]).slice(0, 4);
  lines.push(`      PyTorch's heaviest operators (self ms): ${topOps.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  if (!b.missed) return lines;
  // Held back by: the category furthest over its share of the aim (aimFactor × PyTorch's time in it).
  const ranked = rows
    .map((r) => ({ ...r, excess: r.ours.map((v, i) => v - b.aimFactor * r.torch[i]) }))
    .sort((x, y) => median(y.excess) - median(x.excess));
  const over = b.wall.map((w, i) => w - b.aimFactor * b.torchWall[i]);
  lines.push(`      over the aim by ${span(over, 0)} ms (${b.aimFactor} × PyTorch's pass); by category, ms over ${b.aimFactor} × PyTorch's: ` +
    ranked.filter((r) => median(r.excess) > 0.5).slice(0, 4).map((r) => `${r.c} ${span(r.excess, 0)}`).join(', '));
  const worst = ranked.at(0);
  if (!worst) return lines;
  // Shares of the kernels' time plus the time outside them (the fastest run, unless the kernels,
  // profiled at another moment, took longer).
  const passMs = ourCats.map(sum);
  const share = (ms: number[]) => `${span(ms.map((v, i) => (100 * v) / passMs[i]), 0)}% of the ${b.name}`;
  if (worst.c === OUTSIDE) {
    lines.push(`      held back most by the time outside the kernels: ${span(worst.ours, 0)} ms, ${share(worst.ours)}; PyTorch's ${span(worst.torch, 0)} ms`);
    return lines;
  }
  const heaviest = [...kernels.entries()].filter(([k]) => b.categoryOf(k) === worst.c).sort((x, y) => y[1] - x[1]).at(0);
  const what = heaviest ? `${heaviest[0]} is ${share(b.ours.map((p) => p.kernels.get(heaviest[0]) ?? 0))}` : `it is ${share(worst.ours)}`;
  lines.push(`      held back most by ${worst.c}: ${what}, and the category takes ${ratioSpan(worst.ours, worst.torch)} PyTorch's ${worst.c}`);
  return lines;
}

export async function benchPeers(root: string, rounds = 3, reps = 5): Promise<string[]> {
  const dir = path.join(root, 'bench', '.models');
  const script = path.join(root, 'bench', 'peers', 'torch_peer.py');
  const probe = python(['-c', 'import torch; print(torch.__version__)']);
  if (!probe.ok) return [`PyTorch peer comparison: skipped (python3 with torch needed): ${probe.out.trim().split('\n').pop()}`];
  const torchVersion = probe.out.trim().split('\n').pop();
  const lines = [
    `PyTorch peer comparison, one thread each (tfjs ${tf.getBackend()}, PyTorch ${torchVersion} CPU); ${rounds} round${rounds === 1 ? '' : 's'} of PyTorch then XAI Lens back to back;` +
      ' a–b is the range over the rounds; ratios of medians decide, ratios of the fastest runs (per round, and of all rounds) in brackets',
  ];
  for (const m of MODELS) {
    const file = ensureModel(dir, m.file, m.make, lines);
    if (!file) continue;
    const { adapter } = await loadModel(file, { onnxRuntime: { threads: 1 } });
    try {
      if (!adapter.forward) {
        lines.push(`${m.label}: skipped, ONNX Runtime did not start (${adapter.forwardUnavailable ?? 'no reason given'})`);
        continue;
      }
      const batchSize = autoBatchSize(adapter, 'forward');
      const [h, w, c] = adapter.inputShape;
      const input = tf.randomUniform([1, h, w, c], 0, 1, 'float32', 1) as tf.Tensor4D;
      const batch = tf.randomUniform([batchSize, h, w, c], 0, 1, 'float32', 2) as tf.Tensor4D;
      const ours: OurRound[] = [];
      const torch: TorchRun[] = [];
      try {
        for (let r = 0; r < rounds; r++) {
          const t = torchRun(script, m.make, batchSize);
          if (typeof t === 'string') {
            lines.push(`${m.label}: PyTorch failed: ${t}`);
            break;
          }
          torch.push(t);
          ours.push(await measureOurs(file, adapter, input, batch, reps));
        }
      } finally {
        tf.dispose([input, batch]);
      }
      if (ours.length === 0) continue;
      lines.push(`${m.label} (${adapter.forward.description}), batch ${batchSize}, Grad-CAM at ${adapter.defaultLayer()}, target logit ${TARGET.index}:`);

      // Aim 1: images/s of each method ÷ PyTorch's batched forward images/s.
      const torchRate = torch.map((t) => (batchSize * 1000) / t.batchForward);
      const torchBestRate = torch.map((t) => (batchSize * 1000) / t.batchForwardBest);
      const throughput = (label: string, images: number, ms: number[][]) => {
        const rates = ms.map((t) => (images * 1000) / median(t));
        const ratios = rates.map((v, i) => v / torchRate[i]);
        const best = ms.map((t, i) => (images * 1000) / Math.min(...t) / torchBestRate[i]);
        // The fastest run of all rounds on each side: the least disturbed estimate of both.
        const overall = (images * 1000) / Math.min(...ms.flat()) / Math.max(...torchBestRate);
        return {
          rates, ratios,
          line: `  ${label.padEnd(36)} ${span(rates, 1).padStart(11)} images/s ÷ PyTorch's batched forward ${span(torchRate, 1)} = ${span(ratios)} (fastest runs ${span(best)}, of all rounds ${overall.toFixed(2)})   aim ≥ ${AIM_THROUGHPUT}: ${verdict(ratios, (x) => x >= AIM_THROUGHPUT)}`,
        };
      };
      const riseT = throughput(`RISE, ${ours[0].riseImages} masks`, ours[0].riseImages, ours.map((o) => o.rise));
      const occT = throughput(`occlusion, ${ours[0].occlusionImages - 1} windows + the input`, ours[0].occlusionImages, ours.map((o) => o.occlusion));
      const engineRate = ours.map((o) => (batchSize * 1000) / median(o.engine));
      lines.push(
        riseT.line, occT.line,
        `    split: onnxruntime's own batched forward (adapter.forward.scores) ${span(engineRate, 1)} images/s = ${span(engineRate.map((v, i) => v / torchRate[i]))} × PyTorch's;` +
          ` RISE ÷ that forward ${span(riseT.rates.map((v, i) => v / engineRate[i]))}, occlusion ÷ it ${span(occT.rates.map((v, i) => v / engineRate[i]))}`,
        ...breakdown({
          name: `batched forward of ${batchSize}`, source: "ONNX Runtime's profiler, least of 2 runs", ours: ours.map((o) => o.engineProfile), categoryOf: ortCategory,
          wall: ours.map((o) => median(o.engine)), torchWall: torch.map((t) => t.batchForward),
          best: ours.map((o) => Math.min(...o.engine)), torchBest: torch.map((t) => t.batchForwardBest),
          torch: torch.map((t) => t.batchForwardProfile), torchOps: torch.map((t) => t.batchForwardOps), aimFactor: 1 / AIM_THROUGHPUT,
          missed: [...riseT.ratios, ...occT.ratios].some((x) => x < AIM_THROUGHPUT),
        }),
      );

      // Aims 2 and 3: latency ÷ PyTorch's.
      const latency = (label: string, ms: number[][], torchMs: number[], torchBest: number[]) => {
        const ratios = ms.map((t, i) => median(t) / torchMs[i]);
        const best = ms.map((t, i) => Math.min(...t) / torchBest[i]);
        const overall = Math.min(...ms.flat()) / Math.min(...torchBest);
        return {
          missed: ratios.some((x) => x > AIM_LATENCY),
          line: `  ${label.padEnd(36)} ${span(ms.map(median), 1).padStart(11)} ms ÷ PyTorch's ${span(torchMs, 1)} ms = ${span(ratios)} (fastest runs ${span(best)}, of all rounds ${overall.toFixed(2)})   aim ≤ ${AIM_LATENCY}: ${verdict(ratios, (x) => x <= AIM_LATENCY)}`,
        };
      };
      const gc = latency('Grad-CAM', ours.map((o) => o.gradcam), torch.map((t) => t.gradcam), torch.map((t) => t.gradcamBest));
      const ig = latency('input gradient', ours.map((o) => o.inputGradient), torch.map((t) => t.inputGradient), torch.map((t) => t.inputGradientBest));
      lines.push(
        gc.line, ig.line,
        ...breakdown({
          name: 'Grad-CAM', source: 'tfjs kernels (tf.profile, least of 3 calls)', ours: ours.map((o) => o.gradcamProfile), categoryOf: tfjsCategory,
          wall: ours.map((o) => median(o.gradcam)), torchWall: torch.map((t) => t.gradcam),
          best: ours.map((o) => Math.min(...o.gradcam)), torchBest: torch.map((t) => t.gradcamBest),
          torch: torch.map((t) => t.gradcamProfile), torchOps: torch.map((t) => t.gradcamOps), aimFactor: AIM_LATENCY, missed: gc.missed,
        }),
        ...breakdown({
          name: 'input gradient', source: 'tfjs kernels (tf.profile, least of 3 calls)', ours: ours.map((o) => o.inputGradientProfile), categoryOf: tfjsCategory,
          wall: ours.map((o) => median(o.inputGradient)), torchWall: torch.map((t) => t.inputGradient),
          best: ours.map((o) => Math.min(...o.inputGradient)), torchBest: torch.map((t) => t.inputGradientBest),
          torch: torch.map((t) => t.inputGradientProfile), torchOps: torch.map((t) => t.inputGradientOps), aimFactor: AIM_LATENCY, missed: ig.missed,
        }),
      );
    } finally {
      adapter.dispose();
    }
  }
  return lines;
}

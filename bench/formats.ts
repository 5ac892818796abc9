/**
 * The models people bring: an ONNX ResNet-18 and MobileNetV2 (torchvision architectures,
 * PyTorch's TorchScript exporter) and a Keras 3 ResNet50 (.keras), loaded through the format
 * seam, as ratios in one run:
 *  - Grad-CAM ÷ that model's forward pass (bound ≤ 1.3) and the input gradient ÷ forward (≤ 3);
 *  - resident memory added by loading ÷ the model file's size: the TensorFlow.js program's part
 *    (bound ≤ 2) and, for ONNX files, onnxruntime's session's (a second copy of the weights, for
 *    the forward-only passes), and a ViT-B/16-size ONNX (330 MB) loads;
 *  - XAI Lens ÷ PyTorch (CPU, one thread) on the same architectures, when torch is installed.
 * Each model's output is also checked against its framework's on a seeded batch.
 * The model files are made by bench/peers/make_models.py (seeded weights, never committed) into
 * bench/.models/; without Python and its packages this part of the bench says so and is skipped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel } from '../src/extension/model/load';
import { gradCam } from '../src/extension/explain/methods/cam/gradcam';
import { fmt, medianMs, ratio } from './timing';
import { decodeNpy } from '../src/extension/image/npy';
import type { ModelAdapter } from '../src/extension/model/types';

/** `output`: what the file's own output is, to compare with the framework's (ONNX exports return logits). */
const MODELS: { file: string; make: string; label: string; output: 'logits' | 'probabilities' }[] = [
  { file: 'resnet18.onnx', make: 'resnet18', label: 'ONNX ResNet-18 (torchvision, TorchScript exporter)', output: 'logits' },
  { file: 'mobilenet_v2.onnx', make: 'mobilenet_v2', label: 'ONNX MobileNetV2 (torchvision, TorchScript exporter)', output: 'logits' },
  { file: 'resnet50.keras', make: 'resnet50_keras', label: 'Keras 3 ResNet50 (.keras, keras.applications)', output: 'probabilities' },
];

/**
 * The largest difference between XAI Lens' output and the framework's own (onnxruntime for
 * .onnx, Keras for .keras; bench/peers/references.py) on a seeded batch, relative to the largest
 * output; the reason when the reference cannot be made.
 */
function agreement(file: string, adapter: ModelAdapter, output: 'logits' | 'probabilities'): string {
  const inputFile = `${file}.input.npy`;
  const outputFile = `${file}.output.npy`;
  if (!fs.existsSync(outputFile)) {
    const r = python([path.join(__dirname, '..', 'bench', 'peers', 'references.py'), file]);
    if (!r.ok) return `not checked (python3 with onnxruntime/keras needed): ${r.out.trim().split('\n').pop()}`;
  }
  const x = decodeNpy(fs.readFileSync(inputFile));
  const ref = decodeNpy(fs.readFileSync(outputFile));
  const ours = tf.tidy(() => {
    const input = tf.tensor4d(x.data, x.shape as [number, number, number, number]);
    return (output === 'logits' ? adapter.logits(input) : adapter.probabilities(input)).dataSync();
  });
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.data.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i] - ref.data[i]));
    scale = Math.max(scale, Math.abs(ref.data[i]));
  }
  return `max |difference| ${diff.toExponential(1)} (${(diff / scale).toExponential(1)} of the largest ${output === 'logits' ? 'logit' : 'probability'}), ${x.shape[0]} seeded images`;
}

export function python(args: string[]): { ok: boolean; out: string } {
  // TensorFlow's oneDNN kernels round differently from its reference kernels (and stop with a
  // floating point exception on some CPUs): the references use the reference kernels.
  const env = { ...process.env, TF_ENABLE_ONEDNN_OPTS: '0', TF_CPP_MIN_LOG_LEVEL: '2' };
  const r = spawnSync('python3', args, { encoding: 'utf8', env, maxBuffer: 16 * 1024 * 1024 });
  const signal = r.signal ? `python3 stopped by ${r.signal}` : '';
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${signal}` };
}

/** The bench model, made on first use; undefined (with the reason printed) when it cannot be made. */
export function ensureModel(dir: string, file: string, make: string, lines: string[]): string | undefined {
  const p = path.join(dir, file);
  if (fs.existsSync(p)) return p;
  const r = python([path.join(__dirname, '..', 'bench', 'peers', 'make_models.py'), dir, make]);
  if (!r.ok || !fs.existsSync(p)) {
    lines.push(`  ${file}: skipped, it could not be made (python3 with torch/torchvision/keras needed): ${r.out.trim().split('\n').pop()}`);
    return undefined;
  }
  return p;
}

/**
 * The garbage collector, so resident memory is measured without garbage: global.gc under
 * `node --expose-gc`, else the same function enabled at run time.
 */
const collectGarbage: () => void = (global as { gc?: () => void }).gc ?? (() => {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

function rssMb(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().rss / 2 ** 20;
}

interface PeerTimes { forward: number; gradcam: number; inputGradient: number }

function torchPeer(names: string[]): Map<string, PeerTimes> {
  const r = python([path.join(__dirname, '..', 'bench', 'peers', 'torch_peer.py'), '1', ...names]);
  const out = new Map<string, PeerTimes>();
  if (!r.ok) return out;
  for (const line of r.out.split('\n')) {
    if (!line.startsWith('{')) continue;
    const j = JSON.parse(line) as PeerTimes & { model: string };
    out.set(j.model, j);
  }
  return out;
}

/** Set in the child process that measures one model's load (see loadMemory). */
const LOAD_ONLY = 'XAI_LENS_BENCH_LOAD';
/** Set with LOAD_ONLY when the child loads without onnxruntime. */
const LOAD_WITHOUT_ORT = 'XAI_LENS_BENCH_LOAD_NO_ORT';

/** Resident memory (MB) a load adds, and what it has added after the first forward pass. */
interface LoadMemory {
  addedMb: number;
  readyMb: number;
}

/**
 * Resident memory a load adds, in a fresh process: the wasm heap never shrinks, so a model loaded
 * after another would reuse the memory the first one grew and look nearly free. `ort` false
 * loads without onnxruntime (the TensorFlow.js program alone). A string (the reason) when the
 * child fails.
 */
function loadMemoryOnce(file: string, ort: boolean): LoadMemory | string {
  const r = spawnSync(process.execPath, [process.argv[1], '--backend', tf.getBackend(), '--only', 'formats'], {
    encoding: 'utf8', env: { ...process.env, [LOAD_ONLY]: file, [LOAD_WITHOUT_ORT]: ort ? '' : '1' }, maxBuffer: 16 * 1024 * 1024,
  });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('{"addedMb"'));
  if (r.status !== 0 || !line) return `the load measurement failed: ${`${r.stderr ?? ''}`.trim().split('\n').pop()}`;
  return JSON.parse(line) as LoadMemory;
}

/**
 * The memory a load adds, split by engine: the TensorFlow.js program (weights, and what it
 * needs for gradients) and, for ONNX files, onnxruntime's session (its own copy of the weights,
 * repacked for its kernels, made for the forward-only passes), as the difference of two loads;
 * and the total after the first TensorFlow.js forward pass (the wasm kernels pack their weights
 * on first use: that is the memory of a model ready to explain).
 */
function loadMemory(file: string): { addedMb: number; tfjsMb: number; readyMb: number } | string {
  const all = loadMemoryOnce(file, true);
  if (typeof all === 'string') return all;
  const tfjs = file.endsWith('.onnx') ? loadMemoryOnce(file, false) : all;
  if (typeof tfjs === 'string') return tfjs;
  return { addedMb: all.addedMb, tfjsMb: tfjs.addedMb, readyMb: all.readyMb };
}

/** The memory line of a model: the total, the two engines' parts of an ONNX model, and after a forward pass. */
function memoryLine(mem: { addedMb: number; tfjsMb: number; readyMb: number }, size: number): string {
  const total = `${mem.addedMb.toFixed(0)} MB (fresh process)   ÷ file size = ${ratio(mem.addedMb, size)}`;
  const ready = `; after the first forward pass ${mem.readyMb.toFixed(0)} MB ÷ file = ${ratio(mem.readyMb, size)}`;
  if (mem.addedMb === mem.tfjsMb) return `${total}   bound ≤ 2${ready}`;
  const ort = mem.addedMb - mem.tfjsMb;
  return `${total}: TensorFlow.js ${mem.tfjsMb.toFixed(0)} MB ÷ file = ${ratio(mem.tfjsMb, size)} (bound ≤ 2) + onnxruntime's session ${ort.toFixed(0)} MB ÷ file = ${ratio(ort, size)}${ready}`;
}

async function measureLoadOnly(file: string): Promise<string[]> {
  const before = rssMb();
  const model = await loadModel(file, { onnxRuntime: { enabled: process.env[LOAD_WITHOUT_ORT] !== '1' } });
  const after = rssMb();
  tf.tidy(() => {
    model.adapter.logits(tf.zeros([1, ...model.adapter.inputShape]) as tf.Tensor4D).dataSync();
  });
  const ready = rssMb();
  model.adapter.dispose();
  return [JSON.stringify({ addedMb: after - before, readyMb: ready - before })];
}

export async function benchFormats(root: string, reps = 5): Promise<string[]> {
  const only = process.env[LOAD_ONLY];
  if (only) return measureLoadOnly(only);
  const dir = path.join(root, 'bench', '.models');
  const lines = [`Models people bring (backend ${tf.getBackend()}; files in bench/.models, made by bench/peers/make_models.py)`];
  const peer = torchPeer(['resnet18', 'mobilenet_v2']);
  if (peer.size === 0) lines.push('  PyTorch peer: not available (python3 with torch and torchvision needed); XAI Lens ÷ PyTorch skipped');
  for (const m of MODELS) {
    const file = ensureModel(dir, m.file, m.make, lines);
    if (!file) continue;
    const size = fs.statSync(file).size / 2 ** 20;
    const mem = loadMemory(file);
    const t0 = performance.now();
    const model = await loadModel(file);
    const loadMs = performance.now() - t0;
    const { adapter } = model;
    const layer = adapter.defaultLayer()!;
    const x = tf.randomUniform([1, ...adapter.inputShape], 0, 1, 'float32', 1) as tf.Tensor4D;
    const target = { index: 3, space: 'logit' as const };
    const forward = await medianMs(() => adapter.logits(x), reps);
    const gradcam = await medianMs(() => gradCam.explain({ adapter, input: x, target, layer }), reps);
    const inputGrad = await medianMs(() => adapter.inputGradient(x, target), reps);
    lines.push(
      `${m.label}: ${size.toFixed(1)} MB, loaded in ${fmt(loadMs)}, layer ${layer}`,
      typeof mem === 'string'
        ? `  resident memory added by loading    not measured: ${mem}`
        : `  resident memory added by loading    ${memoryLine(mem, size)}`,
      `  forward                             ${fmt(forward)}`,
      `  Grad-CAM                            ${fmt(gradcam)}   ÷ forward = ${ratio(gradcam, forward)}   bound ≤ 1.3`,
      `  input gradient                      ${fmt(inputGrad)}   ÷ forward = ${ratio(inputGrad, forward)}   bound ≤ 3`,
    );
    lines.push(`  equals the framework's output        ${agreement(file, adapter, m.output)}`);
    const p = peer.get(m.make);
    if (p) {
      lines.push(`  ÷ PyTorch (CPU, 1 thread: forward ${fmt(p.forward)}, Grad-CAM ${fmt(p.gradcam)}, input gradient ${fmt(p.inputGradient)}): ` +
        `forward ${ratio(forward, p.forward)}, Grad-CAM ${ratio(gradcam, p.gradcam)}, input gradient ${ratio(inputGrad, p.inputGradient)}`);
    }
    x.dispose();
    adapter.dispose();
  }
  const vit = ensureModel(dir, 'vit_b_16.onnx', 'vit_b_16', lines);
  if (vit) {
    const size = fs.statSync(vit).size / 2 ** 20;
    const mem = loadMemory(vit);
    if (typeof mem === 'string') {
      lines.push(`ONNX ViT-B/16: ${size.toFixed(0)} MB file: ${mem}`);
    } else {
      lines.push(`ONNX ViT-B/16: ${size.toFixed(0)} MB file, loads; resident memory added ${memoryLine(mem, size)}`);
    }
    const model = await loadModel(vit);
    lines.push(`  equals the framework's output        ${agreement(vit, model.adapter, 'logits')}`);
    model.adapter.dispose();
  }
  return lines;
}

/**
 * The compute pool's resident memory: the process's RSS before the pool, with its workers started,
 * and with a MobileNetV2-size model loaded in every worker. Each worker holds its own copy
 * of the model, so the growth per worker should be about one model copy (its weights as loaded,
 * plus the backend's working memory) — printed against the model's weight bytes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ComputePool } from '../src/extension/compute/pool';
import type { ModelInfo } from '../src/extension/compute/jobs/describe';
import { fsSaveHandler } from '../src/extension/model/fs-io';
import { buildMobileNetV2 } from './mobilenet-v2';

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

/** RSS after a garbage collection when exposed (node --expose-gc), else as it is. */
function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

export async function benchPoolMemory(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-pool-memory-'));
  const model = buildMobileNetV2();
  await model.save(fsSaveHandler(dir));
  model.dispose();
  const weights = fs.readdirSync(dir).filter((f) => f.endsWith('.bin')).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  const file = path.join(dir, 'model.json');
  const lines = [`pool memory (MobileNetV2-size model, ${mb(weights)} of weights):`];
  try {
    for (let size = 1; size <= Math.max(2, os.availableParallelism()); size++) {
      const before = rss();
      const pool = new ComputePool({ size, backend: 'wasm' });
      await pool.ready();
      await pool.allReady();
      const started = rss();
      // One describe per worker: jobs go to free workers, and each loads its own copy.
      await Promise.all(Array.from({ length: size }, () => pool.run<ModelInfo>('describe', { model: { file } })));
      const idle = rss();
      const explained = await pool.run('explain', { model: { file }, imageFile: path.resolve(__dirname, '..', 'demo', 'images', 'square-1.png'), methods: ['gradcam'], target: 'top', preprocess: 'unit' }, { model: { file } })
        .then(() => rss());
      await pool.dispose();
      const perWorker = (idle - started) / size;
      lines.push(`  ${size} worker${size === 1 ? ' ' : 's'}: +${mb(started - before)} for the workers (${mb((started - before) / size)} each: a thread, tfjs and its wasm module), `
        + `+${mb(idle - started)} with the model loaded (${mb(perWorker)} per worker, ${(perWorker / weights).toFixed(1)}× the weights), +${mb(explained - before)} in all after a Grad-CAM`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

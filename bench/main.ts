/**
 * Benchmarks (not tests): `npm run bench [-- --backend wasm|cpu|...] [-- --only gradcam,grid,perturbation,sanity,tcav,tcav-memory,attention,formats,peers,pool-memory,kernels,scaling,tcav-scaling,sanity-scaling]`.
 * Prints ratios against their floors (see the README's Speed section), measured in one run on one
 * backend.
 */
import { parseArgs } from 'node:util';
import { describeBackend, initBackend, isSupportedBackendChoice } from '../src/extension/backend/backends';
import * as path from 'node:path';
import { benchGradCam } from './gradcam';
import { benchGrid } from './grid';
import { benchPerturbation } from './perturbation';
import { benchSanity } from './sanity';
import { benchTcav, benchTcavMemory } from './tcav';
import { benchTcavScaling } from './tcav-scaling';
import { benchAttention } from './attention';
import { benchWasmKernels, formatTimings } from './wasm-kernels';
import { benchFormats } from './formats';
import { benchPeers } from './peers-compare';
import { benchPoolMemory } from './pool-memory';
import { benchScaling } from './scaling';
import { benchSanityScaling } from './sanity-scaling';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' }, only: { type: 'string' }, reps: { type: 'string' } } });
  const choice = values.backend!;
  if (!isSupportedBackendChoice(choice)) throw new Error(`unknown backend ${choice}`);
  const report = await initBackend(choice);
  console.log(`backend: ${describeBackend(report)}`);
  const only = values.only?.split(',');
  const want = (name: string) => !only || only.includes(name);
  const reps = values.reps ? Number(values.reps) : 7;
  if (want('gradcam')) console.log((await benchGradCam(reps)).join('\n'));
  if (want('perturbation')) console.log((await benchPerturbation(Math.min(reps, 3))).join('\n'));
  if (want('sanity')) console.log((await benchSanity(Math.min(reps, 3))).join('\n'));
  if (want('grid')) console.log((await benchGrid(path.resolve(__dirname, '..'))).join('\n'));
  if (want('tcav')) console.log((await benchTcav()).join('\n'));
  if (want('attention')) console.log((await benchAttention(Math.min(reps, 5))).join('\n'));
  if (want('formats')) console.log((await benchFormats(path.resolve(__dirname, '..'), Math.min(reps, 5))).join('\n'));
  // Opt-in: several rounds of PyTorch and XAI Lens on two ONNX models take several minutes.
  if (only?.includes('peers')) console.log((await benchPeers(path.resolve(__dirname, '..'), Math.min(reps, 3))).join('\n'));
  // Opt-in: 2000 images through MobileNetV2 take a few minutes.
  if (only?.includes('tcav-memory')) console.log((await benchTcavMemory()).join('\n'));
  // Opt-in: a pool of each size from 1 to the cores, several cold runs each.
  if (only?.includes('tcav-scaling')) console.log((await benchTcavScaling(choice, Math.min(reps, 5))).join('\n'));
  // Opt-in: pools of 1 … all cores, each running MobileNetV2 explanations, take several minutes.
  if (only?.includes('scaling')) console.log((await benchScaling(choice, Math.min(reps, 3))).join('\n'));
  // Opt-in: sanity cascades with pools of 1 … all cores, on MobileNetV2, take several minutes.
  if (only?.includes('sanity-scaling')) console.log((await benchSanityScaling(choice, Math.min(reps, 3))).join('\n'));
  if (want('pool-memory')) console.log((await benchPoolMemory()).join('\n'));
  if (want('kernels') && report.backend === 'wasm') console.log(formatTimings(benchWasmKernels()));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

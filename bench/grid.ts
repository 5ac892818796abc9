/**
 * The whole grid on the demo model: every method that applies, one image, as the panel runs it
 * (maps first, then the faithfulness metrics of each). Reports seconds per method and in total.
 */
import * as path from 'node:path';
import { loadModel } from '../src/extension/model/load';
import { explainImage } from '../src/extension/explain/explain-image';
import { EXPLAINERS, whyNotApplicable } from '../src/extension/explain/registry';

export async function benchGrid(root: string): Promise<string[]> {
  const model = await loadModel(path.join(root, 'demo', 'models', 'shapes'));
  const imageFile = path.join(root, 'demo', 'images', 'circle-1.png');
  const methods = EXPLAINERS.filter((e) => whyNotApplicable(e, model.adapter) === undefined);
  const run = async (metrics: boolean) => {
    const t0 = performance.now();
    const metricMs = new Map<string, number>();
    const r = await explainImage({
      model, imageFile, methods, target: 'top', preprocess: model.preprocess ?? 'unit',
      metrics: metrics ? {} : undefined,
      onMetrics: (m, ms) => metricMs.set(m.method, ms),
    });
    return { total: performance.now() - t0, maps: r.maps, metricMs };
  };
  await run(false); // warm-up: kernels compiled, weights uploaded
  const plain = await run(false);
  const full = await run(true);
  model.adapter.dispose();
  const lines = [`the whole grid on the demo model (${methods.length} methods, 64×64), one image`];
  for (const m of full.maps) {
    const mapMs = plain.maps.find((x) => x.method === m.method)!.ms;
    lines.push(`  ${m.label.padEnd(22)} map ${mapMs.toFixed(1).padStart(8)} ms   metrics ${(full.metricMs.get(m.method) ?? 0).toFixed(1).padStart(8)} ms`);
  }
  lines.push(`  all maps: ${(plain.total / 1000).toFixed(2)} s; maps + metrics: ${(full.total / 1000).toFixed(2)} s`);
  return lines;
}

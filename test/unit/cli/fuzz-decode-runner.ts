/**
 * Run by hardening-fuzz.test.ts in a child process: decodes every file named on the command line
 * the way `xai-lens explain` does (loadModelInput at the model's size, then loadDisplayImage for
 * the overlay) and prints one JSON line per file, then one with the process's peak RSS. A child,
 * so its memory is measured apart from the test runner's, and a hang is bounded by its timeout.
 */
import { loadDisplayImage, loadModelInput } from '../../../src/extension/image/decode';
import { UserError } from '../../../src/shared/errors';

async function main(files: string[]): Promise<void> {
  for (const file of files) {
    const t0 = performance.now();
    try {
      await loadModelInput(file, { height: 8, width: 8, channels: 3 });
      await loadDisplayImage(file, 1024);
      console.log(JSON.stringify({ file, ok: true, ms: performance.now() - t0 }));
    } catch (err) {
      const e = err as Error;
      console.log(JSON.stringify({ file, ok: false, userError: err instanceof UserError, name: e?.name, message: String(e?.message ?? e), ms: performance.now() - t0 }));
    }
  }
  // maxRSS: the process's peak resident set in kB (getrusage), native memory (libvips) included.
  console.log(JSON.stringify({ peakRss: process.resourceUsage().maxRSS * 1024 }));
}

void main(process.argv.slice(2));

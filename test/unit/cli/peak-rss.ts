/**
 * Preloaded (`node --require`) into a CLI run by hardening-fuzz.test.ts: when the process exits,
 * writes its peak resident set size in bytes (getrusage's maxRSS, worker threads and native
 * memory included) to the file named by XAI_PEAK_RSS_FILE.
 */
import * as fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env.XAI_PEAK_RSS_FILE;
if (file && isMainThread) {
  process.on('exit', () => {
    fs.writeFileSync(file, String(process.resourceUsage().maxRSS * 1024));
  });
}

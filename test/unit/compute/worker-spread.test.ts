/**
 * A spread's progress: what a running shard reports of itself reaches the spread's caller, from
 * a shard the lead computes and from one a helper computes (over the helper's port), and a helper
 * whose lead does not listen is given no way to report. The lead and a helper meet over a
 * MessageChannel in this thread, as they do between two workers of the pool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { LeadSpread, assist, type SpreadHost } from '../../../src/extension/compute/worker-spread';
import { runLocally, type ShardContext, type ShardKind } from '../../../src/extension/compute/spread';
import type { ModelAdapter } from '../../../src/extension/model/types';

/** Each shard reports quarters of itself and answers who computed it and whether it could report. */
const quarters: ShardKind<unknown, string> = {
  kind: 'quarters',
  async run(_p, _index, ctx) {
    const reports = ctx.progress !== undefined;
    for (let k = 1; k <= 4; k++) {
      ctx.progress?.(k / 4);
      await new Promise((r) => setImmediate(r));
    }
    return `${(ctx.adapter as unknown as { who: string }).who}:${reports ? 'reports' : 'silent'}`;
  },
};

const as = (who: string) => ({ who }) as unknown as ModelAdapter;
const model = { file: 'unused' };

function host(): SpreadHost {
  let id = 0;
  return { post: () => {}, spreads: new Map(), nextSpreadId: () => ++id };
}

/** Runs a spread of `count` quarters shards on a lead with one helper (which takes shard 0). */
async function leadWithHelper(count: number, onProgress?: (index: number, fraction: number) => void): Promise<string[]> {
  const { port1, port2 } = new MessageChannel();
  const helperDone = assist(port2, new Map([[quarters.kind, quarters as ShardKind]]), new AbortController().signal, async (_m, use) => use({ adapter: as('helper') }));
  const lead = new LeadSpread(host(), 1, 1, quarters as ShardKind, {}, count, model, undefined, onProgress);
  lead.addHelper(9, port1);
  const ends: Array<() => void> = [];
  const ctx: ShardContext = { adapter: as('lead'), state: new Map(), onEnd: (f) => void ends.push(f as () => void) };
  const results = (await lead.run(ctx)) as string[];
  await helperDone;
  return results;
}

test('a running shard\'s progress reaches the caller from the lead and from a helper, in order, before its result', async () => {
  const seen = new Map<number, number[]>();
  const results = await leadWithHelper(3, (i, f) => seen.set(i, [...(seen.get(i) ?? []), f]));
  assert.equal(results[0], 'helper:reports', 'the helper took shard 0 when it joined');
  assert.deepEqual(results.slice(1), ['lead:reports', 'lead:reports']);
  for (let i = 0; i < 3; i++) assert.deepEqual(seen.get(i), [0.25, 0.5, 0.75, 1], `shard ${i}`);
});

test('when nobody listens, no shard is given a way to report, here or on a helper', async () => {
  assert.deepEqual(await leadWithHelper(3), ['helper:silent', 'lead:silent', 'lead:silent']);
});

test('shards run here report through the same handler, each under its own index', async () => {
  const seen: Array<[number, number]> = [];
  const results = await runLocally(quarters, {}, 2, { adapter: as('here') }, undefined, (i, f) => seen.push([i, f]));
  assert.deepEqual(results, ['here:reports', 'here:reports']);
  assert.deepEqual(seen, [[0, 0.25], [0, 0.5], [0, 0.75], [0, 1], [1, 0.25], [1, 0.5], [1, 0.75], [1, 1]]);
});

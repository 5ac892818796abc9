import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PendingRequests } from '../../../src/shared/protocol/requests';

/** A reply as the panels' messages have them: a tag and (usually) the request's id. */
interface Msg {
  type: 'started' | 'map' | 'done' | 'failed';
  requestId?: number;
  n?: number;
}

const isLast = (m: Msg) => m.type === 'done' || m.type === 'failed';

test('the webview hands out ids 1, 2, 3…, the host -1, -2, -3…; an id chosen by the other side is kept', () => {
  const webview = new PendingRequests<'a' | 'b' | 'c'>({ side: 'webview' });
  assert.deepEqual([webview.start('a').id, webview.start('b').id, webview.start('c').id], [1, 2, 3]);
  const host = new PendingRequests<'a' | 'b'>({ side: 'host' });
  assert.deepEqual([host.start('a').id, host.start('b').id], [-1, -2]);
  const answered = host.start('a', { id: 7 });
  assert.equal(answered.id, 7);
  assert.equal(host.get(7), answered);
  // Ids it chose itself go on where they were.
  assert.equal(host.start('b').id, -3);
});

test('replies reach the caller whose id they carry, in order, until the last one', () => {
  const requests = new PendingRequests<'explain' | 'attention', Msg>({ side: 'webview', isLast });
  const explained: Msg[] = [];
  const attended: Msg[] = [];
  const e = requests.start('explain', { onReply: (m) => explained.push(m) });
  const a = requests.start('attention', { onReply: (m) => attended.push(m) });
  assert.equal(requests.route({ type: 'started', requestId: e.id }), true);
  assert.equal(requests.route({ type: 'map', requestId: a.id, n: 1 }), true);
  assert.equal(requests.route({ type: 'map', requestId: e.id, n: 2 }), true);
  assert.equal(requests.route({ type: 'done', requestId: a.id }), true);
  assert.deepEqual(explained.map((m) => m.type), ['started', 'map']);
  assert.deepEqual(explained[1].n, 2);
  assert.deepEqual(attended.map((m) => m.type), ['map', 'done']);
  // The attention request got its last reply: forgotten; the explain request still runs.
  assert.equal(requests.get(a.id), undefined);
  assert.equal(a.current, false);
  assert.equal(requests.latest('explain'), e);
  assert.equal(requests.route({ type: 'map', requestId: a.id }), false, 'a reply after the last one is dropped');
  assert.equal(attended.length, 2);
});

test('a newer request of a kind supersedes the older: aborted, forgotten, its late replies dropped', () => {
  const requests = new PendingRequests<'explain', Msg>({ side: 'webview', isLast });
  const got: number[] = [];
  const first = requests.start('explain', { onReply: (m) => got.push(m.requestId!) });
  const second = requests.start('explain', { onReply: (m) => got.push(m.requestId!) });
  assert.equal(first.signal.aborted, true);
  assert.equal(first.current, false);
  assert.equal(second.signal.aborted, false);
  assert.equal(second.current, true);
  assert.equal(requests.latest('explain'), second);
  assert.equal(requests.route({ type: 'map', requestId: first.id }), false);
  assert.equal(requests.route({ type: 'done', requestId: first.id }), false);
  assert.equal(requests.route({ type: 'map', requestId: second.id }), true);
  assert.deepEqual(got, [second.id]);
  assert.equal(requests.size, 1);
});

test('replies without an id, or with one never handed out, reach no one', () => {
  const requests = new PendingRequests<'run', Msg>({ side: 'webview', isLast });
  let calls = 0;
  requests.start('run', { onReply: () => calls++ });
  assert.equal(requests.route({ type: 'failed' }), false);
  assert.equal(requests.route({ type: 'map', requestId: 99 }), false);
  assert.equal(requests.route({ type: 'map', requestId: -1 }), false);
  assert.equal(calls, 0);
});

test('adopting a run the other side started (its id) supersedes this side’s own of that kind', () => {
  const requests = new PendingRequests<'run', Msg>({ side: 'webview', isLast });
  const own = requests.start('run');
  const hosts = requests.start('run', { id: -4 });
  assert.equal(own.current, false);
  assert.equal(requests.latest('run'), hosts);
  assert.equal(requests.route({ type: 'done', requestId: -4 }), true);
  assert.equal(requests.size, 0);
});

test('cancel aborts a request but keeps it pending until it ends; end forgets only the current one', () => {
  const runs = new PendingRequests<'explain'>({ side: 'host' });
  const run = runs.start('explain', { id: 201 });
  assert.equal(runs.cancel(999), false, 'no such request');
  assert.equal(runs.cancel(201), true);
  assert.equal(run.signal.aborted, true);
  assert.equal(run.current, true, 'a cancelled run still reports its failure');
  assert.equal(runs.get(201), run);
  runs.end(run);
  assert.equal(run.current, false);
  assert.equal(runs.size, 0);

  // A superseded run ending late must not forget the run that superseded it.
  const older = runs.start('explain', { id: 1 });
  const newer = runs.start('explain', { id: 2 });
  runs.end(older);
  assert.equal(runs.get(2), newer);
  assert.equal(newer.current, true);
});

test('dispose aborts and forgets everything', () => {
  const requests = new PendingRequests<'a' | 'b', Msg>({ side: 'host', isLast });
  const a = requests.start('a');
  const b = requests.start('b');
  requests.dispose();
  assert.equal(requests.size, 0);
  assert.deepEqual([a.signal.aborted, b.signal.aborted, a.current, b.current], [true, true, false, false]);
  assert.equal(requests.route({ type: 'map', requestId: a.id }), false);
});

test('the map does not grow: many requests, answered, superseded or ended, leave at most one per kind', () => {
  const requests = new PendingRequests<'explain' | 'attention', Msg>({ side: 'webview', isLast });
  for (let i = 0; i < 10_000; i++) {
    const e = requests.start('explain');
    requests.route({ type: 'started', requestId: e.id });
    if (i % 3 === 0) requests.route({ type: 'done', requestId: e.id });
    const a = requests.start('attention');
    if (i % 2 === 0) requests.route({ type: 'failed', requestId: a.id });
    assert.ok(requests.size <= 2);
  }
  assert.ok(requests.size <= 2);
  requests.dispose();
  assert.equal(requests.size, 0);

  const host = new PendingRequests<'run'>({ side: 'host' });
  for (let i = 0; i < 10_000; i++) host.end(host.start('run', { id: i }));
  assert.equal(host.size, 0);
});

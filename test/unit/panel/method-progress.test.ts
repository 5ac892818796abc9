/** The explain run's progress bar: a share per method, filled as it reports, never moving back, ending full. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MethodProgress } from '../../../src/extension/panel/method-progress';

const labels = new Map([['gradcam', 'Grad-CAM'], ['smoothgrad', 'SmoothGrad'], ['ig', 'Integrated Gradients']]);
const close = (a: number, b: number) => Math.abs(a - b) < 1e-9;

test('three methods: a quarter of the bar each (one for loading); reported percents fill a share, the map completes it', () => {
  const bar = new MethodProgress(labels);
  const steps = [
    bar.progress('smoothgrad', 40),
    bar.done('gradcam', 0),
    bar.progress('ig', 50),
    bar.progress('smoothgrad', 80),
    bar.done('smoothgrad', 1),
    bar.done('ig', 2),
  ];
  assert.deepEqual(steps.map((s) => s.message), ['SmoothGrad 40%', 'Grad-CAM (1/3)', 'Integrated Gradients 50%', 'SmoothGrad 80%', 'SmoothGrad (2/3)', 'Integrated Gradients (3/3)']);
  const expected = [10, 25, 12.5, 10, 5, 12.5];
  for (const [i, s] of steps.entries()) assert.ok(close(s.increment, expected[i]), `step ${i}: ${s.increment} ≠ ${expected[i]}`);
  assert.ok(close(steps.reduce((a, s) => a + s.increment, 0), 75), 'the three methods fill three quarters');
});

test('a report that comes late (lower, or after the map) adds nothing', () => {
  const bar = new MethodProgress(labels);
  assert.ok(close(bar.progress('ig', 60).increment, 15));
  assert.equal(bar.progress('ig', 30).increment, 0);
  assert.ok(close(bar.done('ig', 0).increment, 10));
  assert.equal(bar.progress('ig', 99).increment, 0);
  assert.equal(bar.done('ig', 0).increment, 0);
});

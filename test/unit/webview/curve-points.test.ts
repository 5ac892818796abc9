import { test } from 'node:test';
import assert from 'node:assert/strict';
import { curvePoints, curveTooltipLabel } from '../../../src/webview/util/curve-points';

test('curvePoints spreads the steps evenly over [0, 1]', () => {
  assert.deepEqual(curvePoints([1, 0.5, 0.25]), [{ x: 0, y: 1 }, { x: 0.5, y: 0.5 }, { x: 1, y: 0.25 }]);
  assert.deepEqual(curvePoints([4, 3, 2, 1, 0]).map((p) => p.x), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(curvePoints([0.7]), [{ x: 0, y: 0.7 }]);
  assert.deepEqual(curvePoints([]), []);
});

test('curveTooltipLabel: the score to three decimals at the percentage of pixels', () => {
  assert.equal(curveTooltipLabel('Grad-CAM', 0.25, 0.12345), 'Grad-CAM: 0.123 at 25%');
  assert.equal(curveTooltipLabel('RISE', 1, 1), 'RISE: 1.000 at 100%');
  assert.equal(curveTooltipLabel('RISE', null, undefined), 'RISE: 0.000 at 0%');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeMap } from '../../../src/webview/util/map-caption';

test('describeMap: size, layer and completeness gap', () => {
  assert.equal(describeMap({ height: 14, width: 14, layer: 'conv5', stats: { relativeGap: 0.01234 } }),
    '14×14 · at conv5 · completeness gap 1.23%');
  assert.equal(describeMap({ height: 2, width: 3, stats: { other: 5 } }), '2×3');
});

test('describeMap shows the host\'s note on a map that says nothing', () => {
  assert.equal(describeMap({ height: 7, width: 7, note: 'the map is zero everywhere: no gradient reaches this layer' }),
    '7×7 · the map is zero everywhere: no gradient reaches this layer');
});

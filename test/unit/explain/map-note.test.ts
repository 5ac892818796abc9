// A map that ranks no pixel above another is flagged, with its family's likely cause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { degenerateMapNote } from '../../../src/extension/explain/map-note';

test('zero, constant and NaN maps get a note naming the cause; maps with any spread get none', () => {
  assert.match(degenerateMapNote(new Float32Array(16), 'cam')!, /^the map is zero everywhere: no gradient-weighted activation of this layer is positive/);
  assert.match(degenerateMapNote(new Float32Array(16), 'gradient')!, /^the map is zero everywhere: the target's gradient is zero/);
  assert.equal(degenerateMapNote(new Float32Array(16).fill(0.25), 'perturbation'), 'the map has one value (0.25) everywhere: hiding parts of the image does not change the score (the output is saturated, or the windows or masks are too small to matter); try the logit space or larger windows');
  assert.match(degenerateMapNote(Float32Array.of(1, 1, Number.NaN, 1), 'gradient')!, /NaN/);
  // Any spread, however small in absolute terms, is a map.
  assert.equal(degenerateMapNote(Float32Array.of(0, 0, 0, 1e-30), 'cam'), undefined);
  assert.equal(degenerateMapNote(Float32Array.of(-2, 3), 'gradient'), undefined);
  // Float noise on a constant is still constant.
  assert.match(degenerateMapNote(Float32Array.of(1, 1 + 1e-7, 1), 'attention')!, /^the map has one value \(1\) everywhere: the attention is spread evenly/);
  assert.equal(degenerateMapNote(new Float32Array(0), 'cam'), undefined);
});

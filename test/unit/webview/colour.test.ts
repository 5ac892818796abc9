import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headPalette, methodColour, parseRgb } from '../../../src/webview/util/colour';

test('methodColour: the palette by row, wrapping after 17; random always grey', () => {
  assert.equal(methodColour('gradcam', 0), '#4e79a7');
  assert.equal(methodColour('smoothgrad', 1), '#f28e2b');
  assert.equal(methodColour('rise', 16), '#e377c2');
  assert.equal(methodColour('rise', 17), '#4e79a7');
  assert.equal(methodColour('random', 0), '#8c8c8c');
  assert.equal(methodColour('random', 5), '#8c8c8c');
});

test('headPalette: the themed colours, then the fixed ones, repeating', () => {
  assert.deepEqual(headPalette(['#111', '#222'], 4), ['#111', '#222', '#17becf', '#e377c2']);
  assert.deepEqual(headPalette(['#111'], 0), []);
  assert.deepEqual(headPalette(['#111'], -2), []);
  const twelve = headPalette(['#111'], 12);
  assert.equal(twelve.length, 12);
  assert.equal(twelve[10], '#c5b0d5');
  assert.equal(twelve[11], '#111');
  assert.equal(headPalette([], 11)[10], '#17becf');
});

test('parseRgb reads a canvas\' #rrggbb and rgba() strings; anything else is mid grey', () => {
  assert.deepEqual(parseRgb('#ff8000'), [255, 128, 0]);
  assert.deepEqual(parseRgb('#FFFFFF'), [255, 255, 255]);
  assert.deepEqual(parseRgb('rgba(10, 20, 30, 0.5)'), [10, 20, 30]);
  assert.deepEqual(parseRgb('rgb(1, 2, 3)'), [1, 2, 3]);
  assert.deepEqual(parseRgb(''), [128, 128, 128]);
  assert.deepEqual(parseRgb('rgba(1, 2)'), [128, 128, 128]);
  assert.deepEqual(parseRgb('#abc'), [128, 128, 128]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { colormapLut } from '../../../src/shared/colormaps';
import { blendHeatmap, colormapGradient, displayMap } from '../../../src/webview/util/heatmap';

test('displayMap min–max scales an unsigned map to [0, 1], negatives included', () => {
  const out = displayMap({ data: new Float32Array([-2, 2, 0, 1]), height: 2, width: 2 }, 2, 2);
  assert.deepEqual([...out], [0, 1, 0.5, 0.75]);
});

test('displayMap draws a signed map by magnitude and leaves the raw map alone', () => {
  const data = new Float32Array([-2, 2, 0, 1]);
  const out = displayMap({ data, height: 2, width: 2, signed: true }, 2, 2);
  assert.deepEqual([...out], [1, 1, 0, 0.5]);
  assert.deepEqual([...data], [-2, 2, 0, 1]);
});

test('displayMap resizes bilinearly with half-pixel centres before scaling', () => {
  // 1×2 → 1×4: samples at -0.25, 0.25, 0.75, 1.25 source pixels, clamped at the edges.
  const out = displayMap({ data: new Float32Array([10, 20]), height: 1, width: 2 }, 1, 4);
  assert.deepEqual([...out], [0, 0.25, 0.75, 1]);
  assert.deepEqual([...displayMap({ data: new Float32Array([3, 3]), height: 1, width: 2 }, 2, 2)], [0, 0, 0, 0]);
});

/** A LUT whose entry k is (k, 255 − k, 12): each pixel's colour tells which entry it took. */
const rampLut = Uint8Array.from({ length: 256 * 3 }, (_, i) => [Math.floor(i / 3), 255 - Math.floor(i / 3), 12][i % 3]);

test('blendHeatmap mixes image and colormap colour by opacity, fully opaque', () => {
  const rgba = new Uint8ClampedArray([100, 200, 0, 0, 100, 200, 0, 0, 100, 200, 0, 0, 100, 200, 0, 0]);
  const out = blendHeatmap(rgba, new Float32Array([0, 0.5, 0.999, 1]), rampLut, 0.25);
  assert.deepEqual([...out], [
    75, 214, 3, 255, // heat 0 → entry 0 (0, 255, 12): 0.75·(100, 200, 0) + 0.25·colour = (75, 213.75, 3)
    107, 182, 3, 255, // heat 0.5 → entry 128 (128, 127, 12)
    139, 150, 3, 255, // heat 0.999 → entry floor(255.74) = 255
    139, 150, 3, 255, // heat 1 → entry 255 too (256 clamped)
  ]);
});

test('blendHeatmap clamps the opacity: above 1 the colour alone, below 0 or NaN the image alone', () => {
  const rgba = new Uint8ClampedArray([100, 200, 50, 9]);
  const heat = new Float32Array([0.5]);
  assert.deepEqual([...blendHeatmap(rgba, heat, rampLut, 2)], [128, 127, 12, 255]);
  assert.deepEqual([...blendHeatmap(rgba, heat, rampLut, -1)], [100, 200, 50, 255]);
  assert.deepEqual([...blendHeatmap(rgba, heat, rampLut, NaN)], [100, 200, 50, 255]);
});

test('blendHeatmap writes into the array it is given and returns it', () => {
  const out = new Uint8ClampedArray(4);
  const back = blendHeatmap(new Uint8ClampedArray([0, 0, 0, 255]), new Float32Array([1]), colormapLut('gray'), 1, out);
  assert.equal(back, out);
  assert.deepEqual([...out], [255, 255, 255, 255]);
});

test('colormapGradient: nine stops of the colormap at 0, 32, …, 224, 255', () => {
  assert.equal(colormapGradient('gray'), 'linear-gradient(to right, rgb(0, 0, 0) 0%, rgb(32, 32, 32) 13%, rgb(64, 64, 64) 25%, rgb(96, 96, 96) 38%, '
    + 'rgb(128, 128, 128) 50%, rgb(160, 160, 160) 63%, rgb(192, 192, 192) 75%, rgb(224, 224, 224) 88%, rgb(255, 255, 255) 100%)');
  const viridis = colormapGradient('viridis');
  assert.ok(viridis.startsWith('linear-gradient(to right, rgb(68, 1, 84) 0%, '), viridis);
  assert.ok(viridis.endsWith(', rgb(253, 231, 37) 100%)'), viridis);
});

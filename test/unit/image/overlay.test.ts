import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { renderMapPng, renderOverlayPng } from '../../../src/extension/image/overlay';
import { colormapLut } from '../../../src/shared/colormaps';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

async function decodePng(png: Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

function greyImage(width: number, height: number, level: number): { data: Uint8Array; width: number; height: number } {
  return { data: new Uint8Array(width * height * 3).fill(level), width, height };
}

/** An 8×8 map that is 1 in its top-left 4×4 quadrant and 0 elsewhere. */
function hotTopLeft(): Float32Array {
  const map = new Float32Array(64);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) map[y * 8 + x] = 1;
  return map;
}

function rgbAt(img: { data: Uint8Array; width: number }, y: number, x: number): number[] {
  const o = (y * img.width + x) * 3;
  return [img.data[o], img.data[o + 1], img.data[o + 2]];
}

test('a map hot in the top-left quadrant is red there and blue elsewhere (jet)', async () => {
  const png = await renderOverlayPng({ image: greyImage(64, 48, 128), map: hotTopLeft(), mapHeight: 8, mapWidth: 8, colormap: 'jet', opacity: 0.5 });
  const out = await decodePng(png);
  assert.deepEqual([out.width, out.height, out.channels], [64, 48, 3]);

  // Mean of (red − blue) per quadrant: hot means red in jet, cold means blue.
  const redness = (y0: number, y1: number, x0: number, x1: number): number => {
    let sum = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += out.data[(y * 64 + x) * 3] - out.data[(y * 64 + x) * 3 + 2];
    return sum / ((y1 - y0) * (x1 - x0));
  };
  const topLeft = redness(0, 24, 0, 32);
  for (const other of [redness(0, 24, 32, 64), redness(24, 48, 0, 32), redness(24, 48, 32, 64)]) {
    assert.ok(topLeft > other + 50, `top-left redness ${topLeft.toFixed(1)} vs ${other.toFixed(1)}`);
  }
  // Deep inside each region the blend is exact: grey 128 halfway to jet's ends (128,0,0) and (0,0,128).
  assert.deepEqual(rgbAt(out, 4, 4), [128, 64, 64]);
  assert.deepEqual(rgbAt(out, 44, 60), [64, 64, 128]);
});

test('opacity 0 returns the original image pixels', async () => {
  const image = { data: new Uint8Array(40 * 30 * 3).map((_, i) => (i * 7919) % 256), width: 40, height: 30 };
  const png = await renderOverlayPng({ image, map: hotTopLeft(), mapHeight: 8, mapWidth: 8, colormap: 'viridis', opacity: 0 });
  const out = await decodePng(png);
  assert.deepEqual(new Uint8Array(out.data), image.data);
});

test('opacity 1 shows the heatmap alone', async () => {
  const png = await renderOverlayPng({ image: greyImage(16, 16, 200), map: hotTopLeft(), mapHeight: 8, mapWidth: 8, colormap: 'inferno', opacity: 1 });
  const out = await decodePng(png);
  const lut = colormapLut('inferno');
  assert.deepEqual(rgbAt(out, 0, 0), [lut[765], lut[766], lut[767]]);
  assert.deepEqual(rgbAt(out, 15, 15), [lut[0], lut[1], lut[2]]);
});

test('a constant map (nothing to show) overlays the colormap’s low end, not NaN garbage', async () => {
  const png = await renderOverlayPng({ image: greyImage(8, 8, 0), map: new Float32Array(4).fill(3), mapHeight: 2, mapWidth: 2, colormap: 'gray', opacity: 1 });
  const out = await decodePng(png);
  assert.ok(out.data.every((v) => v === 0));
});

test('renderMapPng colours the normalised map at its own size', async () => {
  const out = await decodePng(await renderMapPng(new Float32Array([10, 20, 30, 40]), 2, 2, 'gray'));
  assert.deepEqual([out.width, out.height], [2, 2]);
  // 0, 1/3, 2/3, 1 → matplotlib's bins floor(v × 256): 0, 85, 170, 255
  assert.deepEqual([out.data[0], out.data[3], out.data[6], out.data[9]], [0, 85, 170, 255]);
  const jet = await decodePng(await renderMapPng(new Float32Array([0, 1]), 1, 2, 'jet'));
  assert.deepEqual([...jet.data], [0, 0, 128, 128, 0, 0]);
});

test('mismatched sizes are rejected', () => {
  assert.throws(() => renderOverlayPng({ image: greyImage(4, 4, 0), map: new Float32Array(5), mapHeight: 2, mapWidth: 2, colormap: 'jet', opacity: 0.5 }), RangeError);
  assert.throws(() => renderOverlayPng({ image: { data: new Uint8Array(5), width: 4, height: 4 }, map: new Float32Array(4), mapHeight: 2, mapWidth: 2, colormap: 'jet', opacity: 0.5 }), RangeError);
  assert.throws(() => renderMapPng(new Float32Array(3), 2, 2, 'gray'), RangeError);
});

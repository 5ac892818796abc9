import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COLORMAPS, colormapLut, isColormapName, type ColormapName } from '../../../src/shared/colormaps';

function entry(name: ColormapName, i: number): [number, number, number] {
  const lut = colormapLut(name);
  return [lut[3 * i], lut[3 * i + 1], lut[3 * i + 2]];
}

function hex(h: string): [number, number, number] {
  return [0, 2, 4].map((o) => parseInt(h.slice(o, o + 2), 16)) as [number, number, number];
}

function assertNear(actual: number[], expected: number[], tolerance: number, what: string): void {
  const ok = actual.every((v, c) => Math.abs(v - expected[c]) <= tolerance);
  assert.ok(ok, `${what}: got (${actual.join(', ')}), expected (${expected.join(', ')}) ± ${tolerance}`);
}

test('every colormap is a 256 × RGB table', () => {
  for (const name of COLORMAPS) {
    const lut = colormapLut(name);
    assert.ok(lut instanceof Uint8Array);
    assert.equal(lut.length, 768, name);
  }
});

// Reference values: matplotlib's _viridis_data / _inferno_data rows × 255, rounded.
const MATPLOTLIB: Record<'viridis' | 'inferno', [number, string][]> = {
  viridis: [[0, '440154'], [1, '440256'], [50, '414287'], [101, '2a778e'], [127, '21908d'], [128, '21918c'], [203, '77d153'], [254, 'fbe723'], [255, 'fde725']],
  inferno: [[0, '000004'], [1, '010005'], [50, '400a67'], [101, '922568'], [127, 'ba3655'], [203, 'fca309'], [254, 'fafda1'], [255, 'fcffa4']],
};

for (const name of ['viridis', 'inferno'] as const) {
  test(`${name} matches matplotlib within 2/255, at the ends and between control points`, () => {
    for (const [i, h] of MATPLOTLIB[name]) assertNear(entry(name, i), hex(h), 2, `${name}[${i}]`);
  });
}

test('jet matches matplotlib (dark blue → cyan → yellow → dark red)', () => {
  assertNear(entry('jet', 0), [0, 0, 128], 1, 'jet[0]');
  assertNear(entry('jet', 255), [128, 0, 0], 1, 'jet[255]');
  // matplotlib: cm.jet(128) = (0.490, 1.0, 0.478)
  assertNear(entry('jet', 128), [125, 255, 122], 1, 'jet[128]');
  // cm.jet(0.2) = (0, 0.3, 1), cm.jet(0.8) = (1, 0.407, 0)
  assertNear(entry('jet', 51), [0, 77, 255], 1, 'jet[51]');
  assertNear(entry('jet', 204), [255, 104, 0], 1, 'jet[204]');
});

test('turbo follows Google’s polynomial approximation', () => {
  assertNear(entry('turbo', 0), [35, 23, 27], 1, 'turbo[0]');
  assertNear(entry('turbo', 128), [152, 250, 79], 1, 'turbo[128]');
  assertNear(entry('turbo', 255), [144, 13, 0], 1, 'turbo[255]');
});

test('gray is linear', () => {
  for (let i = 0; i < 256; i++) assert.deepEqual(entry('gray', i), [i, i, i]);
});

test('colormapLut returns a copy that callers may change', () => {
  const lut = colormapLut('viridis');
  lut.fill(0);
  assert.deepEqual(entry('viridis', 255), hex('fde725'));
});

test('names are validated', () => {
  assert.ok(isColormapName('turbo'));
  assert.ok(!isColormapName('rainbow'));
  assert.throws(() => colormapLut('rainbow' as ColormapName), /unknown colormap 'rainbow'/);
});

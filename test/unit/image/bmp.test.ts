import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBmp } from '../../../src/extension/image/bmp';

/** Writes a BMP with a 40-byte header (plus masks or palette) around the given rows. */
function bmp(opts: { width: number; height: number; bpp: number; rows: number[][]; palette?: number[][]; masks?: number[]; compression?: number }): Buffer {
  const { width, height, bpp, rows } = opts;
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  const extra = (opts.masks ? 12 : 0) + (opts.palette ? opts.palette.length * 4 : 0);
  const offset = 54 + extra;
  const buf = Buffer.alloc(offset + stride * Math.abs(height));
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(offset, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(bpp, 28);
  buf.writeUInt32LE(opts.compression ?? (opts.masks ? 3 : 0), 30);
  if (opts.palette) buf.writeUInt32LE(opts.palette.length, 46);
  let p = 54;
  for (const m of opts.masks ?? []) { buf.writeUInt32LE(m >>> 0, p); p += 4; }
  for (const [r, g, b] of opts.palette ?? []) { buf.set([b, g, r, 0], p); p += 4; }
  rows.forEach((row, i) => buf.set(row, offset + i * stride));
  return buf;
}

test('24-bit bottom-up rows come out top row first, as RGB', () => {
  // Stored bottom-up: the first row in the file is the bottom of the image.
  const img = decodeBmp(bmp({ width: 1, height: 2, bpp: 24, rows: [[255, 0, 0], [0, 0, 255]] }), 'a.bmp', 1e6);
  assert.deepEqual(Array.from(img.data), [255, 0, 0, 0, 0, 255]); // top: red (BGR 0,0,255); bottom: blue
});

test('8-bit palette, top-down', () => {
  const img = decodeBmp(bmp({ width: 3, height: -1, bpp: 8, rows: [[2, 0, 1]], palette: [[10, 20, 30], [40, 50, 60], [70, 80, 90]] }), 'p.bmp', 1e6);
  assert.equal(img.height, 1);
  assert.deepEqual(Array.from(img.data), [70, 80, 90, 10, 20, 30, 40, 50, 60]);
});

test('1-bit and 4-bit palettes', () => {
  const one = decodeBmp(bmp({ width: 10, height: 1, bpp: 1, rows: [[0b10100000, 0b01000000]], palette: [[0, 0, 0], [255, 255, 255]] }), 'b.bmp', 1e6);
  assert.deepEqual(Array.from({ length: 10 }, (_, i) => one.data[i * 3]), [255, 0, 255, 0, 0, 0, 0, 0, 0, 255]);
  const four = decodeBmp(bmp({ width: 3, height: 1, bpp: 4, rows: [[0x12, 0x00]], palette: [[0, 0, 0], [1, 1, 1], [2, 2, 2]] }), 'f.bmp', 1e6);
  assert.deepEqual([four.data[0], four.data[3], four.data[6]], [1, 2, 0]);
});

test('16-bit 5-5-5 and 32-bit bit fields', () => {
  const v555 = (31 << 10) | (0 << 5) | 31; // r = max, g = 0, b = max
  const s = decodeBmp(bmp({ width: 1, height: 1, bpp: 16, rows: [[v555 & 0xff, v555 >> 8]] }), 's.bmp', 1e6);
  assert.deepEqual(Array.from(s.data), [255, 0, 255]);
  // 32-bit with masks in an unusual order: R in the low byte.
  const px = [10, 20, 30, 255]; // bytes little-endian: 0x00ff1e140a → R=10, G=20, B=30
  const t = decodeBmp(bmp({ width: 1, height: 1, bpp: 32, rows: [px], masks: [0xff, 0xff00, 0xff0000] }), 't.bmp', 1e6);
  assert.deepEqual(Array.from(t.data), [10, 20, 30]);
});

test('RLE, truncated and oversized BMPs are refused with a reason', () => {
  assert.throws(() => decodeBmp(bmp({ width: 2, height: 2, bpp: 8, rows: [], palette: [[0, 0, 0]], compression: 1 }), 'r.bmp', 1e6), /r\.bmp: RLE-compressed/);
  const whole = bmp({ width: 4, height: 4, bpp: 24, rows: [] });
  assert.throws(() => decodeBmp(whole.subarray(0, 70), 'cut.bmp', 1e6), /cut\.bmp: it looks truncated/);
  assert.throws(() => decodeBmp(whole, 'big.bmp', 10), /big\.bmp: it is 4×4; images over/);
  assert.throws(() => decodeBmp(Buffer.from('BMxx'), 'tiny.bmp', 1e6), /tiny\.bmp: it is not a BMP file|truncated/);
});

import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { loadDisplayImage, loadModelInput } from '../../../src/extension/image/decode';
import { UserError } from '../../../src/shared/errors';

type RGB = [number, number, number];
const RED: RGB = [255, 0, 0];
const GREEN: RGB = [0, 255, 0];
const BLUE: RGB = [0, 0, 255];
const WHITE: RGB = [255, 255, 255];
const MB = 2 ** 20;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-lens-decode-test-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string): string => path.join(dir, name);

/** A raw RGBA pixel buffer from a colour function, as a sharp input. */
function painted(width: number, height: number, paint: (x: number, y: number) => RGB, alpha = 255): sharp.Sharp {
  const raw = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      raw.set([...paint(x, y), alpha], (y * width + x) * 4);
    }
  }
  return sharp(raw, { raw: { width, height, channels: 4 } });
}

/** Left half red, right half blue (opaque unless alpha is given). */
const twoColour = (width: number, height: number, alpha = 255): sharp.Sharp =>
  painted(width, height, (x) => (x < width / 2 ? RED : BLUE), alpha);

/** Like twoColour, with an 8×8 green mark in the top-left corner. */
const marked = (width: number, height: number, alpha = 255): sharp.Sharp =>
  painted(width, height, (x, y) => (x < 8 && y < 8 ? GREEN : x < width / 2 ? RED : BLUE), alpha);

function pixel(pixels: ArrayLike<number>, width: number, y: number, x: number, channels = 3): number[] {
  return Array.from({ length: channels }, (_, c) => Math.round(pixels[(y * width + x) * channels + c]));
}

function assertColour(actual: number[], expected: number[], tolerance: number, what: string): void {
  const ok = actual.every((v, c) => Math.abs(v - expected[c]) <= tolerance);
  assert.ok(ok, `${what}: got (${actual.join(', ')}), expected about (${expected.join(', ')})`);
}

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), `message should be one line: ${JSON.stringify(err.message)}`);
    return true;
  });
}

// --- Large images first, while this process' peak RSS is still its baseline. ---

/** Writes big images in a child process, so that encoding them does not count against the decode. */
const MAKE_BIG_IMAGES = `
const sharp = require('sharp');
const dir = process.env.BIG_IMAGE_DIR;
(async () => {
  // A 1000×1000 tile of quadrants (red, green / blue, white) with ±30 noise, so the encoders
  // see real entropy, upscaled without interpolation and streamed to disk.
  const n = 1000;
  const raw = Buffer.alloc(n * n * 3);
  const colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
  let seed = 1;
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const c = colours[(y < n / 2 ? 0 : 2) + (x < n / 2 ? 0 : 1)];
      for (let k = 0; k < 3; k++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        raw[(y * n + x) * 3 + k] = Math.max(0, Math.min(255, c[k] + ((seed >> 16) % 61) - 30));
      }
    }
  }
  const big = (side) => sharp(raw, { raw: { width: n, height: n, channels: 3 } }).resize(side, side, { kernel: 'nearest' });
  await big(10000).jpeg({ quality: 90, optimiseCoding: false }).toFile(dir + '/big.jpg');
  await big(10000).png({ compressionLevel: 1 }).toFile(dir + '/big.png');
  await big(20000).png({ compressionLevel: 1 }).toFile(dir + '/huge.png');
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe('large images decode without holding the full-resolution pixels', () => {
  before(() => {
    const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
    const r = spawnSync(process.execPath, ['-e', MAKE_BIG_IMAGES], { cwd: repoRoot, env: { ...process.env, BIG_IMAGE_DIR: dir }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  const cases: [string, string][] = [
    ['big.jpg', '10000×10000 JPEG'],
    ['big.png', '10000×10000 PNG'],
    ['huge.png', '20000×20000 PNG (over sharp’s default pixel limit)'],
  ];
  for (const [name, label] of cases) {
    test(`${label} → 64×64 with RSS growth < 400 MB`, async (t: TestContext) => {
      const rss0 = process.memoryUsage().rss;
      const start = performance.now();
      const input = await loadModelInput(file(name), { height: 64, width: 64, channels: 3 });
      const ms = performance.now() - start;
      const rssGrowth = process.memoryUsage().rss - rss0;
      // maxRSS is the process' peak so far: an upper bound on the peak during the decode.
      const peakGrowth = process.resourceUsage().maxRSS * 1024 - rss0;
      t.diagnostic(`${label}: ${ms.toFixed(0)} ms, RSS growth ${(rssGrowth / MB).toFixed(0)} MB, peak RSS ${((process.resourceUsage().maxRSS * 1024) / MB).toFixed(0)} MB (+${(peakGrowth / MB).toFixed(0)} MB)`);

      assert.equal(input.pixels.length, 64 * 64 * 3);
      const side = name === 'huge.png' ? 20000 : 10000;
      assert.deepEqual(input.original, { width: side, height: side, format: name.endsWith('.jpg') ? 'jpeg' : 'png' });
      // The noise averages out, less what clipping at 0 and 255 removed (about 7.5).
      assertColour(pixel(input.pixels, 64, 16, 16), RED, 15, 'top-left quadrant');
      assertColour(pixel(input.pixels, 64, 16, 48), GREEN, 15, 'top-right quadrant');
      assertColour(pixel(input.pixels, 64, 48, 16), BLUE, 15, 'bottom-left quadrant');
      assertColour(pixel(input.pixels, 64, 48, 48), WHITE, 15, 'bottom-right quadrant');
      assert.ok(rssGrowth < 400 * MB, `RSS grew by ${(rssGrowth / MB).toFixed(0)} MB`);
      assert.ok(peakGrowth < 400 * MB, `peak RSS grew by ${(peakGrowth / MB).toFixed(0)} MB`);
    });
  }

  test('the display copy of a 10000×10000 image is downscaled while decoding', async () => {
    const display = await loadDisplayImage(file('big.jpg'), 512);
    assert.equal(display.width, 512);
    assert.equal(display.height, 512);
    assert.equal(display.data.length, 512 * 512 * 3);
    assertColour(pixel(display.data, 512, 400, 400), WHITE, 15, 'bottom-right quadrant');
  });
});

/** A PNG made of just a header: it claims a size without holding any pixels. */
function pngHeaderOnly(width: number, height: number, interlaced: boolean): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf: Buffer): number => (buf.reduce((crc, b) => crcTable[(crc ^ b) & 0xff] ^ (crc >>> 8), 0xffffffff) ^ 0xffffffff) >>> 0;
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  ihdr[12] = interlaced ? 1 : 0;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(0))), chunk('IEND', Buffer.alloc(0))]);
}

test('absurd sizes are refused from the header, with the size in the message', async () => {
  fs.writeFileSync(file('bomb.png'), pngHeaderOnly(40000, 40000, false));
  await rejects(loadModelInput(file('bomb.png'), { height: 8, width: 8, channels: 3 }), /40000×40000 \(1600 megapixels\).*refused/);
  // Interlaced PNGs are decoded whole: 20000×20000 RGB would need over 1 GB.
  fs.writeFileSync(file('interlaced.png'), pngHeaderOnly(20000, 20000, true));
  await rejects(loadDisplayImage(file('interlaced.png'), 256), /20000×20000.*interlaced PNG needs about 1144 MB/);
  // So are progressive JPEGs: a small one whose frame header (SOF2) is patched to claim 30000×30000.
  const jpeg = await twoColour(16, 16).jpeg({ progressive: true }).toBuffer();
  const sof2 = jpeg.indexOf(Buffer.from([0xff, 0xc2]));
  assert.ok(sof2 > 0);
  jpeg.writeUInt16BE(30000, sof2 + 5);
  jpeg.writeUInt16BE(30000, sof2 + 7);
  fs.writeFileSync(file('progressive.jpg'), jpeg);
  await rejects(loadModelInput(file('progressive.jpg'), { height: 8, width: 8, channels: 3 }), /30000×30000 \(900 megapixels\).*progressive JPEG needs about 2575 MB/);
});

// --- Colours, orientation, alpha. ---

test('a two-colour image decodes with red on the left and blue on the right', async () => {
  await twoColour(64, 32).png().toFile(file('two.png'));
  const { pixels, original } = await loadModelInput(file('two.png'), { height: 16, width: 16, channels: 3 });
  assert.deepEqual(original, { width: 64, height: 32, format: 'png' });
  assert.equal(pixels.length, 16 * 16 * 3);
  assert.ok(pixels instanceof Float32Array);
  for (let y = 0; y < 16; y++) {
    assert.deepEqual(pixel(pixels, 16, y, 2), RED);
    assert.deepEqual(pixel(pixels, 16, y, 13), BLUE);
  }
});

test('one channel gives ITU-R 601 luma, as PIL’s convert("L")', async () => {
  await twoColour(64, 32).png().toFile(file('two-luma.png'));
  const { pixels } = await loadModelInput(file('two-luma.png'), { height: 8, width: 8, channels: 1 });
  assert.equal(pixels.length, 64);
  assert.ok(Math.abs(pixels[0] - 0.299 * 255) < 1e-3, `red → ${pixels[0]}`);
  assert.ok(Math.abs(pixels[7] - 0.114 * 255) < 1e-3, `blue → ${pixels[7]}`);
});

test('EXIF orientation 6 is applied: the marked top-left corner ends top-right', async () => {
  // 40×20 landscape, stored with "rotate 90° clockwise to display".
  await marked(40, 20).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(file('o6.jpg'));
  const { pixels, original } = await loadModelInput(file('o6.jpg'), { height: 40, width: 20, channels: 3 });
  assert.deepEqual(original, { width: 20, height: 40, format: 'jpeg' });
  assertColour(pixel(pixels, 20, 3, 16), GREEN, 40, 'mark (top-right)');
  assertColour(pixel(pixels, 20, 3, 3), RED, 40, 'top-left');
  assertColour(pixel(pixels, 20, 12, 10), RED, 40, 'top half');
  assertColour(pixel(pixels, 20, 30, 10), BLUE, 40, 'bottom half');
  const display = await loadDisplayImage(file('o6.jpg'), 1000);
  assert.deepEqual([display.width, display.height], [20, 40]);
});

test('an RGBA PNG with alpha 0 keeps its RGB and has 3 channels', async () => {
  await twoColour(32, 16, 0).png().toFile(file('transparent.png'));
  const meta = await sharp(file('transparent.png')).metadata();
  assert.equal(meta.channels, 4);
  const { pixels } = await loadModelInput(file('transparent.png'), { height: 4, width: 4, channels: 3 });
  assert.equal(pixels.length, 4 * 4 * 3);
  assert.deepEqual(pixel(pixels, 4, 1, 0), RED);
  assert.deepEqual(pixel(pixels, 4, 1, 3), BLUE);
  const display = await loadDisplayImage(file('transparent.png'), 8);
  assert.deepEqual([display.width, display.height, display.data.length], [8, 4, 8 * 4 * 3]);
  assert.deepEqual(pixel(display.data, 8, 2, 0), RED);
});

test('alpha and EXIF orientation together: the mark still lands top-right', async () => {
  await marked(40, 20, 128).png().withMetadata({ orientation: 6 }).toFile(file('o6-alpha.png'));
  const { pixels, original } = await loadModelInput(file('o6-alpha.png'), { height: 40, width: 20, channels: 3 });
  assert.deepEqual(original, { width: 20, height: 40, format: 'png' });
  assert.deepEqual(pixel(pixels, 20, 3, 16), GREEN);
  assert.deepEqual(pixel(pixels, 20, 30, 10), BLUE);
});

// --- Formats and pixel types. ---

const FORMATS: [string, (s: sharp.Sharp) => sharp.Sharp, number][] = [
  ['png', (s) => s.png(), 0],
  ['jpeg', (s) => s.jpeg({ quality: 90 }), 30],
  ['webp', (s) => s.webp({ quality: 90 }), 30],
  ['gif', (s) => s.gif(), 0],
  ['tiff', (s) => s.tiff({ compression: 'lzw' }), 0],
  ['avif', (s) => s.avif({ quality: 80 }), 40],
];

for (const [format, encode, tolerance] of FORMATS) {
  test(`${format} round-trips: size, format and colour`, async () => {
    const name = file(`two.${format}`);
    await encode(twoColour(48, 32)).toFile(name);
    const { pixels, original } = await loadModelInput(name, { height: 16, width: 24, channels: 3 });
    assert.deepEqual(original, { width: 48, height: 32, format });
    assert.equal(pixels.length, 16 * 24 * 3);
    assertColour(pixel(pixels, 24, 8, 4), RED, tolerance, 'left');
    assertColour(pixel(pixels, 24, 8, 19), BLUE, tolerance, 'right');
    const display = await loadDisplayImage(name, 24);
    assert.deepEqual([display.width, display.height], [24, 16]);
  });
}

test('16-bit, palette, grayscale and CMYK inputs become 8-bit sRGB', async () => {
  // Pure sRGB red and blue lie outside the CMYK gamut: through libvips' default CMYK profile
  // and back they come out as a slightly darker red and a much darker blue.
  const cmykRed: RGB = [232, 0, 22];
  const cmykBlue: RGB = [28, 60, 140];
  const cases: [string, sharp.Sharp, (m: sharp.Metadata) => boolean, RGB, RGB, number][] = [
    ['rgb16.png', twoColour(32, 16).toColourspace('rgb16').png(), (m) => m.depth === 'ushort', RED, BLUE, 0],
    ['palette.png', twoColour(32, 16).png({ palette: true }), (m) => m.isPalette === true, RED, BLUE, 0],
    ['cmyk.jpg', twoColour(32, 16).toColourspace('cmyk').jpeg({ quality: 95 }), (m) => m.space === 'cmyk', cmykRed, cmykBlue, 20],
  ];
  for (const [name, image, isKind, left, right, tolerance] of cases) {
    await image.toFile(file(name));
    assert.ok(isKind(await sharp(file(name)).metadata()), `${name} was not written as intended`);
    const { pixels } = await loadModelInput(file(name), { height: 4, width: 8, channels: 3 });
    assertColour(pixel(pixels, 8, 2, 1), left, tolerance, `${name} left`);
    assertColour(pixel(pixels, 8, 2, 6), right, tolerance, `${name} right`);
  }
  await painted(16, 16, () => [90, 90, 90]).removeAlpha().toColourspace('b-w').png().toFile(file('grey.png'));
  assert.equal((await sharp(file('grey.png')).metadata()).channels, 1);
  const grey = await loadModelInput(file('grey.png'), { height: 2, width: 2, channels: 3 });
  assert.deepEqual(pixel(grey.pixels, 2, 1, 1), [90, 90, 90]);
});

test('an animated GIF gives its first frame', async () => {
  const frame = (colour: RGB): Promise<Buffer> => painted(20, 10, () => colour).png().toBuffer();
  await sharp([await frame(RED), await frame(BLUE)], { join: { animated: true } }).gif().toFile(file('anim.gif'));
  const { pixels, original } = await loadModelInput(file('anim.gif'), { height: 2, width: 2, channels: 3 });
  assert.deepEqual(original, { width: 20, height: 10, format: 'gif' });
  assert.deepEqual(pixel(pixels, 2, 1, 1), RED);
});

test('display images keep their aspect ratio and are never enlarged', async () => {
  await twoColour(300, 100).png().toFile(file('wide.png'));
  const small = await loadDisplayImage(file('wide.png'), 150);
  assert.deepEqual([small.width, small.height, small.data.length], [150, 50, 150 * 50 * 3]);
  const same = await loadDisplayImage(file('wide.png'), 1024);
  assert.deepEqual([same.width, same.height], [300, 100]);
});

// --- Bad input. ---

test('a missing file, a folder and an empty file are UserErrors', async () => {
  await rejects(loadModelInput(file('nope.png'), { height: 8, width: 8, channels: 3 }), /image not found: .*nope\.png/);
  await rejects(loadModelInput(dir, { height: 8, width: 8, channels: 3 }), /is not a file/);
  fs.writeFileSync(file('empty.jpg'), '');
  await rejects(loadDisplayImage(file('empty.jpg'), 64), /empty\.jpg: it is an empty file/);
});

test('a text file named .png is a UserError naming the supported formats', async () => {
  fs.writeFileSync(file('notes.png'), 'these are not pixels\n');
  await rejects(loadModelInput(file('notes.png'), { height: 8, width: 8, channels: 3 }), /notes\.png: it is not an image in a supported format; supported formats are PNG, JPEG, WebP, GIF, TIFF, AVIF and BMP/);
});

test('truncated and corrupt files are UserErrors, not grey half-images', async () => {
  const jpeg = await painted(64, 64, (x, y) => [(x * 4) & 255, (y * 4) & 255, 128]).jpeg().toBuffer();
  fs.writeFileSync(file('truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
  await rejects(loadModelInput(file('truncated.jpg'), { height: 8, width: 8, channels: 3 }), /truncated\.jpg: it looks truncated or corrupt \(.*premature end/i);

  const png = await painted(64, 64, (x, y) => [(x * 4) & 255, (y * 4) & 255, 128]).png().toBuffer();
  fs.writeFileSync(file('truncated.png'), png.subarray(0, Math.floor(png.length * 0.6)));
  await rejects(loadModelInput(file('truncated.png'), { height: 8, width: 8, channels: 3 }), /truncated\.png: it looks truncated or corrupt/);

  const badHeader = Buffer.from(jpeg);
  badHeader.fill(0x55, 20, 200); // overwrite the quantisation and Huffman tables
  fs.writeFileSync(file('bad-header.jpg'), badHeader);
  await rejects(loadDisplayImage(file('bad-header.jpg'), 64), /bad-header\.jpg: .*corrupt/i);
});

test('a BMP decodes through the project\'s own BMP reader', async () => {
  // A valid 2×1 24-bit BMP.
  const bmp = Buffer.alloc(62);
  bmp.write('BM', 0, 'latin1');
  bmp.writeUInt32LE(62, 2);
  bmp.writeUInt32LE(54, 10);
  bmp.writeUInt32LE(40, 14);
  bmp.writeInt32LE(2, 18);
  bmp.writeInt32LE(1, 22);
  bmp.writeUInt16LE(1, 26);
  bmp.writeUInt16LE(24, 28);
  bmp.writeUInt32LE(8, 34);
  bmp.set([0, 0, 255, 255, 0, 0], 54); // BGR: red, blue
  fs.writeFileSync(file('pic.bmp'), bmp);
  const { pixels, original } = await loadModelInput(file('pic.bmp'), { height: 1, width: 2, channels: 3 });
  assert.deepEqual(original, { width: 2, height: 1, format: 'bmp' });
  assert.deepEqual(Array.from(pixels), [255, 0, 0, 0, 0, 255]);
  fs.writeFileSync(file('short.bmp'), bmp.subarray(0, 56));
  await rejects(loadModelInput(file('short.bmp'), { height: 8, width: 8, channels: 3 }), /short\.bmp: it looks truncated/);
});

test('an invalid model input size is rejected', async () => {
  await twoColour(8, 8).png().toFile(file('tiny.png'));
  await rejects(loadModelInput(file('tiny.png'), { height: 0, width: 8, channels: 3 }), /invalid model input size/);
});

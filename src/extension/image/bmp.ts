/**
 * A BMP decoder: the libvips inside sharp cannot read BMP. Handles the common kinds — 1/4/8-bit
 * palettes, 16-bit (5-5-5 or bit fields), 24-bit and 32-bit (plain or bit fields), bottom-up or
 * top-down rows, Windows and OS/2 headers. RLE compression is refused with a clear message.
 */
import { UserError } from '../../shared/errors';

export interface RawRgb {
  data: Uint8Array;
  width: number;
  height: number;
}

export function isBmp(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x42 && head[1] === 0x4d;
}

function maskShift(mask: number): [number, number] {
  if (mask === 0) return [0, 0];
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (((mask >>> (shift + bits)) & 1) === 1) bits++;
  return [shift, bits];
}

/**
 * Decodes a BMP; a file that is not one, or is cut short or damaged anywhere, is a UserError
 * naming `name` (never a RangeError from reading past its end).
 */
export function decodeBmp(buf: Buffer, name: string, maxPixels: number): RawRgb {
  try {
    return decode(buf, name, maxPixels);
  } catch (err) {
    if (err instanceof RangeError) throw new UserError(`cannot decode ${name}: it looks truncated or corrupt (its headers point past its end)`);
    throw err;
  }
}

/** The bit depths BMPs use (2-bit: Windows CE). */
const DEPTHS = [1, 2, 4, 8, 16, 24, 32];

function decode(buf: Buffer, name: string, maxPixels: number): RawRgb {
  const fail = (why: string) => new UserError(`cannot decode ${name}: ${why}`);
  if (buf.length < 26 || !isBmp(buf)) throw fail('it is not a BMP file');
  const dataOffset = buf.readUInt32LE(10);
  const headerSize = buf.readUInt32LE(14);
  const core = headerSize === 12;
  if (!core && buf.length < 54) throw fail('its header is truncated');
  const width = core ? buf.readUInt16LE(18) : buf.readInt32LE(18);
  const rawHeight = core ? buf.readInt16LE(20) : buf.readInt32LE(22);
  const bpp = core ? buf.readUInt16LE(24) : buf.readUInt16LE(28);
  const compression = core ? 0 : buf.readUInt32LE(30);
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0) throw fail(`its size ${width}×${height} is invalid`);
  if (width * height > maxPixels) throw fail(`it is ${width}×${height}; images over ${maxPixels / 1e6} megapixels are refused`);
  if (compression === 1 || compression === 2) throw fail('RLE-compressed BMPs are not supported; save it as PNG');
  if (compression !== 0 && compression !== 3 && compression !== 6) throw fail(`BMP compression ${compression} is not supported`);
  if (!DEPTHS.includes(bpp)) throw fail(`${bpp}-bit BMPs are not supported`);
  if (dataOffset < 14 + headerSize || dataOffset > buf.length) throw fail(`its pixel data offset ${dataOffset} is outside the file`);

  // Channel masks for 16/32-bit images.
  let masks: [number, number, number] = bpp === 16 ? [0x7c00, 0x03e0, 0x001f] : [0xff0000, 0xff00, 0xff];
  if (compression === 3 || compression === 6) {
    const at = 14 + 40; // after a 40-byte header the masks follow it; larger headers hold them here too
    if (buf.length < at + 12) throw fail('its header is truncated');
    masks = [buf.readUInt32LE(at), buf.readUInt32LE(at + 4), buf.readUInt32LE(at + 8)];
  }
  const palette: number[][] = [];
  if (bpp <= 8) {
    const entry = core ? 3 : 4;
    const used = core ? 0 : buf.readUInt32LE(46);
    const count = used > 0 ? used : 1 << bpp;
    const start = 14 + headerSize + (compression === 3 && headerSize === 40 ? 12 : 0);
    for (let i = 0; i < count && start + i * entry + 2 < buf.length; i++) {
      const p = start + i * entry;
      palette.push([buf[p + 2], buf[p + 1], buf[p]]);
    }
  } else if (bpp !== 16 && bpp !== 24 && bpp !== 32) {
    throw fail(`${bpp}-bit BMPs are not supported`);
  }
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * height > buf.length) throw fail('it looks truncated (its pixel data is shorter than its header says)');

  const shifts = masks.map(maskShift);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (bpp <= 8) {
        const bitPos = x * bpp;
        const byte = buf[row + (bitPos >> 3)];
        const index = (byte >> (8 - bpp - (bitPos & 7))) & ((1 << bpp) - 1);
        const c = palette[index] ?? [0, 0, 0];
        out[o] = c[0];
        out[o + 1] = c[1];
        out[o + 2] = c[2];
      } else if (bpp === 24) {
        const p = row + x * 3;
        out[o] = buf[p + 2];
        out[o + 1] = buf[p + 1];
        out[o + 2] = buf[p];
      } else {
        const v = bpp === 16 ? buf.readUInt16LE(row + x * 2) : buf.readUInt32LE(row + x * 4);
        for (let c = 0; c < 3; c++) {
          const [shift, bits] = shifts[c];
          const max = bits > 0 ? 2 ** bits - 1 : 1;
          out[o + c] = bits > 0 ? Math.round((((v & masks[c]) >>> shift) / max) * 255) : 0;
        }
      }
    }
  }
  return { data: out, width, height };
}

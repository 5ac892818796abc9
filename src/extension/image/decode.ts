/**
 * Image decoding with sharp (libvips): model inputs at a fixed size and downscaled copies for
 * display. Images of any size are resized while they are decoded (JPEG/WebP shrink-on-load,
 * sequential reads), so the full-resolution pixels never reach JS.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { UserError } from '../../shared/errors';
import { fsErrorParts, fsErrorReason } from '../util/fs-errors';
import { decodeBmp, isBmp } from './bmp';

export const SUPPORTED_IMAGE_FORMATS = ['png', 'jpeg', 'webp', 'gif', 'tiff', 'avif', 'bmp'] as const;
export type ImageFormat = (typeof SUPPORTED_IMAGE_FORMATS)[number];

export interface ModelInputSize {
  height: number;
  width: number;
  channels: 1 | 3;
}

export interface ModelInput {
  /** height × width × channels values in 0..255, HWC order, RGB or luminance. */
  pixels: Float32Array;
  /** The file's image as displayed (after EXIF orientation). */
  original: { width: number; height: number; format: ImageFormat };
}

export interface DisplayImage {
  /** width × height × 3 bytes, RGB, HWC order. */
  data: Uint8Array;
  width: number;
  height: number;
}

/** Larger images are refused outright: decompression bombs, or hours of decoding. */
const MAX_PIXELS = 1_000_000_000;
/** Decoders that cannot stream rows may use this much memory; larger images are refused. */
const MAX_DECODER_BYTES = 1024 * 1024 * 1024;

const FORMAT_NAMES = 'PNG, JPEG, WebP, GIF, TIFF, AVIF and BMP';
/** BMPs are read whole (libvips cannot stream them): a tighter limit. */
const MAX_BMP_PIXELS = 120_000_000;

// libvips' operation cache would otherwise keep recently decoded files open, which on Windows
// locks the user's images (and our temporary files) against renaming and deletion.
sharp.cache({ files: 0 });

const INPUT_OPTIONS: sharp.SharpOptions = {
  // 'error' rejects truncated files and broken headers (no grey half-images). The default,
  // 'warning', would also reject the harmless libjpeg warnings that many camera JPEGs trigger;
  // like PIL, damaged blocks inside otherwise intact JPEG data are then decoded as they are.
  failOn: 'error',
  sequentialRead: true,
  limitInputPixels: MAX_PIXELS,
};

interface Source {
  /** The file the pipelines read (for a BMP, a temporary PNG). */
  file: string;
  /** The user's file, as named in messages. */
  name: string;
  format: ImageFormat;
  meta: sharp.Metadata;
  /** Removes temporary files made to read the image (BMPs are converted to PNG first). */
  cleanup?: () => void;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function formatOf(meta: sharp.Metadata): ImageFormat | undefined {
  if (meta.format === 'heif') return meta.compression === 'av1' ? 'avif' : undefined;
  if (meta.format === 'jpeg' || meta.format === 'png' || meta.format === 'webp' || meta.format === 'gif' || meta.format === 'tiff') {
    return meta.format;
  }
  return undefined;
}

/** Names formats that libvips reports or that the file's first bytes reveal, for error messages. */
function describeUnsupported(file: string, meta?: sharp.Metadata): string {
  if (meta?.format === 'heif') return `a HEIF image compressed with ${meta.compression ?? 'an unknown codec'} (only AV1, i.e. AVIF, can be decoded)`;
  if (meta?.format) return `an image in ${meta.format.toUpperCase()} format`;
  const head = Buffer.alloc(12);
  let n: number;
  try {
    const fd = fs.openSync(file, 'r');
    n = fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
  } catch {
    return 'not readable';
  }
  if (n === 0) return 'an empty file';
  if (head.subarray(4, 8).toString('latin1') === 'ftyp') return 'an ISO media file (HEIC or video?) that cannot be decoded';
  return 'not an image in a supported format';
}

/** Bytes per pixel held by decoders that must decode the whole image before handing out rows. */
function bufferedBytesPerPixel(format: ImageFormat, meta: sharp.Metadata): [number, string] {
  const channels = meta.channels ?? 3;
  switch (format) {
    case 'jpeg': {
      // libjpeg keeps every 16-bit DCT coefficient of a progressive JPEG; chroma planes are
      // smaller when subsampled (measured: 3 bytes per pixel for 4:2:0).
      if (!meta.isProgressive) return [0, ''];
      const chroma = meta.chromaSubsampling?.startsWith('4:2:0') ? 0.25 : meta.chromaSubsampling?.startsWith('4:2:2') ? 0.5 : 1;
      return [2 * (1 + (channels - 1) * chroma), 'progressive JPEG'];
    }
    case 'png': // Adam7-interlaced PNGs are decoded whole
      return meta.isProgressive ? [channels * ((meta.bitsPerSample ?? 8) > 8 ? 2 : 1), 'interlaced PNG'] : [0, ''];
    case 'gif': // measured: about 4.6 bytes per pixel for the first frame
      return [5, 'GIF'];
    case 'avif': // measured: about 18 bytes per pixel inside libheif/libaom
      return [20, 'AVIF'];
    default: // webp and tiff stream rows
      return [0, ''];
  }
}

function checkDecodable(file: string, format: ImageFormat, meta: sharp.Metadata): void {
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const pixels = width * height;
  const size = `${width}×${height} (${Math.round(pixels / 1e6)} megapixels)`;
  if (pixels > MAX_PIXELS) {
    throw new UserError(`${file} is ${size}; images over ${MAX_PIXELS / 1e6} megapixels are refused (downscale it first)`);
  }
  const [bytesPerPixel, kind] = bufferedBytesPerPixel(format, meta);
  if (bytesPerPixel * pixels > MAX_DECODER_BYTES) {
    const needMb = Math.round((bytesPerPixel * pixels) / 2 ** 20);
    throw new UserError(
      `${file} is ${size}; decoding this ${kind} needs about ${needMb} MB of memory (the limit is ${MAX_DECODER_BYTES / 2 ** 20} MB): ` +
        'downscale it, or save it as baseline JPEG, non-interlaced PNG or TIFF',
    );
  }
}

/** Checks that `file` is an image we can decode, reading only its header. */
async function openSource(file: string): Promise<Source> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = fsErrorParts(err)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UserError(`image not found: ${file}`);
    throw new UserError(`cannot read ${file}: ${fsErrorReason(err)}`);
  }
  if (!stat.isFile()) throw new UserError(`${file} is not a file`);
  if (startsLikeBmp(file)) return openBmp(file, stat.size);
  let meta: sharp.Metadata;
  try {
    // Only the header is read here; without a pixel limit, checkDecodable can say why it refuses.
    meta = await sharp(file, { ...INPUT_OPTIONS, limitInputPixels: false }).metadata();
  } catch (err) {
    const message = oneLine((err as Error).message);
    if (/unsupported image format/i.test(message)) {
      throw new UserError(`cannot read ${file}: it is ${describeUnsupported(file)}; supported formats are ${FORMAT_NAMES}`);
    }
    throw new UserError(`cannot read ${file}: ${message}`);
  }
  const format = formatOf(meta);
  if (format === undefined) {
    throw new UserError(`cannot read ${file}: it is ${describeUnsupported(file, meta)}; supported formats are ${FORMAT_NAMES}`);
  }
  checkDecodable(file, format, meta);
  return { file, name: file, format, meta };
}

/** Whether the file starts like a BMP; a file that cannot be read is a UserError saying why ("permission denied"). */
function startsLikeBmp(file: string): boolean {
  const head = Buffer.alloc(2);
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    return fs.readSync(fd, head, 0, 2, 0) === 2 && isBmp(head);
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${fsErrorReason(err)}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** A BMP holds at most 4 bytes per pixel after its headers and palette (which are small). */
const MAX_BMP_BYTES = 4 * MAX_BMP_PIXELS + 2 ** 20;

/** Decodes a BMP with our own decoder into a temporary PNG that the sharp pipelines then read. */
async function openBmp(file: string, size: number): Promise<Source> {
  if (size > MAX_BMP_BYTES) throw new UserError(`${file} is a BMP of ${Math.round(size / 2 ** 20)} MB; BMPs over ${MAX_BMP_PIXELS / 1e6} megapixels are refused (save it as PNG or JPEG)`);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${fsErrorReason(err)}`);
  }
  const raw = decodeBmp(bytes, file, MAX_BMP_PIXELS);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-lens-bmp-'));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const png = path.join(dir, 'image.png');
    await sharp(Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength), { raw: { width: raw.width, height: raw.height, channels: 3 } })
      .png({ compressionLevel: 1 })
      .toFile(png);
    return { file: png, name: file, format: 'bmp', meta: await sharp(png).metadata(), cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/**
 * Runs `decode` on a copy of the image without its alpha channel. sharp premultiplies alpha
 * before resizing, which would turn fully transparent pixels black, whereas PIL's convert('RGB')
 * keeps their colour; so alpha is dropped first, streamed into a temporary PNG. The EXIF
 * orientation travels with it (rotating here would need the whole image in memory).
 */
async function withoutAlpha<T>(source: Source, decode: (file: string) => Promise<T>): Promise<T> {
  if (!source.meta.hasAlpha) return decode(source.file);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-lens-image-'));
  try {
    const opaque = path.join(dir, 'opaque.png');
    await sharp(source.file, INPUT_OPTIONS).removeAlpha().keepExif().png({ compressionLevel: 1 }).toFile(opaque);
    return await decode(opaque);
  } finally {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort: a leftover file in the temp folder must not turn a decoded image into an error.
    }
  }
}

/** Runs the sharp part of a decode, reporting libvips failures (truncated data…) as UserErrors. */
async function decodeWith<T>(source: Source, decode: (file: string) => Promise<T>): Promise<T> {
  try {
    return await withoutAlpha(source, decode);
  } catch (err) {
    // System errors (a full or unwritable temp folder) carry a code; libvips errors do not.
    if (err instanceof UserError || typeof (err as NodeJS.ErrnoException).code === 'string') throw err;
    throw new UserError(`cannot decode ${source.name}: it looks truncated or corrupt (${oneLine((err as Error).message)})`);
  } finally {
    source.cleanup?.();
  }
}

/** Pipeline start: the first frame/page, oriented per EXIF; later steps make it 8-bit sRGB. */
function pipeline(file: string): sharp.Sharp {
  return sharp(file, INPUT_OPTIONS).autoOrient();
}

function orientedSize(meta: sharp.Metadata): { width: number; height: number } {
  return { width: meta.autoOrient?.width ?? meta.width ?? 0, height: meta.autoOrient?.height ?? meta.height ?? 0 };
}

/** ITU-R 601-2 luma from 8-bit RGB, as PIL's convert('L') (and so Keras' grayscale loading) computes it. */
function luma(rgb: Uint8Array): Float32Array {
  const out = new Float32Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
  return out;
}

/**
 * Decodes an image as a model input: stretched to exactly height × width (Keras and
 * pytorch-grad-cam resize without keeping the aspect ratio), EXIF orientation applied, alpha
 * dropped, 16-bit, palette, grayscale and CMYK images converted to 8-bit sRGB. Values are 0..255;
 * preprocessing presets (scaling, mean/std) are applied elsewhere.
 */
export async function loadModelInput(file: string, size: ModelInputSize): Promise<ModelInput> {
  const { height, width, channels } = size;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1 || (channels !== 1 && channels !== 3)) {
    throw new UserError(`invalid model input size ${height}×${width}×${channels}`);
  }
  const source = await openSource(file);
  const rgb = await decodeWith(source, (f) =>
    pipeline(f)
      // A triangle filter whose support grows with the reduction, like PIL's BILINEAR resize
      // (torchvision's Resize, Keras' load_img with interpolation='bilinear'): no aliasing.
      .resize({ width, height, fit: 'fill', kernel: 'linear' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer(),
  );
  if (rgb.length !== height * width * 3) throw new Error(`sharp returned ${rgb.length} bytes for ${height}×${width}×3`);
  const pixels = channels === 3 ? Float32Array.from(rgb) : luma(rgb);
  return { pixels, original: { ...orientedSize(source.meta), format: source.format } };
}

/**
 * Decodes an image for display: oriented, alpha dropped, 8-bit sRGB, downscaled so that its
 * longer side is at most maxSide (never enlarged).
 */
export async function loadDisplayImage(file: string, maxSide: number): Promise<DisplayImage> {
  if (!Number.isInteger(maxSide) || maxSide < 1) throw new UserError(`invalid display size ${maxSide}`);
  const source = await openSource(file);
  const { data, info } = await decodeWith(source, (f) =>
    pipeline(f)
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }),
  );
  if (info.channels !== 3) throw new Error(`sharp returned ${info.channels} channels, expected 3`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/**
 * Reads the members of a Keras 3 `.keras` archive (a zip of `config.json`, `metadata.json` and
 * `model.weights.h5`, usually stored uncompressed) with fflate: pure JavaScript, no native code or
 * streams, synchronous over a Buffer, and it inflates only the members asked for. (yauzl, the
 * other maintained choice, reads through callbacks and file descriptors: more machinery for a file
 * we read whole anyway.)
 *
 * fflate does not check CRCs, and a zip whose end is missing only says "invalid zip data", so the
 * end-of-archive record and the central directory are looked at here first: a file that stops
 * before its end record is truncated (a save still being written), and a member whose bytes do not
 * match the CRC-32 the archive records for it is damaged.
 */
import { unzipSync } from 'fflate';

/** The zip local-file-header signature `PK\x03\x04`. */
export const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

const EOCD_SIG = 0x06054b50;
const CENTRAL_SIG = 0x02014b50;
const EOCD_SIZE = 22;
/** The largest member read (the 2 GiB a model file may have). */
const MAX_MEMBER_BYTES = 2 ** 31 - 1;

export class ArchiveError extends Error {
  constructor(
    message: string,
    /** What is wrong with the archive: not a zip at all, cut short, or damaged. */
    readonly kind: 'not-zip' | 'truncated' | 'damaged',
  ) {
    super(message);
  }
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, as zip records it). */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const table = crcTable;
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * The CRC-32 the central directory records for each member, by name; undefined for a zip64
 * archive (its directory is located through another record; fflate reads it as it is).
 */
function recordedCrcs(bytes: Uint8Array): Map<string, number> | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end-of-archive record is the last thing a zip writer writes; only a comment may follow it.
  let eocd = -1;
  for (let i = bytes.length - 4; i >= Math.max(0, bytes.length - EOCD_SIZE - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0 || eocd + EOCD_SIZE > bytes.length) {
    throw new ArchiveError(`it has ${bytes.length} bytes and stops before the zip end-of-archive record`, 'truncated');
  }
  const entries = view.getUint16(eocd + 10, true);
  const cdSize = view.getUint32(eocd + 12, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) return undefined;
  if (cdOffset + cdSize > eocd) throw new ArchiveError('its zip central directory lies outside the archive', 'damaged');
  const crcs = new Map<string, number>();
  const decoder = new TextDecoder();
  let p = cdOffset;
  for (let e = 0; e < entries; e++) {
    if (p + 46 > eocd || view.getUint32(p, true) !== CENTRAL_SIG) throw new ArchiveError('its zip central directory is damaged', 'damaged');
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    if (p + 46 + nameLen > eocd) throw new ArchiveError('its zip central directory is damaged', 'damaged');
    crcs.set(decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen)), view.getUint32(p + 16, true));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return crcs;
}

/**
 * fflate walks as many central-directory entries as a zip64 end record says (up to 2^32) before
 * anything else: a count the archive cannot hold (each entry takes 46 bytes at least) is damage.
 */
function checkZip64Count(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let e = bytes.length - EOCD_SIZE;
  while (e > 0 && view.getUint32(e, true) !== EOCD_SIG) {
    if (bytes.length - e > 65558) return;
    e--;
  }
  if (e < 20 || view.getUint32(e - 20, true) !== 0x07064b50) return;
  const z = view.getUint32(e - 12, true);
  if (z + 36 > bytes.length || view.getUint32(z, true) !== 0x06064b50) return;
  if (view.getUint32(z + 32, true) > bytes.length / 46) throw new ArchiveError('its zip64 end record counts more entries than the archive can hold', 'damaged');
}

/**
 * The named members of a zip archive (those present), each checked against its recorded CRC-32;
 * an ArchiveError when it is not a zip, is cut short, or is damaged.
 */
export function readZipMembers(bytes: Uint8Array, names: readonly string[]): Map<string, Uint8Array> {
  if (bytes.length < 4 || !ZIP_MAGIC.equals(Buffer.from(bytes.buffer, bytes.byteOffset, 4))) {
    throw new ArchiveError('it is not a zip archive', 'not-zip');
  }
  const crcs = recordedCrcs(bytes);
  checkZip64Count(bytes);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, {
      filter: (f) => {
        if (!names.includes(f.name)) return false;
        // The size a member says it inflates to is allocated before inflating: deflate packs at most
        // 1032 bytes into one, so a member that claims more (or more than 2 GiB) is damage, not data.
        if (f.originalSize > MAX_MEMBER_BYTES || (f.compression !== 0 && f.originalSize > f.size * 1032 + 1024) || (f.compression === 0 && f.originalSize !== f.size)) {
          throw new ArchiveError(`its ${f.name} claims ${f.originalSize} bytes, which its ${f.size} stored bytes cannot hold`, 'damaged');
        }
        return true;
      },
    });
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError(`the zip archive cannot be read (${(err as Error).message.split('\n')[0]})`, 'damaged');
  }
  for (const [name, data] of Object.entries(entries)) {
    const expected = crcs?.get(name);
    if (expected !== undefined && crc32(data) !== expected) {
      throw new ArchiveError(`its ${name} does not match the CRC-32 the archive records for it`, 'damaged');
    }
  }
  return new Map(Object.entries(entries));
}

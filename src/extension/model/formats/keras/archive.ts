/**
 * Reads the members of a Keras 3 `.keras` archive (a zip of `config.json`, `metadata.json` and
 * `model.weights.h5`, usually stored uncompressed) with fflate: pure JavaScript, no native code or
 * streams, synchronous over a Buffer, and it inflates only the members asked for. (yauzl, the
 * other maintained choice, reads through callbacks and file descriptors: more machinery for a file
 * we read whole anyway.)
 */
import { unzipSync } from 'fflate';

/** The zip local-file-header signature `PK\x03\x04`. */
export const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

export class ArchiveError extends Error {}

/** The named members of a zip archive (those present); an ArchiveError when it is not a readable zip. */
export function readZipMembers(bytes: Uint8Array, names: readonly string[]): Map<string, Uint8Array> {
  if (bytes.length < 4 || !ZIP_MAGIC.equals(Buffer.from(bytes.buffer, bytes.byteOffset, 4))) {
    throw new ArchiveError('it is not a zip archive');
  }
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, { filter: (f) => names.includes(f.name) });
  } catch (err) {
    throw new ArchiveError(`the zip archive is damaged or truncated (${(err as Error).message})`);
  }
  return new Map(Object.entries(entries));
}

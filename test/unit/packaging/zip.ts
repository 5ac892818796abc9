/**
 * A small zip reader for the packaging tests (a .vsix is a zip): the central directory's entries
 * and their contents, stored or deflated. No zip64 and no encryption: vsce writes neither for
 * packages of this size.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeader: number;
}

export class Zip {
  readonly entries: ZipEntry[] = [];
  private readonly byName = new Map<string, ZipEntry>();

  constructor(private readonly buf: Buffer) {
    // The end of central directory record: its signature within the last 64 KiB + 22 bytes.
    let eocd = -1;
    for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
      if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
    }
    if (eocd < 0) throw new Error('not a zip file (no end of central directory record)');
    const count = buf.readUInt16LE(eocd + 10);
    let at = buf.readUInt32LE(eocd + 16);
    for (let k = 0; k < count; k++) {
      if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry ${k}`);
      const nameLength = buf.readUInt16LE(at + 28);
      const extraLength = buf.readUInt16LE(at + 30);
      const commentLength = buf.readUInt16LE(at + 32);
      const entry: ZipEntry = {
        method: buf.readUInt16LE(at + 10),
        compressedSize: buf.readUInt32LE(at + 20),
        size: buf.readUInt32LE(at + 24),
        localHeader: buf.readUInt32LE(at + 42),
        name: buf.toString('utf8', at + 46, at + 46 + nameLength),
      };
      this.entries.push(entry);
      this.byName.set(entry.name, entry);
      at += 46 + nameLength + extraLength + commentLength;
    }
  }

  static open(file: string): Zip {
    return new Zip(fs.readFileSync(file));
  }

  get names(): string[] {
    return this.entries.map((e) => e.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The uncompressed bytes of an entry. */
  read(name: string): Buffer {
    const e = this.byName.get(name);
    if (!e) throw new Error(`${name} is not in the zip`);
    const h = e.localHeader;
    if (this.buf.readUInt32LE(h) !== 0x04034b50) throw new Error(`bad local header of ${name}`);
    const start = h + 30 + this.buf.readUInt16LE(h + 26) + this.buf.readUInt16LE(h + 28);
    const raw = this.buf.subarray(start, start + e.compressedSize);
    const data = e.method === 0 ? Buffer.from(raw) : e.method === 8 ? zlib.inflateRawSync(raw) : undefined;
    if (!data) throw new Error(`${name}: compression method ${e.method} is not supported`);
    if (data.length !== e.size) throw new Error(`${name}: ${data.length} bytes, the directory says ${e.size}`);
    return data;
  }

  /** Writes every entry under `prefix` into `dir` (without the prefix). */
  extract(prefix: string, dir: string): void {
    for (const e of this.entries) {
      if (!e.name.startsWith(prefix) || e.name.endsWith('/')) continue;
      const dest = path.resolve(dir, e.name.slice(prefix.length));
      if (!dest.startsWith(path.resolve(dir) + path.sep)) throw new Error(`${e.name} points outside ${dir}`);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, this.read(e.name));
    }
  }
}

/**
 * The content hashes that key TCAV's caches: the SHA-256 of the bytes, whatever the size of the
 * file, and never a stale hash for a file rewritten in place (same size, same coarse mtime).
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { imageHash, modelHash } from '../../../src/extension/tcav/activation-cache';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-content-hash-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

const sha = (...bufs: Buffer[]) => crypto.createHash('sha256').update(Buffer.concat(bufs)).digest('hex');

test('a checkpoint larger than one read chunk hashes to the SHA-256 of its files in order', () => {
  const folder = path.join(dir, 'big');
  fs.mkdirSync(folder);
  const weights = Buffer.alloc((9 << 20) + 123); // two 4 MB chunks and a partial third
  for (let i = 0; i < weights.length; i += 4096) weights[i] = i & 0xff;
  const json = Buffer.from(JSON.stringify({
    modelTopology: {}, format: 'layers-model',
    weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'w', shape: [weights.length / 4 | 0], dtype: 'float32' }] }],
  }));
  fs.writeFileSync(path.join(folder, 'model.json'), json);
  fs.writeFileSync(path.join(folder, 'weights.bin'), weights);
  assert.equal(modelHash(folder), sha(json, weights));
});

test('an image rewritten in place with the same size and mtime is hashed again while its mtime is recent', () => {
  const file = path.join(dir, 'img.png');
  fs.writeFileSync(file, Buffer.from('first version'));
  const when = new Date();
  fs.utimesSync(file, when, when);
  assert.equal(imageHash(file), sha(Buffer.from('first version')));
  fs.writeFileSync(file, Buffer.from('other version'));
  fs.utimesSync(file, when, when); // what a coarse file-system clock can leave
  assert.equal(imageHash(file), sha(Buffer.from('other version')));
});

test('an old file\'s hash is remembered by size and mtime; a new mtime or size is read again', () => {
  const file = path.join(dir, 'old.png');
  fs.writeFileSync(file, Buffer.from('aaaa'));
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(file, old, old);
  assert.equal(imageHash(file), sha(Buffer.from('aaaa')));
  // Same size and mtime: the remembered hash, without reading (the bytes changed behind its back).
  fs.writeFileSync(file, Buffer.from('bbbb'));
  fs.utimesSync(file, old, old);
  assert.equal(imageHash(file), sha(Buffer.from('aaaa')));
  const newer = new Date(Date.now() - 30_000);
  fs.utimesSync(file, newer, newer);
  assert.equal(imageHash(file), sha(Buffer.from('bbbb')));
  fs.writeFileSync(file, Buffer.from('ccccc'));
  fs.utimesSync(file, newer, newer);
  assert.equal(imageHash(file), sha(Buffer.from('ccccc')));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNpy, encodeNpy } from '../../../src/extension/image/npy';
import { UserError } from '../../../src/shared/errors';

/** The header bytes np.save writes: magic, version 1.0, uint16 length, dict padded to 64 with spaces and '\n'. */
function numpyHeader(dict: string, total: number): Buffer {
  const text = dict.padEnd(total - 10 - 1, ' ') + '\n';
  return Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0, text.length & 0xff, text.length >> 8]), Buffer.from(text, 'latin1')]);
}

test('encodeNpy writes the header exactly as NumPy does for shape (2, 3)', () => {
  const buf = encodeNpy(new Float32Array([0, 1, 2, 3, 4, 5]), [2, 3]);
  const expected = numpyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 128);
  assert.deepEqual(buf.subarray(0, 128), expected);
  assert.equal(buf.subarray(0, 8).toString('latin1'), '\x93NUMPY\x01\x00');
  assert.equal(buf.readUInt16LE(8), 118);
  assert.equal(buf[127], 0x0a);
  assert.equal(buf.length, 128 + 24);
  // little-endian float32 data right after the header
  assert.deepEqual([...buf.subarray(128 + 4, 128 + 8)], [0x00, 0x00, 0x80, 0x3f]); // 1.0
});

test('encodeNpy matches NumPy for 1-d, 0-d and long shapes (tuple syntax, growth space, 64-byte alignment)', () => {
  // Headers produced by numpy 2.4 np.save / format.write_array_header_1_0.
  assert.deepEqual(encodeNpy(new Float32Array(5), [5]).subarray(0, 128), numpyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 128));
  assert.deepEqual(encodeNpy(new Float32Array([7]), []).subarray(0, 128), numpyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 128));
  // NumPy adds 21 - len(str(shape[0])) spaces so the header can be rewritten in place; here that
  // pushes the header past 128 bytes to 192.
  const shape = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const buf = encodeNpy(new Float32Array(0), [...shape, 0]);
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${[...shape, 0].join(', ')}), }`;
  assert.equal(buf.length % 64, 0);
  assert.deepEqual(buf, numpyHeader(dict, 192));
});

test('every header length is a multiple of 64 and ends with a newline', () => {
  for (let rank = 0; rank < 30; rank++) {
    const shape = Array.from({ length: rank }, (_, k) => (k === 0 ? 10 ** (rank % 12) : 1));
    const count = shape.reduce((a, b) => a * b, 1);
    if (count > 1e6) continue;
    const buf = encodeNpy(new Float32Array(count), shape);
    const total = 10 + buf.readUInt16LE(8);
    assert.equal(total % 64, 0, `shape (${shape.join(', ')})`);
    assert.equal(buf[total - 1], 0x0a);
  }
});

test('decodeNpy(encodeNpy(x)) === x', () => {
  const data = new Float32Array(3 * 4 * 5).map((_, i) => Math.sin(i) * 1e3);
  data[7] = NaN;
  data[8] = -Infinity;
  const back = decodeNpy(encodeNpy(data, [3, 4, 5]));
  assert.deepEqual(back.shape, [3, 4, 5]);
  assert.deepEqual(back.data, data);
});

test('decodeNpy reads from a Buffer at an unaligned offset', () => {
  const file = encodeNpy(new Float32Array([1.5, -2.25]), [2]);
  const pool = Buffer.alloc(file.length + 3);
  file.copy(pool, 3);
  assert.deepEqual([...decodeNpy(pool.subarray(3)).data], [1.5, -2.25]);
});

test('decodeNpy converts other dtypes and Fortran order', () => {
  // np.save(f, np.arange(6, dtype='>i2').reshape(2, 3)): big-endian int16
  const header = numpyHeader("{'descr': '>i2', 'fortran_order': False, 'shape': (2, 3), }", 128);
  const body = Buffer.from([0, 0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5]);
  assert.deepEqual(decodeNpy(Buffer.concat([header, body])), { data: new Float32Array([0, 1, 2, 3, 4, 5]), shape: [2, 3] });
  // np.save(f, np.arange(6, dtype='<f4').reshape(2, 3).T): shape (3, 2) stored column-major
  const fHeader = numpyHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }", 128);
  const fBody = Buffer.from(new Float32Array([0, 1, 2, 3, 4, 5]).buffer);
  assert.deepEqual(decodeNpy(Buffer.concat([fHeader, fBody])), { data: new Float32Array([0, 3, 1, 4, 2, 5]), shape: [3, 2] });
});

test('decodeNpy rejects what it cannot read with a UserError', () => {
  assert.throws(() => decodeNpy(Buffer.from('hello, world')), (e) => e instanceof UserError && /not a \.npy file/.test(e.message));
  const good = encodeNpy(new Float32Array(6), [2, 3]);
  assert.throws(() => decodeNpy(good.subarray(0, good.length - 1)), (e) => e instanceof UserError && /truncated/.test(e.message));
  const complex = numpyHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 128);
  assert.throws(() => decodeNpy(Buffer.concat([complex, Buffer.alloc(8)])), (e) => e instanceof UserError && /dtype '<c8'/.test(e.message));
});

test('encodeNpy rejects a shape that does not match the data', () => {
  assert.throws(() => encodeNpy(new Float32Array(5), [2, 3]), RangeError);
  assert.throws(() => encodeNpy(new Float32Array(6), [2, -3]), RangeError);
});

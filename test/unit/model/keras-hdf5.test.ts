/** The HDF5 reader over jsfive: groups, string and number attributes, contiguous and gzip-chunked datasets. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Hdf5Error, openHdf5 } from '../../../src/extension/model/formats/keras/hdf5';

const FIXTURES = path.resolve(__dirname, '../../../..', 'test', 'fixtures', 'keras');

describe('HDF5 reader', () => {
  const file = openHdf5(fs.readFileSync(path.join(FIXTURES, 'hdf5_reader.h5')));
  const ref = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'hdf5_reader.ref.json'), 'utf8')) as { chunked_sum: number; chunked_first: number[] };

  it('reads string, string-array and number attributes', () => {
    assert.equal(file.attr('title'), 'hdf5 reader fixture');
    assert.deepEqual(file.attr('names'), ['conv/kernel:0', 'conv/bias:0']);
    assert.deepEqual(file.attr('vlen_names'), ['first', 'second']);
    assert.equal(file.attr('version'), 3);
    assert.equal(file.group('group/inner')?.attr('scale'), 0.5);
    assert.equal(file.attr('missing'), undefined);
  });

  it('walks groups and tells missing members', () => {
    assert.deepEqual(file.keys, ['group']);
    assert.deepEqual(file.group('group/inner')?.keys.sort(), ['chunked', 'contiguous', 'float64', 'scalar']);
    assert.equal(file.get('group/nothing'), undefined);
    assert.equal(file.group('group/inner/contiguous'), undefined, 'a dataset is not a group');
  });

  it('reads contiguous, chunked + gzip + shuffle, float64 and scalar datasets as float32', () => {
    const c = file.dataset('group/inner/contiguous')!;
    assert.deepEqual(c.shape, [2, 3, 4]);
    assert.deepEqual(Array.from(c.float32()), Array.from({ length: 24 }, (_, i) => i));
    const z = file.dataset('group/inner/chunked')!;
    assert.deepEqual(z.shape, [40, 30]);
    const v = z.float32();
    assert.deepEqual(Array.from(v.subarray(0, 5)), ref.chunked_first);
    const sum = v.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - ref.chunked_sum) < 1e-3, `sum ${sum} vs ${ref.chunked_sum}`);
    const d = file.dataset('group/inner/float64')!.float32();
    assert.equal(d.length, 7);
    assert.ok(Math.abs(d[6] - 1) < 1e-7);
    const s = file.dataset('group/inner/scalar')!;
    assert.deepEqual(Array.from(s.float32()), [2.5]);
  });

  it('rejects what is not HDF5', () => {
    assert.throws(() => openHdf5(Buffer.from('PK\x03\x04 not hdf5')), Hdf5Error);
  });
});

describe('HDF5 reader on Keras weights', () => {
  it("reads every float32 dataset of a Keras .h5 straight from the file, equal to jsfive's own reading", async () => {
    const jsfive = await import('jsfive');
    const bytes = fs.readFileSync(path.resolve(__dirname, '../../../..', 'demo', 'models', 'shapes-keras-h5', 'model.h5'));
    const ours = openHdf5(bytes);
    const theirs = new jsfive.File(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, 'model');
    let compared = 0;
    const walk = (group: ReturnType<typeof openHdf5>, at: string) => {
      for (const key of group.keys) {
        const child = group.get(key)!;
        if (child.kind === 'group') {
          walk(child, `${at}${key}/`);
          continue;
        }
        const reference = theirs.get(`${at}${key}`) as InstanceType<typeof jsfive.Dataset>;
        assert.deepEqual(Array.from(child.float32()), Array.from(reference.value as ArrayLike<number>, Number), `${at}${key}`);
        compared++;
      }
    };
    walk(ours, '');
    assert.ok(compared >= 20, `${compared} datasets compared`);
  });
});

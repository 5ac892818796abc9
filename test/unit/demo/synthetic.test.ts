import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeBackgroundImage, makeShapeBatch, makeShapeImage, mulberry32, SHAPE_CLASSES, type Rgb, type ShapeImage } from '../../../demo/synthetic';

const SIZE = 64;

/** Pixels within `tol` (per channel) of `c`, as a size × size mask. */
function colourMask(im: ShapeImage, c: Rgb, tol: number, size = SIZE): boolean[] {
  const mask: boolean[] = [];
  for (let i = 0; i < size * size; i++) {
    const p = i * 3;
    mask.push(
      Math.abs(im.pixels[p] - c[0]) <= tol && Math.abs(im.pixels[p + 1] - c[1]) <= tol && Math.abs(im.pixels[p + 2] - c[2]) <= tol,
    );
  }
  return mask;
}

test('mulberry32 is deterministic and uniform-ish in [0, 1)', () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  let sum = 0;
  for (let i = 0; i < 10000; i++) {
    const x = a();
    assert.equal(x, b());
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / 10000 - 0.5) < 0.02);
});

test('the same seed gives identical images, labels and boxes', () => {
  const a = makeShapeBatch(mulberry32(7), 20, SIZE);
  const b = makeShapeBatch(mulberry32(7), 20, SIZE);
  assert.deepEqual(a.labels, b.labels);
  assert.deepEqual(a.boxes, b.boxes);
  assert.ok(Buffer.from(a.pixels).equals(Buffer.from(b.pixels)));
});

test('different seeds give different images', () => {
  const a = makeShapeImage(mulberry32(1), SIZE);
  const b = makeShapeImage(mulberry32(2), SIZE);
  assert.equal(a.pixels.length, SIZE * SIZE * 3);
  assert.ok(!Buffer.from(a.pixels).equals(Buffer.from(b.pixels)));
  const boxesA = makeShapeBatch(mulberry32(3), 10, SIZE).boxes;
  const boxesB = makeShapeBatch(mulberry32(4), 10, SIZE).boxes;
  assert.notDeepEqual(boxesA, boxesB);
});

test('the box lies inside the image, spans 25-40% of it, and is the tight box of the shape colour', () => {
  const rng = mulberry32(11);
  for (let n = 0; n < 200; n++) {
    const im = makeShapeImage(rng, SIZE);
    const { x, y, w, h } = im.box;
    assert.ok(Number.isInteger(x) && Number.isInteger(y) && Number.isInteger(w) && Number.isInteger(h));
    assert.ok(x >= 0 && y >= 0 && x + w <= SIZE && y + h <= SIZE, `box ${JSON.stringify(im.box)} leaves the image`);
    const side = Math.max(w, h);
    assert.ok(side >= 0.25 * SIZE - 1 && side <= 0.4 * SIZE + 2, `box side ${side} out of range`);

    // Pixels of the shape colour (allowing for the pixel noise): plenty inside the box, and they
    // reach (almost) every side of it; outside the box there are hardly any.
    const mask = colourMask(im, im.color, 45);
    let inside = 0;
    let outside = 0;
    let minX = SIZE;
    let minY = SIZE;
    let maxX = -1;
    let maxY = -1;
    for (let py = 0; py < SIZE; py++) {
      for (let px = 0; px < SIZE; px++) {
        if (!mask[py * SIZE + px]) continue;
        if (px >= x && px < x + w && py >= y && py < y + h) {
          inside++;
          minX = Math.min(minX, px);
          maxX = Math.max(maxX, px);
          minY = Math.min(minY, py);
          maxY = Math.max(maxY, py);
        } else {
          outside++;
        }
      }
    }
    const kind = SHAPE_CLASSES[im.label];
    assert.ok(inside >= 0.3 * w * h, `${kind}: only ${inside} shape-coloured pixels in a ${w}x${h} box`);
    assert.ok(outside <= 0.1 * inside, `${kind}: ${outside} shape-coloured pixels outside the box, ${inside} inside`);
    // Edge pixels are blended with the background, so allow two pixels of slack per side.
    assert.ok(minX <= x + 2 && maxX >= x + w - 3 && minY <= y + 2 && maxY >= y + h - 3, `${kind}: box is not tight`);
  }
});

test('classes are roughly balanced over 300 images', () => {
  const { labels } = makeShapeBatch(mulberry32(5), 300, SIZE);
  const counts = new Array<number>(SHAPE_CLASSES.length).fill(0);
  for (const l of labels) counts[l]++;
  const expected = 300 / SHAPE_CLASSES.length;
  for (const c of counts) assert.ok(Math.abs(c - expected) < 0.25 * expected, `counts ${counts.join(', ')}`);
});

test('a forced label is honoured, and a bad one rejected', () => {
  const rng = mulberry32(9);
  for (let label = 0; label < SHAPE_CLASSES.length; label++) {
    assert.equal(makeShapeImage(rng, SIZE, { label }).label, label);
  }
  assert.throws(() => makeShapeImage(rng, SIZE, { label: SHAPE_CLASSES.length }), RangeError);
});

test('backgrounds are textured and vary between images', () => {
  const rng = mulberry32(13);
  const means: number[] = [];
  for (let n = 0; n < 30; n++) {
    const im = makeShapeImage(rng, SIZE, { distractors: 0 });
    // Spread of the green channel over the left column, which the shape rarely covers entirely.
    let s = 0;
    let s2 = 0;
    for (let py = 0; py < SIZE; py++) {
      const v = im.pixels[(py * SIZE) * 3 + 1];
      s += v;
      s2 += v * v;
    }
    const mean = s / SIZE;
    assert.ok(s2 / SIZE - mean * mean > 1, 'a flat background');
    means.push(mean);
  }
  assert.ok(Math.max(...means) - Math.min(...means) > 80, 'backgrounds look alike');
});

test('shape-free background images are seeded too', () => {
  const a = makeBackgroundImage(mulberry32(21), SIZE);
  const b = makeBackgroundImage(mulberry32(21), SIZE);
  const c = makeBackgroundImage(mulberry32(22), SIZE);
  assert.equal(a.length, SIZE * SIZE * 3);
  assert.ok(Buffer.from(a).equals(Buffer.from(b)));
  assert.ok(!Buffer.from(a).equals(Buffer.from(c)));
});

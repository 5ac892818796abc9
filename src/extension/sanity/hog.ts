/**
 * HOG descriptors of normalised maps, as hog-features 1.0 computes them for a one-channel image
 * — gradients with the kernel [−1, 0, 1] and 0 outside the map, magnitude-weighted orientation
 * histograms over 0–180° with the first bin centred on 0°, blocks of 2×2 cells moving by one
 * cell, L2 block norms (ε = 1e−5) — with the same operations in the same order, so the features
 * are the same to the last bit (the unit tests check it against the package).
 *
 * Cost: the package builds an object per pixel, nested arrays per cell and block, and
 * concatenates the blocks through Array.prototype.concat; here every step writes into a typed
 * array, pixels without gradient are skipped (they add 0 to a bin), and the bins come from a
 * table instead of atan2 (binOfGradient).
 */

const BINS = 9;
const EPSILON = 0.00001;
const DEGREES = 180 / Math.PI;

/** HOG cell side for an h × w map: min(h, w) / 16, between 1 and 8 pixels. */
export function hogCellSize(h: number, w: number): number {
  return Math.max(1, Math.min(8, Math.floor(Math.min(h, w) / 16)));
}

/** The package's binFor: the angle in degrees folded to [0, 180), shifted by half a bin. */
function binOf(radians: number): number {
  let angle = radians * DEGREES;
  if (angle < 0) angle += 180;
  angle += 90 / BINS;
  angle %= 180;
  return Math.floor((angle / 180) * BINS);
}

/** Directions of the edges between bins, 10°, 30°, …, 170°: bin b is centred on 20b°. */
const EDGE_COS = Float64Array.from({ length: BINS }, (_, j) => Math.cos(((20 * j + 10) * Math.PI) / 180));
const EDGE_SIN = Float64Array.from({ length: BINS }, (_, j) => Math.sin(((20 * j + 10) * Math.PI) / 180));
/**
 * sin(distance to the nearest edge) below which the package's rounding (atan2, degrees, the
 * shifts: ~1e−13°) could decide the bin; 1e−9 is ~6e−8°, far above it and still rare.
 */
const NEAR_EDGE = 1e-9;

/**
 * binOf(atan2(gy, gx)) through cross products with the edges, |g| sin(angle − edge), for
 * orientations folded to the upper half-plane (u, v), v ≥ 0. Gradients within NEAR_EDGE of an
 * edge (e.g. exactly vertical ones, on the 90° edge) take the package's arithmetic.
 */
function binByEdges(gx: number, gy: number, u: number, v: number, mag: number): number {
  const near = NEAR_EDGE * mag;
  let passed = 0;
  for (; passed < BINS; passed++) {
    const cross = EDGE_COS[passed] * v - EDGE_SIN[passed] * u;
    if (Math.abs(cross) <= near) return binOf(Math.atan2(gy, gx));
    if (cross < 0) break; // below this edge, so below every later one
  }
  // Past the last edge (170°) is bin 0 again.
  return passed % BINS;
}

/**
 * A pseudo-angle of (u, v), v ≥ 0, (u, v) ≠ 0: 1 − u / (|u| + v), from 0 at 0° through 1 at 90°
 * to 2 at 180°, increasing with the angle — one division instead of atan2.
 */
const pseudoAngle = (u: number, v: number) => 1 - u / (Math.abs(u) + v);

/** Pseudo-angle cells of the lookup table over [0, 2]. */
const CELLS = 1024;
/**
 * The bin of every pseudo-angle cell, or −1 for the few cells an edge falls in (widened by 1e−9,
 * ~6e−8°, as NEAR_EDGE): those take binByEdges, so the bins stay exactly the package's.
 */
const BIN_OF_CELL = ((): Int8Array => {
  const edges = Array.from({ length: BINS }, (_, j) => pseudoAngle(EDGE_COS[j], EDGE_SIN[j]));
  const table = new Int8Array(CELLS);
  for (let c = 0; c < CELLS; c++) {
    const lo = (2 * c) / CELLS - NEAR_EDGE;
    const hi = (2 * (c + 1)) / CELLS + NEAR_EDGE;
    table[c] = edges.some((e) => e >= lo && e <= hi) ? -1 : edges.filter((e) => e < lo).length % BINS;
  }
  return table;
})();

/**
 * binOf(atan2(gy, gx)) without atan2, which cost more than the rest of the descriptor: the
 * orientation folded to the upper half-plane, its pseudo-angle's cell, that cell's bin.
 */
function binOfGradient(gx: number, gy: number, mag: number): number {
  const u = gy < 0 ? -gx : gx;
  const v = gy < 0 ? -gy : gy;
  const bin = BIN_OF_CELL[Math.min(CELLS - 1, Math.floor(pseudoAngle(u, v) * (CELLS / 2)))];
  return bin >= 0 ? bin : binByEdges(gx, gy, u, v, mag);
}

/** Magnitude-weighted orientation histograms of the cells, [cellsHigh][cellsWide][BINS] flat. */
function cellHistograms(v: Float32Array, h: number, w: number, cell: number, cellsHigh: number, cellsWide: number): Float64Array {
  const hist = new Float64Array(cellsHigh * cellsWide * BINS);
  // Pixels are visited row by row, so each cell sums its pixels in the package's order.
  for (let y = 0; y < cellsHigh * cell; y++) {
    const cellRow = Math.floor(y / cell) * cellsWide;
    for (let x = 0; x < cellsWide * cell; x++) {
      const i = y * w + x;
      const prevX = x === 0 ? 0 : v[i - 1];
      const nextX = x === w - 1 ? 0 : v[i + 1];
      const prevY = y === 0 ? 0 : v[i - w];
      const nextY = y === h - 1 ? 0 : v[i + w];
      const gx = -prevX + nextX;
      const gy = -prevY + nextY;
      const mag = Math.sqrt(gx * gx + gy * gy);
      if (mag === 0) continue;
      hist[(cellRow + Math.floor(x / cell)) * BINS + binOfGradient(gx, gy, mag)] += mag;
    }
  }
  return hist;
}

/** The descriptor of an h × w map with values in [0, 1]: every block's normalised histograms. */
export function hogDescriptor(normalised: Float32Array, h: number, w: number): Float64Array {
  const cell = hogCellSize(h, w);
  const cellsHigh = Math.floor(h / cell);
  const cellsWide = Math.floor(w / cell);
  const hist = cellHistograms(normalised, h, w, cell, cellsHigh, cellsWide);
  const blocksHigh = Math.max(0, cellsHigh - 1);
  const blocksWide = Math.max(0, cellsWide - 1);
  const blockLength = 4 * BINS;
  const out = new Float64Array(blocksHigh * blocksWide * blockLength);
  let at = 0;
  for (let by = 0; by < blocksHigh; by++) {
    for (let bx = 0; bx < blocksWide; bx++) {
      const start = at;
      for (let cy = by; cy < by + 2; cy++) {
        for (let cx = bx; cx < bx + 2; cx++) {
          const from = (cy * cellsWide + cx) * BINS;
          for (let b = 0; b < BINS; b++) out[at++] = hist[from + b];
        }
      }
      let sum = 0;
      for (let k = start; k < at; k++) sum += out[k] * out[k];
      const denom = Math.sqrt(sum + EPSILON);
      for (let k = start; k < at; k++) out[k] /= denom;
    }
  }
  return out;
}

/**
 * Seeded pseudo-random numbers for the methods and metrics that need randomness (RISE's masks,
 * the random reference map, ROAD's imputation noise), so a seed always gives the same result.
 */

/** The seed used when a request gives none. */
export const DEFAULT_SEED = 0x5eed;

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/** mulberry32: a small, fast 32-bit PRNG; the same seed gives the same stream on every platform. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A source of standard normal numbers drawn from `rng` (Box–Muller, both values used). */
export function gaussianSource(rng: Rng): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - rng(); // (0, 1]: log(u) is finite
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * rng();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

/** mulberry32's state step: its state is a Weyl sequence, seed + k · STEP after k draws. */
const MULBERRY_STEP = 0x6d2b79f5n;

/**
 * mulberry32(seed) with its first `skip` draws already made, in O(1): the state after k draws is
 * seed + k · STEP mod 2³², so a shard that starts deep in the stream (RISE's mask m, SmoothGrad's
 * sample k) gets the same numbers without drawing the ones before it.
 */
export function mulberry32At(seed: number, skip: number): Rng {
  if (!Number.isSafeInteger(skip) || skip < 0) throw new Error(`mulberry32At: skip must be a whole number ≥ 0, got ${skip}`);
  return mulberry32(Number((BigInt(seed >>> 0) + BigInt(skip) * MULBERRY_STEP) & 0xffffffffn));
}

/**
 * gaussianSource(mulberry32(seed)) with its first `skip` values already taken: value j comes from
 * the pair of uniform draws 2⌊j/2⌋, 2⌊j/2⌋ + 1 (cos for even j, sin for odd j, the cached spare),
 * so an odd start makes its pair and drops the cos.
 */
export function gaussianAt(seed: number, skip: number): () => number {
  const normal = gaussianSource(mulberry32At(seed, 2 * Math.floor(skip / 2)));
  if (skip % 2 === 1) normal();
  return normal;
}

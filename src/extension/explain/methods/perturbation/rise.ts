/**
 * RISE (Petsiuk, Das & Saenko 2018, "RISE: Randomized Input Sampling for Explanation of
 * Black-box Models"): probe the model with N randomly masked copies of the input and weight
 * each mask by the score it got. The paper's Monte Carlo estimate of the expected score given that
 * pixel λ is kept: S(λ) ≈ 1 / (E[M] · N) · Σᵢ f(I ⊙ Mᵢ) · Mᵢ(λ), with E[M] = p, the probability
 * that a grid cell is kept.
 *
 * Masks (the paper's "Mask generation"): a binary s × s grid (cells kept with probability p) is
 * upsampled bilinearly to (s + 1)·C, C = ⌈H / s⌉, and an H × W window of it is cropped at a random
 * shift in [0, C)², so the masks are smooth and not aligned with the grid. Only one batch of masks
 * exists at a time; the random draws come from one seeded stream in mask order, so the map does
 * not depend on the batch size. Masks and masked images are built in plain typed arrays: on the
 * cpu and wasm backends that is several times cheaper than resizing, cropping and broadcasting
 * with tensor ops (bench/perturbation.ts measures the cost against the plain forward pass).
 *
 * The masks are split into shards of a fixed size (method-shards.ts) that the pool's workers
 * compute; a shard starting at mask m jumps over the m · (s² + 2) draws before it, and returns its
 * partial Σ f · M; the partial sums are added in shard order, so any number of workers gives the
 * same map.
 */
import type { Explainer, ExplainRequest, ExplanationMap } from '../../explainer';
import type { Target } from '../../../model/types';
import { scoreBatch } from '../../../model/forward';
import { throwIfCancelled } from '../../../../shared/errors';
import { spreadShards, type ShardKind } from '../../../compute/spread';
import { batchSizeOf, integerParam, numberParam, singleImage } from '../request-checks';
import { yieldToEventLoop } from '../../../util/event-loop';
import { DEFAULT_SEED, mulberry32At, type Rng } from '../../../util/seeded-random';
import { imageArrays, shardCount, shardItems, shardProgress, shardSize, shardState, type ImageArrays } from '../method-shards';

/** The random part of a batch of masks. */
export interface MaskDraws {
  /** count × s × s grid values, 0 or 1, row-major per mask. */
  grids: Float32Array;
  /** count × 2 shifts (dy, dx) of the crop, each in [0, cell). */
  shifts: Int32Array;
  count: number;
}

/** The sizes shared by all masks of an input. */
export interface MaskGeometry {
  /** Grid cells per side (s). */
  cells: number;
  height: number;
  width: number;
  /** Cell size in pixels, ⌈H / s⌉ × ⌈W / s⌉ (C in the paper). */
  cellH: number;
  cellW: number;
}

export function maskGeometry(cells: number, height: number, width: number): MaskGeometry {
  return { cells, height, width, cellH: Math.ceil(height / cells), cellW: Math.ceil(width / cells) };
}

/** How many draws of the stream drawMasks consumes per mask: s² grid cells and two shifts. */
export function drawsPerMask(cells: number): number {
  return cells * cells + 2;
}

/** Draws `count` masks' grids (cells kept with probability `p`) and shifts from `rng`, mask by mask. */
export function drawMasks(rng: Rng, count: number, g: MaskGeometry, p: number): MaskDraws {
  const n = g.cells * g.cells;
  const grids = new Float32Array(count * n);
  const shifts = new Int32Array(count * 2);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < n; j++) grids[i * n + j] = rng() < p ? 1 : 0;
    shifts[2 * i] = Math.floor(rng() * g.cellH);
    shifts[2 * i + 1] = Math.floor(rng() * g.cellW);
  }
  return { grids, shifts, count };
}

/** Per output position along an axis: the two grid cells it interpolates and the second one's weight. */
interface AxisSamples {
  lo: Int32Array;
  hi: Int32Array;
  frac: Float64Array;
}

/**
 * Bilinear sampling (half-pixel centres, edges clamped: tf.image.resizeBilinear with
 * halfPixelCenters, skimage's resize order 1) of `cells` grid cells upsampled to `up` samples,
 * at the `count` outputs that start at sample `shift`: the upsampling and the crop in one step.
 */
function axisSamples(cells: number, up: number, shift: number, count: number): AxisSamples {
  const lo = new Int32Array(count);
  const hi = new Int32Array(count);
  const frac = new Float64Array(count);
  const scale = cells / up;
  for (let o = 0; o < count; o++) {
    const src = scale * (shift + o + 0.5) - 0.5;
    lo[o] = Math.max(0, Math.floor(src));
    hi[o] = Math.min(cells - 1, Math.ceil(src));
    frac[o] = src - lo[o];
  }
  return { lo, hi, frac };
}

/**
 * The masks of `d`, [count, H, W] row-major: each grid upsampled bilinearly to (s + 1)·C and
 * cropped at its shift. Bilinear upsampling is separable: the grid's columns are interpolated
 * first ([s, W]), then each output row blends two of those rows.
 */
export function fillMasks(d: MaskDraws, g: MaskGeometry, out: Float32Array = new Float32Array(d.count * g.height * g.width)): Float32Array {
  const { cells: s, height, width } = g;
  const cols = new Float64Array(s * width);
  for (let i = 0; i < d.count; i++) {
    const grid = i * s * s;
    const ys = axisSamples(s, (s + 1) * g.cellH, d.shifts[2 * i], height);
    const xs = axisSamples(s, (s + 1) * g.cellW, d.shifts[2 * i + 1], width);
    for (let k = 0; k < s; k++) {
      for (let x = 0; x < width; x++) {
        const f = xs.frac[x];
        cols[k * width + x] = d.grids[grid + k * s + xs.lo[x]] * (1 - f) + d.grids[grid + k * s + xs.hi[x]] * f;
      }
    }
    for (let y = 0; y < height; y++) {
      const f = ys.frac[y];
      const lo = ys.lo[y] * width;
      const hi = ys.hi[y] * width;
      const row = (i * height + y) * width;
      for (let x = 0; x < width; x++) out[row + x] = cols[lo + x] * (1 - f) + cols[hi + x] * f;
    }
  }
  return out;
}

/**
 * One masked image, black + (x − black) ⊙ M (the masked-out part shows the black image), written
 * to out[o …]: `mask` from `m0`, one value per pixel; `black` and `delta` = x − black with
 * `depth` channels per pixel. RGB is unrolled: three times faster than the generic loop in V8.
 */
function applyMask(mask: Float32Array, m0: number, black: Float32Array, delta: Float32Array, depth: number, out: Float32Array, o: number): void {
  const n = delta.length;
  if (depth === 3) {
    for (let v = 0, m = m0, j = o; v < n; v += 3, m++, j += 3) {
      const k = mask[m];
      out[j] = black[v] + delta[v] * k;
      out[j + 1] = black[v + 1] + delta[v + 1] * k;
      out[j + 2] = black[v + 2] + delta[v + 2] * k;
    }
    return;
  }
  for (let v = 0; v < n; v++) out[o + v] = black[v] + delta[v] * mask[m0 + Math.floor(v / depth)];
}

/**
 * sum += Σᵢ scores[i] · mask i, for the first `count` masks. (A function of its own: V8 optimises
 * this loop far better here than inside the async explain().)
 */
function accumulate(sum: Float64Array, masks: Float32Array, scores: Float32Array, count: number): void {
  const pixels = sum.length;
  for (let i = 0; i < count; i++) {
    const f = scores[i];
    for (let q = 0, m = i * pixels; q < pixels; q++, m++) sum[q] += f * masks[m];
  }
}

/** RISE scores probabilities (the expected class probability under masking) when the model has them. */
function scoreTarget(target: Target, head: string): Target {
  return head === 'linear' ? target : { index: target.index, space: 'probability' };
}

export interface RisePayload extends ImageArrays {
  /** The target as RISE scores it (see scoreTarget). */
  target: Target;
  masks: number;
  cells: number;
  p: number;
  seed: number;
  batchSize: number;
  /** Masks per shard. */
  perShard: number;
}

/** A worker's buffers for one spread: one batch of masks and masked images, and x − black. */
interface RiseBuffers {
  masks: Float32Array;
  batch: Float32Array;
  delta: Float32Array;
}

/** Shard i: Σ f(I ⊙ Mⱼ) · Mⱼ over its masks j, Float64 [h · w]. */
export const riseShard: ShardKind<RisePayload, Float64Array> = {
  kind: 'rise-masks',
  async run(q, index, ctx) {
    const [, height, width, depth] = q.shape;
    const pixels = height * width;
    const g = maskGeometry(q.cells, height, width);
    const [first, end] = shardItems(index, q.perShard, q.masks);
    // One batch of masks and masked images at a time; only the scores come back from the backend.
    const buf = shardState<RiseBuffers>(ctx, 'rise', () => {
      const maxBatch = Math.min(q.batchSize, q.perShard);
      return { masks: new Float32Array(maxBatch * pixels), batch: new Float32Array(maxBatch * pixels * depth), delta: Float32Array.from(q.input, (v, i) => v - q.black[i]) };
    });
    // The stream as it stands after the masks of the shards before this one.
    const rng = mulberry32At(q.seed, first * drawsPerMask(q.cells));
    const sum = new Float64Array(pixels);
    for (let start = first; start < end; start += q.batchSize) {
      if (start > first) await yieldToEventLoop();
      throwIfCancelled(ctx.signal);
      const b = Math.min(q.batchSize, end - start);
      fillMasks(drawMasks(rng, b, g, q.p), g, buf.masks);
      for (let i = 0; i < b; i++) applyMask(buf.masks, i * pixels, q.black, buf.delta, depth, buf.batch, i * pixels * depth);
      const scores = await scoreBatch(ctx.adapter, { data: buf.batch.subarray(0, b * pixels * depth), shape: [b, height, width, depth] }, q.target);
      accumulate(sum, buf.masks, scores, b);
    }
    return sum;
  },
};

export const rise: Explainer = {
  id: 'rise',
  label: 'RISE',
  family: 'perturbation',
  needs: { gradients: false, spatialLayer: false },
  params: [
    { key: 'masks', label: 'Masks', default: 1000, min: 1, max: 100000, help: 'Number of random masks N; the map\'s noise falls as 1/√N.' },
    { key: 'cells', label: 'Grid cells', default: 8, min: 1, max: 64, help: 'Cells per side s of the random grid: smaller s finds larger regions.' },
    { key: 'p', label: 'Keep probability', default: 0.5, min: 0.01, max: 1, help: 'Probability p that a grid cell is kept (not masked).' },
  ],
  async explain(req: ExplainRequest): Promise<ExplanationMap> {
    const { adapter, input, signal, onProgress } = req;
    const [height, width] = singleImage('RISE', input, req.black);
    const n = integerParam(rise, req.params, 'masks');
    const cells = integerParam(rise, req.params, 'cells');
    const p = numberParam(rise, req.params, 'p');
    const batchSize = batchSizeOf(req.batchSize);
    throwIfCancelled(signal);

    const perShard = shardSize(n, batchSize);
    const payload: RisePayload = {
      ...(await imageArrays(input, req.black)),
      target: scoreTarget(req.target, adapter.headActivation), masks: n, cells, p, seed: req.seed ?? DEFAULT_SEED, batchSize, perShard,
    };
    const partial = await spreadShards(req.spread, riseShard, payload, shardCount(n, perShard), { adapter, signal, spread: req.spread }, shardProgress(onProgress, n, perShard));
    const sum = new Float64Array(height * width); // Σᵢ f(I ⊙ Mᵢ) · Mᵢ, the shards' sums in shard order
    for (const part of partial) for (let q = 0; q < sum.length; q++) sum[q] += part[q];
    const data = Float32Array.from(sum, (v) => v / (n * p));
    return { data, height, width, stats: { masks: n, cells, p } };
  },
};

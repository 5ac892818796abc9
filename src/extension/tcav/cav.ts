/**
 * Concept Activation Vectors (Kim et al. 2018): a linear classifier that separates a concept's
 * layer activations (positive) from counterexamples (negative); the CAV is its unit normal.
 *
 * The classifier is the linear SVM of Google's tcav library (scikit-learn SGDClassifier, hinge
 * loss, alpha 0.01), solved exactly instead of by SGD: minimise
 *   alpha/2 · (‖w‖² + (b/s)²) + mean_i max(0, 1 − y_i (wᵀ(x_i − μ) + b)),
 * i.e. liblinear's ½(‖w‖² + β²) + C Σ hinge with C = 1/(alpha·N), the bias b = sβ being the weight
 * of an extra constant feature s. Solved by dual coordinate descent (Hsieh et al. 2008, "A Dual
 * Coordinate Descent Method for Large-scale Linear SVM", Algorithm 1, L1-loss, no shrinking).
 * The augmented feature regularises the bias, which SGDClassifier does not; two choices keep that
 * from mattering: rows are centred on μ, the midpoint of the two training class means (a common
 * offset of the activations, e.g. all positive after a ReLU, cannot tilt the direction, and the
 * boundary is pulled towards μ rather than the origin), and s is the rows' RMS distance from μ
 * (liblinear's intercept scaling), so the bias is barely penalised and the dual stays well
 * conditioned. Rows are used in place (Float64 accumulation): memory O(D + N).
 */
import { mulberry32, type Rng } from '../util/seeded-random';
import { UserError } from '../../shared/errors';

export interface CavOptions {
  seed: number;
  /** Fraction of each side held out for the test split (default 1/3). */
  testFraction?: number;
  /** L2 strength as in scikit-learn's SGDClassifier (default 0.01). */
  alpha?: number;
  /** Upper bound on passes over the training rows (default 1000). */
  maxEpochs?: number;
  /** Stop when max − min of the projected gradient over an epoch is at most this (default 1e-4). */
  tolerance?: number;
}

export interface Cav {
  /** Unit vector; points from the negative set towards the positive (concept) set. */
  direction: Float32Array;
  /** The classifier is directionᵀx + bias > 0 → concept. */
  bias: number;
  /** Held-out accuracy on the test split. */
  accuracy: number;
  trainAccuracy: number;
  trainSize: number;
  testSize: number;
  /** Epochs of coordinate descent run; equal to maxEpochs when the tolerance was not reached. */
  epochs: number;
}

export const CAV_DEFAULTS = { testFraction: 1 / 3, alpha: 0.01, maxEpochs: 1000, tolerance: 1e-4 } as const;

/**
 * Which arithmetic trainCav does: cached CAVs (cav-cache.ts) are keyed by it, so bump it whenever a
 * change here can alter a trained CAV (the split, the centring, the solver, its stopping rule).
 */
export const CAV_SOLVER_VERSION = 1;

/** The options with their defaults filled in: what a trained CAV depends on besides its rows. */
export function resolveCavOptions(opts: CavOptions): Required<CavOptions> {
  return {
    seed: opts.seed,
    testFraction: opts.testFraction ?? CAV_DEFAULTS.testFraction,
    alpha: opts.alpha ?? CAV_DEFAULTS.alpha,
    maxEpochs: opts.maxEpochs ?? CAV_DEFAULTS.maxEpochs,
    tolerance: opts.tolerance ?? CAV_DEFAULTS.tolerance,
  };
}

export function trainCav(positive: readonly Float32Array[], negative: readonly Float32Array[], opts: CavOptions): Cav {
  const { testFraction, alpha, maxEpochs, tolerance } = resolveCavOptions(opts);
  if (!(testFraction > 0 && testFraction < 1)) throw new RangeError(`CAV testFraction must be in (0, 1), got ${testFraction}`);
  if (!(alpha > 0 && Number.isFinite(alpha))) throw new RangeError(`CAV alpha must be a positive number, got ${alpha}`);
  for (const [side, rows] of [['concept (positive)', positive], ['random (negative)', negative]] as const) {
    if (rows.length < 2) {
      throw new UserError(`a CAV needs at least 2 activation rows per side (one to train on, one to test); the ${side} set has ${rows.length}`);
    }
  }
  const dim = positive[0].length;
  if (dim === 0) throw new RangeError('CAV activation rows are empty');
  for (const [side, rows] of [['positive', positive], ['negative', negative]] as const) {
    rows.forEach((r, i) => {
      if (r.length !== dim) throw new RangeError(`CAV activation rows have differing lengths: positive[0] has ${dim} values, ${side}[${i}] has ${r.length}`);
    });
  }

  const rng = mulberry32(opts.seed);
  const pos = stratum(positive.length, testFraction, rng);
  const neg = stratum(negative.length, testFraction, rng);
  const pick = (rows: readonly Float32Array[], idx: Uint32Array) => Array.from(idx, (i) => rows[i]);
  const train = [...pick(positive, pos.train), ...pick(negative, neg.train)];
  const labels = Int8Array.from(train, (_, i) => (i < pos.train.length ? 1 : -1));
  const center = meanOf(positive, pos.train);
  const negativeMean = meanOf(negative, neg.train);
  for (let j = 0; j < dim; j++) center[j] = (center[j] + negativeMean[j]) / 2;
  // With s = 1 instead, noise-dominated rows of D = 62,720 needed ~40× more epochs.
  let spread = 0;
  for (const x of train) spread += squaredDistance(x, center);
  if (!Number.isFinite(spread)) throw new RangeError('CAV activation rows are not finite (NaN or ±Infinity values)');
  const svm =
    spread === 0 // every training row equals μ: the optimal w is exactly 0
      ? undefined
      : solveLinearSvm(train, labels, 1 / (alpha * train.length), rng, { maxEpochs, tolerance, center, interceptScaling: Math.sqrt(spread / train.length) });
  const norm = svm ? Math.sqrt(dot(svm.w, svm.w)) : 0;
  if (!svm || norm === 0) {
    throw new UserError('the concept and random activations cannot be told apart at all: the linear classifier learned a zero weight vector (are the training activations all identical?)');
  }
  const correct = (rows: readonly Float32Array[], idx: Uint32Array, label: number) => {
    let c = 0;
    for (const i of idx) {
      const s = dot(svm.w, rows[i]) + svm.bias;
      if (!Number.isFinite(s)) throw new RangeError(`CAV activation row is not finite (NaN or ±Infinity values)`);
      if ((s > 0 ? 1 : -1) === label) c++;
    }
    return c;
  };
  const testSize = pos.test.length + neg.test.length;
  return {
    direction: Float32Array.from(svm.w, (v) => v / norm),
    bias: svm.bias / norm,
    accuracy: (correct(positive, pos.test, 1) + correct(negative, neg.test, -1)) / testSize,
    trainAccuracy: (correct(positive, pos.train, 1) + correct(negative, neg.train, -1)) / train.length,
    trainSize: train.length,
    testSize,
    epochs: svm.epochs,
  };
}

export interface LinearSvm {
  /** Weights of the D features; the classifier is wᵀx + bias on the uncentred rows. */
  w: Float64Array;
  bias: number;
  epochs: number;
  /** The projected-gradient spread fell to the tolerance within maxEpochs. */
  converged: boolean;
}

export interface SvmOptions {
  maxEpochs: number;
  tolerance: number;
  /** μ: the rows are centred on it (default 0). */
  center?: Float64Array;
  /** s: the value of the constant feature whose weight β gives the bias b = s·β (default 1). */
  interceptScaling?: number;
}

/**
 * Hsieh et al.'s dual coordinate descent for
 *   min ½(‖w‖² + β²) + C Σ max(0, 1 − y_i (wᵀ(x_i − μ) + sβ)):
 * each epoch visits the rows in a fresh random order and minimises the dual exactly in α_i ∈ [0, C]
 * with (w, β) = Σ α_i y_i (x_i − μ, s) kept up to date. Stops when the projected gradients of an
 * epoch lie within `tolerance` of each other (max PG − min PG ≤ tolerance, as liblinear). `labels`
 * are ±1. Centring costs no pass over μ per update: w = v − κμ with v = Σ α_i y_i x_i and
 * κ = Σ α_i y_i, so wᵀ(x_i − μ) = vᵀx_i − κ·x_iᵀμ − vᵀμ + κ·μᵀμ with x_iᵀμ precomputed and vᵀμ
 * updated alongside v (and recomputed every epoch).
 */
export function solveLinearSvm(rows: readonly Float32Array[], labels: ArrayLike<number>, C: number, rng: Rng, opts: SvmOptions): LinearSvm {
  const n = rows.length;
  if (n === 0 || labels.length !== n) throw new RangeError(`SVM needs rows with one label each (${n} rows, ${labels.length} labels)`);
  if (!(C > 0 && Number.isFinite(C))) throw new RangeError(`SVM C must be a positive number, got ${C}`);
  if (!(opts.maxEpochs >= 1 && Number.isInteger(opts.maxEpochs))) throw new RangeError(`maxEpochs must be a positive integer, got ${opts.maxEpochs}`);
  if (!(opts.tolerance > 0)) throw new RangeError(`tolerance must be positive, got ${opts.tolerance}`);
  const s = opts.interceptScaling ?? 1;
  if (!(s > 0 && Number.isFinite(s))) throw new RangeError(`interceptScaling must be a positive number, got ${s}`);
  const dim = rows[0].length;
  const mu = opts.center ?? new Float64Array(dim);
  if (mu.length !== dim || rows.some((x) => x.length !== dim)) throw new RangeError('SVM rows and centre must all have the same length');
  const muMu = dot(mu, mu);
  const xMu = Float64Array.from(rows, (x) => dot(x, mu));
  const qii = Float64Array.from(rows, (x) => squaredDistance(x, mu) + s * s); // ‖(x − μ, s)‖²
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(qii[i])) throw new RangeError(`SVM row ${i} is not finite (NaN or ±Infinity values)`);
    if (labels[i] !== 1 && labels[i] !== -1) throw new RangeError(`SVM labels must be ±1, got ${labels[i]}`);
  }
  if (n <= GRAM_MAX_ROWS && n < dim) return solveWithGram(rows, labels, C, rng, opts, { mu, muMu, xMu, qii, s });
  const v = new Float64Array(dim);
  let kappa = 0;
  let b = 0; // s·β
  let vMu = 0;
  return descend(labels, C, qii, rng, opts, {
    startEpoch: () => { vMu = dot(v, mu); },
    gradient: (i) => labels[i] * (dot(v, rows[i]) - kappa * xMu[i] - vMu + kappa * muMu + b) - 1,
    update: (i, step) => {
      const x = rows[i];
      for (let j = 0; j < dim; j++) v[j] += step * x[j];
      vMu += step * xMu[i];
      kappa += step;
      b += step * s * s;
    },
    solution: (epochs, converged) => {
      const w = v.map((vj, j) => vj - kappa * mu[j]);
      return { w, bias: b - dot(w, mu), epochs, converged };
    },
  });
}

/** What the dual coordinate descent updates: the iterate, seen through one row at a time. */
interface DescentState {
  startEpoch?: () => void;
  /** ∂D/∂α_i = y_i·(wᵀx_i + b) − 1 under the current iterate. */
  gradient: (i: number) => number;
  /** α_i changed by step/y_i: move the iterate by step along row i. */
  update: (i: number, step: number) => void;
  /** The solution from the dual variables α. */
  solution: (epochs: number, converged: boolean, a: Float64Array) => LinearSvm;
}

/**
 * Dual coordinate descent (Hsieh et al. 2008) over 0 ≤ α ≤ C: rows in a fresh seeded order each
 * epoch, each α_i moved to its clipped optimum; done when the projected gradients' spread is
 * within the tolerance.
 */
function descend(labels: ArrayLike<number>, C: number, qii: Float64Array, rng: Rng, opts: SvmOptions, state: DescentState): LinearSvm {
  const n = qii.length;
  const a = new Float64Array(n);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let epoch = 1; epoch <= opts.maxEpochs; epoch++) {
    shuffle(order, rng);
    state.startEpoch?.();
    let pgMax = -Infinity;
    let pgMin = Infinity;
    for (const i of order) {
      const g = state.gradient(i);
      const ai = a[i];
      const pg = ai === 0 ? Math.min(g, 0) : ai === C ? Math.max(g, 0) : g;
      if (pg > pgMax) pgMax = pg;
      if (pg < pgMin) pgMin = pg;
      if (pg === 0) continue;
      const next = Math.min(Math.max(ai - g / qii[i], 0), C);
      const step = (next - ai) * labels[i];
      a[i] = next;
      if (step === 0) continue;
      state.update(i, step);
    }
    if (pgMax - pgMin <= opts.tolerance) return state.solution(epoch, true, a);
  }
  return state.solution(opts.maxEpochs, false, a);
}

/**
 * Up to this many training rows (and fewer rows than features), the same coordinate descent runs
 * on the Gram matrix: one pass of n²·D/2 multiply-adds, then each update costs O(n) instead of
 * O(D). Problems that are hard to separate (random against random) take hundreds of epochs,
 * which this makes cheap; past this size a Gram matrix costs more than the epochs it saves.
 */
const GRAM_MAX_ROWS = 200;

/** solveLinearSvm's iterates, with wᵀ(x_i − μ) + sβ kept for every row through G_ij = (x_i − μ)ᵀ(x_j − μ) + s². */
function solveWithGram(
  rows: readonly Float32Array[], labels: ArrayLike<number>, C: number, rng: Rng, opts: SvmOptions,
  pre: { mu: Float64Array; muMu: number; xMu: Float64Array; qii: Float64Array; s: number },
): LinearSvm {
  const n = rows.length;
  const dim = rows[0].length;
  const { mu, muMu, xMu, qii, s } = pre;
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    gram[i * n + i] = qii[i];
    for (let j = 0; j < i; j++) {
      const g = dot(rows[i], rows[j]) - xMu[i] - xMu[j] + muMu + s * s;
      gram[i * n + j] = g;
      gram[j * n + i] = g;
    }
  }
  const f = new Float64Array(n); // Σ_j α_j y_j G_ij: the decision value of row i
  return descend(labels, C, qii, rng, opts, {
    gradient: (i) => labels[i] * f[i] - 1,
    update: (i, step) => {
      const row = i * n;
      for (let k = 0; k < n; k++) f[k] += step * gram[row + k];
    },
    solution: (epochs, converged, a) => {
      const v = new Float64Array(dim);
      let kappa = 0;
      for (let i = 0; i < n; i++) {
        const c = a[i] * labels[i];
        if (c === 0) continue;
        kappa += c;
        const x = rows[i];
        for (let j = 0; j < dim; j++) v[j] += c * x[j];
      }
      const w = v.map((vj, j) => vj - kappa * mu[j]);
      return { w, bias: s * s * kappa - dot(w, mu), epochs, converged };
    },
  });
}

/** Splits 0..n−1 after a seeded shuffle: round(n·testFraction) to test, at least 1 in each part. */
function stratum(n: number, testFraction: number, rng: Rng): { train: Uint32Array; test: Uint32Array } {
  const idx = shuffle(Uint32Array.from({ length: n }, (_, i) => i), rng);
  const nTest = Math.min(n - 1, Math.max(1, Math.round(n * testFraction)));
  return { test: idx.subarray(0, nTest), train: idx.subarray(nTest) };
}

function meanOf(rows: readonly Float32Array[], idx: Uint32Array): Float64Array {
  const m = new Float64Array(rows[0].length);
  for (const i of idx) {
    const x = rows[i];
    for (let j = 0; j < m.length; j++) m[j] += x[j];
  }
  for (let j = 0; j < m.length; j++) m[j] /= idx.length;
  return m;
}

/** Fisher–Yates, in place. */
function shuffle(xs: Uint32Array, rng: Rng): Uint32Array {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = xs[i];
    xs[i] = xs[j];
    xs[j] = t;
  }
  return xs;
}

/** ‖x − μ‖². */
function squaredDistance(x: Float32Array, mu: Float64Array): number {
  let s = 0;
  for (let j = 0; j < x.length; j++) s += (x[j] - mu[j]) ** 2;
  return s;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j] * b[j];
  return s;
}

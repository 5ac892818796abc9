/**
 * Progress of long work on stderr. On a terminal, one line redrawn in place (not with --json), as
 * before; otherwise (a CI log, a pipe) a line at each 10% step: `30% <what> (12 s)`. And once,
 * before work estimated at more than a minute, on either: `xai-lens: this will take about 6 min
 * (60000 CAVs …); Ctrl+C stops it`.
 *
 * The estimate comes from the caller (a measured time per pass times the passes), or from the
 * progress itself: by default the time the work took from the first progress event to a later
 * one, scaled to the fraction still to do; a command whose work has phases of different cost
 * (TCAV: activations, then CAVs) gives its own `estimate`.
 */

/** Work estimated to take longer than this (seconds) gets the warning. */
export const LONG_WORK_SECONDS = 60;
/** The progress-based estimate waits for this much measured work (ms)… */
export const MEASURE_MS = 1500;
/** …and is not made once this fraction is done (the warning would come too late to matter). */
const LAST_ESTIMATE_AT = 0.5;

export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** --json: no redrawn line on a terminal (the lines and the warning stay: stdout is the JSON). */
  json?: boolean;
  /** Whether a terminal gets the redrawn line (default true; explain never drew one). */
  redraw?: boolean;
  /** What the work is, for the warning ("60000 CAVs to train"). */
  work?: () => string;
  /**
   * Seconds still to go, from the progress (fraction done, message, time in ms), or undefined
   * while not measured yet; called at each update until the warning or half the work is done.
   * Default: the rate since the first update (at least MEASURE_MS of it).
   */
  estimate?: (fraction: number, message: string, now: number) => number | undefined;
  stream?: ProgressStream;
  now?: () => number;
}

/** "45 s", "6 min", "2 h 10 min". */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ');

export class Progress {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly start: number;
  private next = 1;
  private drawn = false;
  private warned = false;
  private readonly estimator: (fraction: number, message: string, now: number) => number | undefined;

  constructor(private readonly opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    this.now = opts.now ?? (() => performance.now());
    this.start = this.now();
    this.estimator = opts.estimate ?? rateEstimate();
  }

  /** Work done so far, 0..1, and what is being done. */
  update(fraction: number, message: string): void {
    const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
    if (this.tty) {
      if (!this.opts.json && this.opts.redraw !== false) {
        this.stream.write(`\r${(f * 100).toFixed(0).padStart(3)}% ${oneLine(message).padEnd(60).slice(0, 60)}`);
        this.drawn = true;
      }
    } else {
      const step = Math.floor(f * 10 + 1e-9);
      if (step >= this.next) {
        this.stream.write(`${step * 10}% ${oneLine(message)} (${formatDuration((this.now() - this.start) / 1000)})\n`);
        this.next = step + 1;
      }
    }
    if (this.warned || f >= LAST_ESTIMATE_AT) return;
    const remaining = this.estimator(f, message, this.now());
    if (remaining !== undefined && remaining > LONG_WORK_SECONDS) this.warn(remaining, this.opts.work?.());
  }

  /** Warns once that the work will take about `seconds` (when that is over a minute). */
  warn(seconds: number, work?: string): void {
    if (this.warned || !(seconds > LONG_WORK_SECONDS)) return;
    this.warned = true;
    if (this.drawn) this.stream.write('\n');
    this.stream.write(`xai-lens: this will take about ${formatDuration(seconds)}${work ? ` (${work})` : ''}; Ctrl+C stops it\n`);
  }

  /** Ends the redrawn line. */
  end(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

/** The default estimate: the rate from the first update on, once MEASURE_MS of work is measured. */
export function rateEstimate(): (fraction: number, message: string, now: number) => number | undefined {
  let first: { fraction: number; t: number } | undefined;
  return (f, _message, t) => {
    if (!first) {
      first = { fraction: f, t };
      return undefined;
    }
    const dt = t - first.t;
    const df = f - first.fraction;
    return dt < MEASURE_MS || df <= 0 ? undefined : ((1 - f) * dt) / df / 1000;
  };
}

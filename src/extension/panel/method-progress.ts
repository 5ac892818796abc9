/**
 * The explain run's progress bar: a share of the bar per method and one for loading the model and
 * predicting. A method's share fills as it reports how far its map is (the methods that split their
 * work) and is completed when its map arrives, so the bar never moves back and ends full.
 */
export interface ProgressStep {
  message: string;
  /** Percent of the bar to add. */
  increment: number;
}

export class MethodProgress {
  private readonly filled = new Map<string, number>();
  private readonly share: number;

  constructor(private readonly labels: ReadonlyMap<string, string>, private readonly count = labels.size) {
    this.share = 100 / (count + 1);
  }

  private label(id: string): string {
    return this.labels.get(id) ?? id;
  }

  private fill(id: string, fraction: number): number {
    const was = this.filled.get(id) ?? 0;
    const now = Math.max(was, Math.min(1, fraction));
    this.filled.set(id, now);
    return (now - was) * this.share;
  }

  /** Method `id` is `percent` done. */
  progress(id: string, percent: number): ProgressStep {
    return { message: `${this.label(id)} ${Math.round(percent)}%`, increment: this.fill(id, percent / 100) };
  }

  /** Method `id`'s map arrived; `index` maps arrived before it. */
  done(id: string, index: number): ProgressStep {
    return { message: `${this.label(id)} (${index + 1}/${this.count})`, increment: this.fill(id, 1) };
  }
}

/**
 * The TCAV panel: runs an experiment file with its model (or the workspace's), streams progress
 * with cancel, shows the bars, saves each result beside the experiment and shows saved results
 * (other checkpoints) side by side. The run is a job of the compute pool: a worker runs it with its
 * copy of the model and spreads the activations over the other workers by image chunks.
 */
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MessageType, type FromPanelMessage, type TcavViewState } from '../../shared/protocol';
import { UserError } from '../../shared/errors';
import type { TcavResult } from '../../shared/tcav';
import { readExperiment } from '../tcav/experiment';
import { tcavJob, type TcavEvents, type TcavJobArgs } from '../compute/jobs/tcav';
import { listResults, loadResult, saveResult } from '../tcav/results-file';
import { PanelBase } from './panel-base';
import { DeferredProgress } from './deferred-progress';
import type { PanelServices } from './services';

export class TcavPanel extends PanelBase {
  private run?: { id: number; abort: AbortController };
  private ready = false;
  private runPending = false;
  /** Runs the host starts count down, so they never collide with the webview's request ids. */
  private hostRequest = -1;
  constructor(panel: vscode.WebviewPanel, private state: TcavViewState, services: PanelServices, onDispose: (p: TcavPanel) => void) {
    super(panel, services, 'tcav', `TCAV: ${path.basename(path.dirname(state.experiment))}`, onDispose as (p: PanelBase) => void);
  }

  get experiment(): string {
    return this.state.experiment;
  }

  protected get subject(): string {
    return this.state.experiment;
  }

  async onMessage(m: FromPanelMessage): Promise<void> {
    switch (m.type) {
      case MessageType.Ready:
        this.ready = true;
        await this.init();
        if (this.runPending) {
          this.runPending = false;
          await this.execute(this.hostRequest--);
        }
        return;
      case MessageType.TcavRun:
        this.state = { ...this.state, runs: m.runs };
        await this.execute(m.requestId);
        return;
      case MessageType.TcavCompare:
        this.state = { ...this.state, compare: m.files };
        this.compare();
        return;
      case MessageType.TcavOpenFile:
        if (fs.existsSync(m.file)) await vscode.window.showTextDocument(vscode.Uri.file(m.file), { viewColumn: vscode.ViewColumn.One, preview: true });
        return;
      case MessageType.Cancel:
        if (this.run?.id === m.requestId) this.run.abort.abort();
        return;
      default:
        return;
    }
  }

  /** Starts a run as soon as the webview is ready (now, if it is). */
  runWhenReady(): void {
    if (this.ready) void this.execute(this.hostRequest--);
    else this.runPending = true;
  }

  private async modelPath(explicit: string | undefined): Promise<string> {
    return explicit ?? (await this.services.resolveModelPath());
  }

  private async init(): Promise<void> {
    try {
      if (!fs.existsSync(this.state.experiment)) throw new UserError(`the experiment ${this.state.experiment} no longer exists`);
      const exp = readExperiment(this.state.experiment, { runs: this.state.runs });
      const file = await this.modelPath(exp.model);
      const saved = listResults(exp.file);
      const model = await this.services.describe(file);
      const t = typeof exp.target === 'number' ? exp.target : model.labels?.indexOf(exp.target) ?? -1;
      this.post({
        type: MessageType.TcavInit,
        state: this.state,
        experimentName: exp.name,
        model: { name: model.name, file: vscode.workspace.asRelativePath(model.file) },
        backend: this.services.backend.current?.backend ?? 'unknown',
        target: { index: t, label: model.labels?.[t] ?? (typeof exp.target === 'string' ? exp.target : undefined) },
        concepts: [...exp.concepts.map((c) => c.name), ...exp.relative.map(([a, b]) => `${a} vs ${b}`)],
        layers: exp.layers,
        runs: exp.runs,
        latest: saved.length > 0 ? loadResult(saved[0].file) : undefined,
        saved,
      });
      if (this.state.compare.length > 0) this.compare();
    } catch (err) {
      this.report(undefined, err);
    }
  }

  private compare(): void {
    try {
      const results = this.state.compare.filter((f) => fs.existsSync(f)).map((file) => ({ file, result: loadResult(file) }));
      this.post({ type: MessageType.TcavComparison, results });
    } catch (err) {
      this.report(undefined, err);
    }
  }

  private async execute(requestId: number): Promise<void> {
    this.run?.abort.abort();
    const run = { id: requestId, abort: new AbortController() };
    this.run = run;
    this.post({ type: MessageType.Started, requestId, reason: 'request' });
    const name = path.basename(path.dirname(this.state.experiment));
    const progress = new DeferredProgress(`XAI Lens: TCAV ${name}`, () => run.abort.abort(), 0);
    try {
      const exp = readExperiment(this.state.experiment, { runs: this.state.runs });
      const file = await this.modelPath(exp.model);
      const pool = await this.services.compute();
      const info = await this.services.describe(file);
      const model = this.services.modelRef(info.file);
      const args: TcavJobArgs = { experiment: exp.file, runs: this.state.runs, model, preprocess: this.services.preprocessFor(info) };
      let last = 0;
      const result = await pool.run<TcavResult>(tcavJob.kind, args, {
        model,
        signal: run.abort.signal,
        onEvent: (event, data) => {
          if (event !== 'progress' || this.run !== run) return;
          const { fraction, message } = data as TcavEvents['progress'];
          progress.report({ message, increment: Math.max(0, (fraction - last) * 100) });
          last = fraction;
          this.post({ type: MessageType.TcavProgress, requestId, fraction, message });
        },
      });
      const saved = saveResult(result);
      if (this.run === run) this.post({ type: MessageType.TcavResult, requestId, result, file: saved, saved: listResults(exp.file) });
    } catch (err) {
      if (this.run === run) this.report(requestId, err);
    } finally {
      progress.done();
      if (this.run === run) this.run = undefined;
    }
  }

  private report(requestId: number | undefined, err: unknown): void {
    this.fail(requestId, err, `TCAV ${path.basename(path.dirname(this.state.experiment))}`);
  }

  protected override stop(): void {
    this.run?.abort.abort();
  }
}

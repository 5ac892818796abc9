/**
 * The TCAV panel: runs an experiment file with its model (or the workspace's), streams progress
 * with cancel, shows the bars, saves each result beside the experiment and shows saved results
 * (other checkpoints) side by side. The run is a job of the compute pool: a worker runs it with its
 * copy of the model and spreads the activations over the other workers by image chunks.
 */
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MessageType } from '../../shared/protocol/common';
import type { TcavRequestKind, TcavToHost, TcavToWebview, TcavViewState } from '../../shared/protocol/tcav';
import { PendingRequests, type PendingRequest } from '../../shared/protocol/requests';
import { UserError } from '../../shared/errors';
import type { TcavResult } from '../../shared/tcav';
import { readExperiment } from '../tcav/experiment';
import { tcavJob, type TcavEvents, type TcavJobArgs } from '../compute/jobs/tcav';
import { listResults, loadResult, saveResult } from '../tcav/results-file';
import { PanelBase } from './panel-base';
import type { PanelServices } from './services';

export class TcavPanel extends PanelBase<TcavToHost, TcavToWebview> {
  /** The run in flight: the webview's, or one the host started (XAI Lens: Run TCAV). */
  private readonly runs = new PendingRequests<TcavRequestKind>({ side: 'host' });
  private ready = false;
  private runPending = false;
  constructor(panel: vscode.WebviewPanel, private state: TcavViewState, services: PanelServices) {
    super(panel, services, 'tcav', `TCAV: ${path.basename(path.dirname(state.experiment))}`);
  }

  get experiment(): string {
    return this.state.experiment;
  }

  protected get subject(): string {
    return this.state.experiment;
  }

  async onMessage(m: TcavToHost): Promise<void> {
    switch (m.type) {
      case MessageType.Ready:
        this.ready = true;
        await this.init();
        if (this.runPending) {
          this.runPending = false;
          await this.execute(this.runs.start('run'));
        }
        return;
      case MessageType.TcavRun:
        this.state = { ...this.state, runs: m.runs };
        await this.execute(this.runs.start('run', { id: m.requestId }));
        return;
      case MessageType.TcavCompare:
        this.state = { ...this.state, compare: m.files };
        this.compare();
        return;
      case MessageType.TcavOpenFile:
        if (fs.existsSync(m.file)) await vscode.window.showTextDocument(vscode.Uri.file(m.file), { viewColumn: vscode.ViewColumn.One, preview: true });
        return;
      case MessageType.Cancel:
        this.runs.cancel(m.requestId);
        return;
      default:
        return;
    }
  }

  /** Starts a run as soon as the webview is ready (now, if it is). */
  runWhenReady(): void {
    if (this.ready) void this.execute(this.runs.start('run'));
    else this.runPending = true;
  }

  private async modelPath(explicit: string | undefined): Promise<string> {
    return explicit ?? (await this.services.models.resolveModelPath());
  }

  private async init(): Promise<void> {
    try {
      if (!fs.existsSync(this.state.experiment)) throw new UserError(`the experiment ${this.state.experiment} no longer exists`);
      const exp = readExperiment(this.state.experiment, { runs: this.state.runs });
      const file = await this.modelPath(exp.model);
      const saved = listResults(exp.file);
      const model = await this.services.models.describe(file);
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
      this.fail(undefined, err, this.what());
    }
  }

  private compare(): void {
    try {
      const results = this.state.compare.filter((f) => fs.existsSync(f)).map((file) => ({ file, result: loadResult(file) }));
      this.post({ type: MessageType.TcavComparison, results });
    } catch (err) {
      this.fail(undefined, err, this.what());
    }
  }

  /** Runs TCAV; starting the run superseded (aborted) the one before. */
  private async execute(run: PendingRequest<TcavRequestKind>): Promise<void> {
    const requestId = run.id;
    this.post({ type: MessageType.Started, requestId, reason: 'request' });
    const name = path.basename(path.dirname(this.state.experiment));
    await this.runTracked(this.runs, run, `XAI Lens: TCAV ${name}`, () => this.what(), async (progress) => {
      const exp = readExperiment(this.state.experiment, { runs: this.state.runs });
      const file = await this.modelPath(exp.model);
      const pool = await this.services.models.compute();
      const info = await this.services.models.describe(file);
      const model = this.services.models.modelRef(info.file);
      const args: TcavJobArgs = { experiment: exp.file, runs: this.state.runs, model, preprocess: this.services.settings.preprocessFor(info) };
      let last = 0;
      const result = await pool.run<TcavResult>(tcavJob.kind, args, {
        model,
        signal: run.signal,
        onEvent: (event, data) => {
          if (event !== 'progress' || !run.current) return;
          const { fraction, message } = data as TcavEvents['progress'];
          progress.report({ message, increment: Math.max(0, (fraction - last) * 100) });
          last = fraction;
          this.post({ type: MessageType.TcavProgress, requestId, fraction, message });
        },
      });
      const saved = saveResult(result);
      if (run.current) this.post({ type: MessageType.TcavResult, requestId, result, file: saved, saved: listResults(exp.file) });
    });
  }

  private what(): string {
    return `TCAV ${path.basename(path.dirname(this.state.experiment))}`;
  }

  protected override stop(): void {
    this.runs.dispose();
  }
}

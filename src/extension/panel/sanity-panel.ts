/**
 * The sanity-check panel: runs Adebayo et al.'s randomization checks on one or more images with
 * the workspace's model and streams the strip's maps, then the similarities and verdicts. The
 * check is a job of the compute pool: each worker randomizes its own copy of the model only while
 * it computes steps of the check, and puts the weights back before it takes other work, so
 * explain panels computing at the same time never see randomized weights.
 */
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { MessageType } from '../../shared/protocol/common';
import type { SanityRequestKind, SanityToHost, SanityToWebview, SanityViewState } from '../../shared/protocol/sanity';
import { PendingRequests } from '../../shared/protocol/requests';
import { UserError } from '../../shared/errors';
import { EXPLAINERS, explainerById } from '../explain/registry';
import { loadDisplayImage } from '../image/decode';
import { modelDisplayName } from '../model/load';
import { sanityJob, type SanityEvents, type SanityJobArgs } from '../compute/jobs/sanity';
import type { SanityResult } from '../sanity/types';
import { findModelFiles } from '../commands/model-choice';
import { PanelBase } from './panel-base';
import type { PanelServices } from './services';

/** The methods a new sanity check compares: the paper's contrast of a passing and a failing kind. */
export const DEFAULT_SANITY_METHODS = ['gradient', 'gradcam', 'guidedbp'];

export class SanityPanel extends PanelBase<SanityToHost, SanityToWebview> {
  /** The check in flight (a new run supersedes it). */
  private readonly runs = new PendingRequests<SanityRequestKind>({ side: 'host' });

  constructor(panel: vscode.WebviewPanel, private state: SanityViewState, services: PanelServices) {
    super(panel, services, 'sanity', `Sanity check: ${path.basename(state.images[0])}${state.images.length > 1 ? ` +${state.images.length - 1}` : ''}`);
  }

  get images(): string[] {
    return this.state.images;
  }

  protected get subject(): string {
    return this.state.images[0];
  }

  async onMessage(m: SanityToHost): Promise<void> {
    switch (m.type) {
      case MessageType.Ready:
        await this.init();
        return;
      case MessageType.SanityRun:
        this.state = { ...m.state, images: this.state.images };
        await this.check(m.requestId);
        return;
      case MessageType.SanityPickTwin:
        await this.pickTwin();
        return;
      case MessageType.Cancel:
        this.runs.cancel(m.requestId);
        return;
      default:
        return;
    }
  }

  private async init(): Promise<void> {
    try {
      const missing = this.state.images.find((f) => !fs.existsSync(f));
      if (missing) throw new UserError(`the image ${missing} no longer exists`);
      const display = await loadDisplayImage(this.state.images[0], 512);
      const png = await sharp(Buffer.from(display.data), { raw: { width: display.width, height: display.height, channels: 3 } }).png().toBuffer();
      await this.services.backend.ensure();
      const file = await this.services.models.resolveModelPath();
      const model = await this.services.models.describe(file);
      this.post({
        type: MessageType.SanityInit,
        state: this.state,
        imageName: path.basename(this.state.images[0]),
        image: png.buffer.slice(png.byteOffset, png.byteOffset + png.byteLength) as ArrayBuffer,
        imageMime: 'image/png',
        model: { name: model.name, file: vscode.workspace.asRelativePath(model.file) },
        backend: this.services.backend.current?.backend ?? 'unknown',
        methods: EXPLAINERS.map((e) => ({ id: e.id, label: e.label, family: e.family, unavailable: model.unavailable[e.id] ?? model.noRandomizer })),
      });
    } catch (err) {
      this.fail(undefined, err, this.what());
    }
  }

  /** Lets the user pick the model trained on permuted labels, then starts over with it. */
  private async pickTwin(): Promise<void> {
    const current = await this.services.models.resolveModelPath();
    const files = (await findModelFiles()).filter((f) => f.fsPath !== current);
    if (files.length === 0) {
      void vscode.window.showWarningMessage('XAI Lens: data randomization needs a second model in the workspace: the same architecture trained on permuted labels.');
      return;
    }
    const pick = await vscode.window.showQuickPick(
      [{ label: 'None', description: 'no data randomization', file: undefined as string | undefined }, ...files.map((f) => ({ label: modelDisplayName(f.fsPath), description: vscode.workspace.asRelativePath(f.fsPath), file: f.fsPath }))],
      { title: 'XAI Lens: the model trained on permuted labels', placeHolder: 'Same architecture as the model being checked, trained on randomly permuted labels' },
    );
    if (!pick) return;
    this.state = { ...this.state, twin: pick.file ? vscode.workspace.asRelativePath(pick.file) : undefined };
    await this.init();
  }

  private twinPath(): string | undefined {
    const t = this.state.twin;
    if (!t) return undefined;
    if (path.isAbsolute(t)) return t;
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      const p = path.join(folder.uri.fsPath, t);
      if (fs.existsSync(p)) return p;
    }
    return t;
  }

  private async check(requestId: number): Promise<void> {
    const run = this.runs.start('run', { id: requestId });
    this.post({ type: MessageType.Started, requestId, reason: 'request' });
    const t0 = performance.now();
    await this.runTracked(this.runs, run, `XAI Lens: sanity check of ${path.basename(this.state.images[0])}`, () => this.what(), async (progress) => {
      const pool = await this.services.models.compute();
      const file = await this.services.models.resolveModelPath();
      progress.report({ message: 'loading the model' });
      const info = await this.services.models.describe(file);
      const twinFile = this.twinPath();
      if (this.state.methods.length === 0) throw new UserError('pick at least one method to check');
      // Unknown ids fail here, before a worker is asked.
      const methods = this.state.methods.map((id) => explainerById(id).id);
      const first = this.state.images[0];
      let last = 0;
      const model = this.services.models.modelRef(file);
      const args: SanityJobArgs = {
        model, ...(twinFile ? { twin: this.services.models.modelRef(twinFile) } : {}), images: this.state.images, methods,
        mode: this.state.mode, seed: this.state.seed, target: 'top', preprocess: this.services.settings.preprocessFor(info),
        metric: this.state.metric, threshold: this.state.threshold,
      };
      const onEvent = (name: string, data: unknown) => {
        if (!run.current) return;
        if (name === 'progress') {
          const { fraction, message } = data as SanityEvents['progress'];
          progress.report({ message, increment: Math.max(0, (fraction - last) * 100) });
          last = fraction;
          this.post({ type: MessageType.SanityProgress, requestId, fraction, message });
        } else if (name === 'map') {
          const e = data as SanityEvents['map'];
          if (e.image !== first) return;
          const map = e.map;
          this.post({
            type: MessageType.SanityMap, requestId, method: e.method, step: e.step, height: e.height, width: e.width, signed: e.signed,
            data: map.buffer.slice(map.byteOffset, map.byteOffset + map.byteLength) as ArrayBuffer,
          });
        }
      };
      const result = await pool.run<SanityResult>(sanityJob.kind, args, { signal: run.signal, onEvent, model });
      if (run.current) this.post({ type: MessageType.SanityResult, requestId, result, ms: performance.now() - t0 });
    });
  }

  private what(): string {
    return `Sanity check of ${path.basename(this.state.images[0])}`;
  }

  protected override stop(): void {
    this.runs.dispose();
  }
}

/**
 * One panel per image: shows the image, the top predictions and the heatmaps, and recomputes on
 * request (another class or layer) or when the model's checkpoint changes. A new request
 * supersedes the one running; every run is cancellable from the progress notification.
 */
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { MessageType } from '../../shared/protocol/common';
import type { AttentionRequestMessage, ExplainToHost, ExplainToWebview, ExplainViewState } from '../../shared/protocol/explain';
import { PendingRequests, type PendingRequest } from '../../shared/protocol/requests';
import { CancelledError, UserError } from '../../shared/errors';
import type { MethodResult } from '../explain/explain-image';
import { EXPLAINERS } from '../explain/registry';
import { loadDisplayImage } from '../image/decode';
import { renderOverlayPng } from '../image/overlay';
import { encodeNpy } from '../image/npy';
import { readBox } from '../image/boxes';
import { COMMANDS } from '../settings/ids';
import { PanelBase } from './panel-base';
import { DeferredProgress } from './deferred-progress';
import { MethodProgress } from './method-progress';
import type { PanelServices } from './services';
import type { ComputePool } from '../compute/pool';
import type { ModelInfo } from '../compute/jobs/describe';
import { explainJob, type ExplainEvents, type ExplainJobArgs } from '../compute/jobs/explain';
import { attentionMapJob } from '../compute/jobs/attention';

const DISPLAY_MAX_SIDE = 1024;
const MAX_CACHED_MAPS = 64;

type Run = PendingRequest<'explain'>;

export class ExplainPanel extends PanelBase<ExplainToHost, ExplainToWebview> {
  /**
   * The explain run in flight: the webview's request, or one the host started (on opening, for a
   * new checkpoint). An attention request is one job, answered by its map whenever it is ready.
   */
  private readonly runs = new PendingRequests<'explain'>({ side: 'host' });
  private lastMaps = new Map<string, MethodResult>();
  /** Maps already computed with one model version (file and checkpoint), by target, layer and method. */
  private cache = { version: '', maps: new Map<string, MethodResult>() };
  private modelFile?: string;

  constructor(panel: vscode.WebviewPanel, private state: ExplainViewState, services: PanelServices) {
    super(panel, services, 'explain', `Explain: ${path.basename(state.imagePath)}`);
  }

  get imagePath(): string {
    return this.state.imagePath;
  }

  protected get subject(): string {
    return this.state.imagePath;
  }

  /** The model file this panel shows, once known. */
  get model(): string | undefined {
    return this.modelFile;
  }

  async onMessage(m: ExplainToHost): Promise<void> {
    switch (m.type) {
      case MessageType.Ready:
        await this.init();
        return;
      case MessageType.Explain:
        this.state = { ...this.state, target: m.target, layer: m.layer, methods: m.methods ?? this.state.methods, metrics: m.metrics ?? this.state.metrics };
        await this.explain(this.runs.start('explain', { id: m.requestId }), 'request');
        return;
      case MessageType.Cancel:
        this.runs.cancel(m.requestId);
        return;
      case MessageType.ExportPng:
        await this.guard(() => this.exportPng(m.method, m.colormap, m.opacity));
        return;
      case MessageType.CopyNpy:
        await this.guard(() => this.copyNpy(m.method));
        return;
      case MessageType.Attention:
        this.state = { ...this.state, attention: { open: true, mode: m.mode, fusion: m.fusion, discardRatio: m.discardRatio, layer: m.layer, head: m.head, query: m.query } };
        await this.attention(m);
        return;
      case MessageType.OpenSanityCheck:
        await vscode.commands.executeCommand(COMMANDS.runSanityCheck, vscode.Uri.file(this.state.imagePath));
        return;
      default:
        return;
    }
  }

  private async guard(f: () => Promise<void>): Promise<void> {
    try {
      await f();
    } catch (err) {
      this.services.showError(err instanceof Error ? err.message : String(err));
    }
  }

  /** Runs `use` with what a worker says about the workspace's model (loaded there, or reloaded when its files changed). */
  private async withModel<T>(use: (model: ModelInfo, pool: ComputePool) => Promise<T>): Promise<T> {
    const pool = await this.services.models.compute();
    const file = await this.services.models.resolveModelPath();
    const model = await this.services.models.describe(file, this.state.layer);
    this.modelFile = model.file;
    this.services.backend.setModel(model.name);
    return use(model, pool);
  }

  private async init(): Promise<void> {
    try {
      if (!fs.existsSync(this.state.imagePath)) throw new UserError(`the image ${this.state.imagePath} no longer exists`);
      const display = await loadDisplayImage(this.state.imagePath, DISPLAY_MAX_SIDE);
      await this.withModel((model) => this.sendInit(model, display));
      await this.explain(this.runs.start('explain'), 'request');
    } catch (err) {
      this.report(undefined, err);
    }
  }

  private async sendInit(model: ModelInfo, display: { data: Uint8Array; width: number; height: number }): Promise<void> {
    const png = await sharp(Buffer.from(display.data), { raw: { width: display.width, height: display.height, channels: 3 } }).png().toBuffer();
    const attention = (await this.services.models.attention(model.file).catch(() => undefined))?.image;
    this.post({
      type: MessageType.Init,
      state: { ...this.state, metrics: this.state.metrics ?? this.services.settings.metricsByDefault() },
      imageName: path.basename(this.state.imagePath),
      image: png.buffer.slice(png.byteOffset, png.byteOffset + png.byteLength) as ArrayBuffer,
      imageMime: 'image/png',
      imageSize: { width: display.width, height: display.height },
      model: {
        name: model.name,
        file: vscode.workspace.asRelativePath(model.file),
        inputSize: [model.inputShape[0], model.inputShape[1]],
        preprocess: this.services.settings.preprocessFor(model),
        checkpoint: model.checkpoint,
      },
      backend: this.services.backend.current?.backend ?? 'unknown',
      layers: model.layers.filter((l) => l.spatial).map((l) => ({ name: l.name, className: l.className, shape: l.outputShape.slice(1) })),
      defaultLayer: model.defaultLayer,
      methods: EXPLAINERS.map((e) => ({ id: e.id, label: e.label, family: e.family, unavailable: model.unavailable[e.id] })),
      defaultMethods: this.services.settings.defaultMethods(),
      ...(attention ? { attention } : {}),
    });
  }

  /** Shows the Attention tab (XAI Lens: Show Attention on an image whose panel is open). */
  async showAttention(): Promise<void> {
    this.state = { ...this.state, attention: { mode: 'rollout', fusion: 'mean', discardRatio: 0, ...this.state.attention, open: true } };
    await this.init();
  }

  /** One attention map of the image (the Attention tab of ViT-like models). */
  private async attention(m: AttentionRequestMessage): Promise<void> {
    try {
      await this.withModel(async (model, pool) => {
        const ref = this.services.models.modelRef(model.file);
        this.post(await pool.run(attentionMapJob.kind, { model: ref, imageFile: this.state.imagePath, preprocess: this.services.settings.preprocessFor(model), request: m }, { model: ref }));
      });
    } catch (err) {
      this.report(m.requestId, err);
    }
  }

  /** Recomputes after the model's files changed (a new checkpoint). */
  async recompute(): Promise<void> {
    await this.explain(this.runs.start('explain'), 'checkpoint');
  }

  /** Runs an explain request; starting it superseded (aborted) the run before. */
  private async explain(run: Run, reason: 'request' | 'checkpoint'): Promise<void> {
    const requestId = run.id;
    this.post({ type: MessageType.Started, requestId, reason });
    const t0 = performance.now();
    const progress = new DeferredProgress(`XAI Lens: explaining ${path.basename(this.state.imagePath)}`, () => {
      if (run.current) this.runs.cancel(requestId);
    });
    try {
      progress.report({ message: 'loading the model' });
      await this.withModel((model, pool) => this.compute(model, pool, run, progress));
      if (run.current) this.post({ type: MessageType.Done, requestId, ms: performance.now() - t0 });
    } catch (err) {
      if (run.current) this.report(requestId, err);
    } finally {
      progress.done();
      this.runs.end(run);
    }
  }

  /** Predictions, then each map, posted as soon as each is ready (unless superseded). */
  private async compute(model: ModelInfo, pool: ComputePool, run: Run, progress: DeferredProgress): Promise<void> {
    if (run.signal.aborted) throw new CancelledError();
    const requestId = run.id;
    const methods = this.services.settings.methodsFor(model, this.state.methods);
    const withMetrics = this.state.metrics ?? this.services.settings.metricsByDefault();
    const box = withMetrics ? readBox(this.state.imagePath) : undefined;
    const version = `${model.file}@${model.checkpoint}`;
    if (this.cache.version !== version) this.cache = { version, maps: new Map() };
    // This run's cache: a run superseded by a new checkpoint keeps writing into the old one.
    const cached = this.cache.maps;
    const layer = this.state.layer ?? '';
    const cacheKey = (method: string, target: number) => `${target}|${layer}|${method}`;
    this.lastMaps.clear();
    const ref = this.services.models.modelRef(model.file);
    const args: ExplainJobArgs = {
      model: ref,
      imageFile: this.state.imagePath,
      methods: methods.map((m) => m.id),
      target: this.state.target ?? 'top',
      layer: this.state.layer,
      preprocess: this.services.settings.preprocessFor(model),
      topK: this.services.settings.topK(),
      metrics: withMetrics ? { box } : undefined,
      reuse: [...cached.entries()].filter(([k]) => k.split('|')[1] === layer).map(([, m]) => m),
    };
    const bar = new MethodProgress(new Map(methods.map((m) => [m.id, m.label])));
    const on: { [K in keyof ExplainEvents]: (e: ExplainEvents[K]) => void } = {
      predictions: (e) => {
        if (run.current) this.post({ type: MessageType.Predictions, requestId, predictions: e.predictions, target: e.target, checkpoint: e.checkpoint });
      },
      progress: (e) => progress.report(bar.progress(e.id, e.percent)),
      method: (e) => progress.report(bar.done(e.id, e.index)),
      map: (m) => {
        if (cached.size >= MAX_CACHED_MAPS) cached.delete(cached.keys().next().value!);
        cached.set(cacheKey(m.method, m.target), m);
        if (!run.current) return;
        this.lastMaps.set(m.method, m);
        const data = m.map.data;
        this.post({
          type: MessageType.Map, requestId, method: m.method, label: m.label, layer: m.map.layer,
          data: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
          height: m.map.height, width: m.map.width, ms: m.ms, signed: m.map.signed === true, ...(m.map.stats ? { stats: m.map.stats } : {}), ...(m.map.note ? { note: m.map.note } : {}),
        });
      },
      metrics: ({ result, ms }) => {
        const known = cached.get(cacheKey(result.method, result.target));
        if (known) known.metrics = result.metrics;
        if (run.current && result.metrics) this.post({ type: MessageType.Metrics, requestId, method: result.method, metrics: result.metrics, ms });
      },
    };
    await pool.run(explainJob.kind, args, {
      model: ref,
      signal: run.signal,
      onEvent: (name, data) => (on[name as keyof ExplainEvents] as ((e: unknown) => void) | undefined)?.(data),
    });
  }

  private report(requestId: number | undefined, err: unknown): void {
    this.fail(requestId, err, `Explaining ${path.basename(this.state.imagePath)}`);
  }

  private mapFor(method: string): MethodResult {
    const m = this.lastMaps.get(method);
    if (!m) throw new UserError(`no ${method} map to export yet`);
    return m;
  }

  private outputPath(method: string, ext: string): string {
    const { dir, name } = path.parse(this.state.imagePath);
    return path.join(dir, `${name}.${method}.${ext}`);
  }

  private async exportPng(method: string, colormap: ExplainViewState['colormap'], opacity: number): Promise<void> {
    const m = this.mapFor(method);
    const display = await loadDisplayImage(this.state.imagePath, DISPLAY_MAX_SIDE);
    const png = await renderOverlayPng({ image: display, map: m.map.data, mapHeight: m.map.height, mapWidth: m.map.width, colormap, opacity });
    const file = this.outputPath(method, 'png');
    fs.writeFileSync(file, png);
    const open = await vscode.window.showInformationMessage(`XAI Lens: saved ${path.basename(file)}`, 'Open');
    if (open) await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(file), vscode.ViewColumn.Beside);
  }

  /** Copies the map as a Python snippet that rebuilds it from an embedded .npy (base64). */
  private async copyNpy(method: string): Promise<void> {
    const m = this.mapFor(method);
    const shape = m.shape;
    const npy = encodeNpy(m.upsampled, shape);
    const snippet = `import base64, io, numpy as np\n${method} = np.load(io.BytesIO(base64.b64decode("${npy.toString('base64')}")))  # float32 ${shape.join('x')}\n`;
    await vscode.env.clipboard.writeText(snippet);
    void vscode.window.showInformationMessage(`XAI Lens: copied the ${method} map (${shape.join('×')}, float32) as .npy — paste into Python.`);
  }

  protected override stop(): void {
    this.runs.dispose();
  }
}

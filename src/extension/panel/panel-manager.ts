/**
 * The open panels (one per image), their restoration after a window reload, and the watcher that
 * recomputes them when their model's files change (a training loop writing a checkpoint).
 */
import { checkpointTime, formatOf } from '../model/formats/registry';
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExplainPanel } from './explain-panel';
import type { PanelServices, PostedMessage } from './services';
import type { BackendController } from '../commands/backend-status';
import { EXPLAINERS } from '../explain/registry';
import type { ComputePool } from '../compute/pool';
import type { ModelRef } from '../compute/protocol';
import { describeJob, type ModelInfo } from '../compute/jobs/describe';
import { attentionInfoJob, type AttentionSummary } from '../compute/jobs/attention';
import { mayHaveAttention } from '../attention/attention-cache';
import { resolveModelPath } from '../commands/model-choice';
import { colormapSetting, defaultMethodsSetting, faithfulnessSetting, onnxRuntimeSetting, preprocessSetting, topKSetting } from '../settings/settings';
import { ATTENTION_VIEW_TYPE, PANEL_VIEW_TYPE, SANITY_VIEW_TYPE, SETTINGS, TCAV_VIEW_TYPE } from '../settings/ids';
import type { AttentionTokenViewState, PanelViewState, SanityViewState, TcavViewState } from '../../shared/protocol';
import { DEFAULT_SANITY_METHODS, SanityPanel } from './sanity-panel';
import { TcavPanel } from './tcav-panel';
import { AttentionPanel } from './attention-panel';
import type { Explainer } from '../explain/explainer';
import type { PreprocessPreset } from '../image/preprocess';

/** The model files' checkpoint (their time), or a placeholder while they cannot be read. */
function checkpointStamp(file: string): string {
  try {
    return checkpointTime(file);
  } catch {
    return 'unreadable';
  }
}

/** Quiet time after the last file event before a changed model is reloaded. */
const CHECKPOINT_DEBOUNCE_MS = 1500;

export class PanelManager implements PanelServices, vscode.Disposable {
  /** What workers said about each model file, by file and checkpoint (asked once per checkpoint and layer). */
  private readonly infos = new Map<string, Promise<ModelInfo>>();
  private readonly panels = new Map<string, ExplainPanel>();
  private readonly sanityPanels = new Set<SanityPanel>();
  private readonly tcavPanels = new Set<TcavPanel>();
  private readonly attentionPanels = new Set<AttentionPanel>();
  private readonly posted = new vscode.EventEmitter<PostedMessage>();
  private readonly errors = new vscode.EventEmitter<string>();
  private readonly watchers = new Map<string, vscode.Disposable>();
  private readonly disposables: vscode.Disposable[] = [];
  private modelPath?: string;
  readonly onDidPostMessage = this.posted.event;
  readonly onDidShowError = this.errors.event;

  constructor(
    readonly context: vscode.ExtensionContext,
    readonly backend: BackendController,
  ) {
    this.disposables.push(
      vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown) => {
          const s = state as Partial<PanelViewState> | undefined;
          if (!s?.imagePath) {
            panel.dispose();
            return;
          }
          this.adopt(panel, { colormap: colormapSetting(), opacity: 0.5, ...s } as PanelViewState);
        },
      }),
      vscode.window.registerWebviewPanelSerializer(SANITY_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown) => {
          const s = state as Partial<SanityViewState> | undefined;
          if (!s?.images?.length) {
            panel.dispose();
            return;
          }
          this.adoptSanity(panel, { ...this.sanityDefaults(s.images), ...s } as SanityViewState);
        },
      }),
      vscode.window.registerWebviewPanelSerializer(TCAV_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown) => {
          const s = state as Partial<TcavViewState> | undefined;
          if (!s?.experiment) {
            panel.dispose();
            return;
          }
          this.adoptTcav(panel, { magnitude: false, compare: [], ...s } as TcavViewState);
        },
      }),
      vscode.window.registerWebviewPanelSerializer(ATTENTION_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown) => {
          const s = state as Partial<AttentionTokenViewState> | undefined;
          if (!s?.model) {
            panel.dispose();
            return;
          }
          this.adoptAttention(panel, { texts: [], view: 'head', ...s } as AttentionTokenViewState);
        },
      }),
      this.posted,
      this.errors,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${SETTINGS.section}.${SETTINGS.modelPath}`)) this.modelPath = undefined;
        // The pool starts again with the new backend or size; its models load again there.
        if (e.affectsConfiguration(SETTINGS.section)) this.infos.clear();
      }),
    );
  }

  /** Opens (or reveals) the panel for an image beside the active editor. */
  open(image: vscode.Uri, opts: { attention?: boolean } = {}): ExplainPanel {
    const key = image.fsPath;
    const existing = this.panels.get(key);
    if (existing) {
      existing.panel.reveal(vscode.ViewColumn.Beside, true);
      if (opts.attention) void existing.showAttention();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, `Explain: ${path.basename(key)}`, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true });
    return this.adopt(panel, {
      imagePath: key, colormap: colormapSetting(), opacity: 0.5,
      ...(opts.attention ? { attention: { open: true, mode: 'rollout', fusion: 'mean', discardRatio: 0 } } : {}),
    });
  }

  private adopt(panel: vscode.WebviewPanel, state: PanelViewState): ExplainPanel {
    const p = new ExplainPanel(panel, state, this);
    this.panels.set(state.imagePath, p);
    return p;
  }

  /** Opens a sanity-check panel for one or more images (their mean and spread). */
  openSanity(images: vscode.Uri[]): SanityPanel {
    const files = images.map((u) => u.fsPath);
    const title = `Sanity check: ${path.basename(files[0])}`;
    const panel = vscode.window.createWebviewPanel(SANITY_VIEW_TYPE, title, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false });
    return this.adoptSanity(panel, this.sanityDefaults(files));
  }

  private sanityDefaults(images: string[]): SanityViewState {
    return { images, methods: [...DEFAULT_SANITY_METHODS], mode: 'cascading', metric: 'spearman', threshold: 0.5, seed: 0, colormap: colormapSetting() };
  }

  private adoptSanity(panel: vscode.WebviewPanel, state: SanityViewState): SanityPanel {
    const p = new SanityPanel(panel, state, this, (x) => this.sanityPanels.delete(x));
    this.sanityPanels.add(p);
    return p;
  }

  /** Opens (or reveals) the TCAV panel of an experiment file. */
  openTcav(experiment: vscode.Uri): TcavPanel {
    const existing = this.tcavPanelFor(experiment.fsPath);
    if (existing) {
      existing.panel.reveal(vscode.ViewColumn.Beside, false);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(TCAV_VIEW_TYPE, 'TCAV', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false });
    return this.adoptTcav(panel, { experiment: experiment.fsPath, magnitude: false, compare: [] });
  }

  private adoptTcav(panel: vscode.WebviewPanel, state: TcavViewState): TcavPanel {
    const p = new TcavPanel(panel, state, this, (x) => this.tcavPanels.delete(x));
    this.tcavPanels.add(p);
    return p;
  }

  /** Opens (or reveals) the token-attention panel of a model. */
  openAttention(modelFile: string): AttentionPanel {
    const existing = this.attentionPanelFor(modelFile);
    if (existing) {
      existing.panel.reveal(vscode.ViewColumn.Beside, false);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(ATTENTION_VIEW_TYPE, 'Attention', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false });
    return this.adoptAttention(panel, { model: modelFile, texts: [], view: 'head' });
  }

  private adoptAttention(panel: vscode.WebviewPanel, state: AttentionTokenViewState): AttentionPanel {
    const p = new AttentionPanel(panel, state, this, (x) => this.attentionPanels.delete(x));
    this.attentionPanels.add(p);
    return p;
  }

  attentionPanelFor(modelFile: string): AttentionPanel | undefined {
    return [...this.attentionPanels].find((p) => p.model === modelFile);
  }

  tcavPanelFor(experiment: string): TcavPanel | undefined {
    return [...this.tcavPanels].find((p) => p.experiment === experiment);
  }

  /** The newest sanity panel whose first image is `imagePath`. */
  sanityPanelFor(imagePath: string): SanityPanel | undefined {
    return [...this.sanityPanels].reverse().find((p) => p.images[0] === imagePath);
  }

  panelFor(imagePath: string): ExplainPanel | undefined {
    return this.panels.get(imagePath);
  }

  get openPanels(): ExplainPanel[] {
    return [...this.panels.values()];
  }

  // ---- PanelServices ----

  /** The workspace's model; remembered until the setting changes or the file goes away. */
  async resolveModelPath(): Promise<string> {
    if (this.modelPath && fs.existsSync(this.modelPath)) return this.modelPath;
    const file = await resolveModelPath();
    this.watch(file);
    this.modelPath = file;
    return file;
  }

  /** Makes `file` the workspace's model now (the setting is written by the caller). */
  useModel(file: string): void {
    this.watch(file);
    this.modelPath = file;
  }

  compute(): Promise<ComputePool> {
    return this.backend.pool();
  }

  modelRef(file: string): ModelRef {
    return { file, options: { onnxRuntime: onnxRuntimeSetting() } };
  }

  async describe(file: string, layer?: string): Promise<ModelInfo> {
    const key = `${file}|${checkpointStamp(file)}|${layer ?? ''}`;
    let info = this.infos.get(key);
    if (!info) {
      const model = this.modelRef(file);
      info = this.compute().then((pool) => pool.run<ModelInfo>(describeJob.kind, { model, layer }, { model }));
      this.infos.set(key, info);
      info.catch(() => this.infos.delete(key));
    }
    return info;
  }

  /** The model's attention (image patches or tokens), or undefined when it has none. */
  async attention(file: string): Promise<AttentionSummary | undefined> {
    if (!mayHaveAttention(file)) return undefined;
    const pool = await this.compute();
    const model = this.modelRef(file);
    return pool.run<AttentionSummary | undefined>(attentionInfoJob.kind, { model }, { model });
  }

  methodsFor(model: ModelInfo, chosen?: readonly string[]): Explainer[] {
    const wanted = chosen && chosen.length > 0 ? chosen : defaultMethodsSetting();
    const methods = EXPLAINERS.filter((e) => wanted.includes(e.id) && model.unavailable[e.id] === undefined);
    if (methods.length > 0) return methods;
    // None of the chosen methods applies: say which and why, through the first one's reason.
    const first = EXPLAINERS.find((e) => wanted.includes(e.id)) ?? EXPLAINERS[0];
    return [first];
  }

  defaultMethods(): string[] {
    return defaultMethodsSetting();
  }

  metricsByDefault(): boolean {
    return faithfulnessSetting();
  }

  preprocessFor(model: Pick<ModelInfo, 'preprocess'>): PreprocessPreset {
    const s = preprocessSetting();
    return s === 'auto' ? model.preprocess ?? 'unit' : s;
  }

  topK(): number {
    return topKSetting();
  }

  showError(message: string): void {
    this.errors.fire(message);
    void vscode.window.showErrorMessage(`XAI Lens: ${message}`);
  }

  onDidPost(e: PostedMessage): void {
    this.posted.fire(e);
  }

  onPanelDisposed(panel: ExplainPanel): void {
    if (this.panels.get(panel.imagePath) === panel) this.panels.delete(panel.imagePath);
  }

  // ---- live while training ----

  private watch(modelFile: string): void {
    if (this.watchers.has(modelFile)) return;
    let pattern: string;
    try {
      pattern = formatOf(modelFile).watchPattern(modelFile);
    } catch {
      pattern = path.basename(modelFile);
    }
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(modelFile)), pattern));
    let timer: NodeJS.Timeout | undefined;
    const changed = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void this.checkpointWritten(modelFile), CHECKPOINT_DEBOUNCE_MS);
    };
    watcher.onDidChange(changed);
    watcher.onDidCreate(changed);
    this.watchers.set(modelFile, vscode.Disposable.from(watcher, { dispose: () => timer && clearTimeout(timer) }));
  }

  private async checkpointWritten(modelFile: string): Promise<void> {
    for (const p of this.panels.values()) {
      if (p.model === modelFile) await p.recompute();
    }
  }

  /** Forgets what was learnt about models (after a backend switch): they reload on the new backend. */
  reloadModels(): void {
    this.infos.clear();
  }

  dispose(): void {
    for (const p of [...this.panels.values()]) p.dispose();
    for (const p of [...this.sanityPanels]) p.dispose();
    for (const p of [...this.tcavPanels]) p.dispose();
    for (const p of [...this.attentionPanels]) p.dispose();
    for (const w of this.watchers.values()) w.dispose();
    this.infos.clear();
    this.disposables.forEach((d) => d.dispose());
  }
}

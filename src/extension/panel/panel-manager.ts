/**
 * The open panels (one explain panel per image; sanity, TCAV and attention panels), where new
 * ones open (placement.ts), their restoration after a window reload, and recomputing explain
 * panels when their model's files change (a training loop writing a checkpoint).
 */
import * as vscode from 'vscode';
import * as path from 'node:path';
import type { BackendController } from '../commands/backend-status';
import { panelSettings } from '../settings/panel-settings';
import { ATTENTION_VIEW_TYPE, PANEL_VIEW_TYPE, SANITY_VIEW_TYPE, TCAV_VIEW_TYPE } from '../settings/ids';
import type { ExplainViewState } from '../../shared/protocol/explain';
import type { SanityViewState } from '../../shared/protocol/sanity';
import type { TcavViewState } from '../../shared/protocol/tcav';
import type { AttentionTokenViewState } from '../../shared/protocol/attention';
import type { PanelBase } from './panel-base';
import type { PanelServices, PostedMessage } from './services';
import { ExplainPanel } from './explain-panel';
import { DEFAULT_SANITY_METHODS, SanityPanel } from './sanity-panel';
import { TcavPanel } from './tcav-panel';
import { AttentionPanel } from './attention-panel';
import { ModelServices } from './model-services';
import { CheckpointWatcher } from './checkpoint-watcher';
import { PanelPlacement } from './placement';

/** Makes a restored panel's state whole, or says (undefined) that it is not worth restoring. */
type Reviver = (panel: vscode.WebviewPanel, saved: unknown) => PanelBase | undefined;

export class PanelManager implements PanelServices, vscode.Disposable {
  /** Every open panel, in the order opened. */
  private readonly panels = new Set<PanelBase>();
  private readonly placement = new PanelPlacement();
  private readonly watcher = new CheckpointWatcher((modelFile) => void this.checkpointWritten(modelFile));
  private readonly posted = new vscode.EventEmitter<PostedMessage>();
  private readonly errors = new vscode.EventEmitter<string>();
  private readonly disposables: vscode.Disposable[] = [];
  readonly models: ModelServices;
  readonly settings = panelSettings;
  readonly onDidPostMessage = this.posted.event;
  readonly onDidShowError = this.errors.event;

  constructor(
    readonly context: vscode.ExtensionContext,
    readonly backend: BackendController,
  ) {
    this.models = new ModelServices(backend, (file) => this.watcher.watch(file));
    for (const [viewType, revive] of Object.entries(this.revivers())) {
      this.disposables.push(vscode.window.registerWebviewPanelSerializer(viewType, {
        deserializeWebviewPanel: async (panel: vscode.WebviewPanel, state: unknown) => {
          if (!revive(panel, state)) panel.dispose();
        },
      }));
    }
    this.disposables.push(this.posted, this.errors, this.models, this.watcher);
  }

  /** How each kind of panel comes back after a window reload, from the state its page saved. */
  private revivers(): Record<string, Reviver> {
    return {
      [PANEL_VIEW_TYPE]: (panel, saved) => {
        const s = saved as Partial<ExplainViewState> | undefined;
        return s?.imagePath ? this.adopt(new ExplainPanel(panel, { colormap: this.settings.colormap(), opacity: 0.5, ...s } as ExplainViewState, this)) : undefined;
      },
      [SANITY_VIEW_TYPE]: (panel, saved) => {
        const s = saved as Partial<SanityViewState> | undefined;
        return s?.images?.length ? this.adopt(new SanityPanel(panel, { ...this.sanityDefaults(s.images), ...s } as SanityViewState, this)) : undefined;
      },
      [TCAV_VIEW_TYPE]: (panel, saved) => {
        const s = saved as Partial<TcavViewState> | undefined;
        return s?.experiment ? this.adopt(new TcavPanel(panel, { magnitude: false, compare: [], ...s } as TcavViewState, this)) : undefined;
      },
      [ATTENTION_VIEW_TYPE]: (panel, saved) => {
        const s = saved as Partial<AttentionTokenViewState> | undefined;
        return s?.model ? this.adopt(new AttentionPanel(panel, { texts: [], view: 'head', ...s } as AttentionTokenViewState, this)) : undefined;
      },
    };
  }

  private adopt<P extends PanelBase>(p: P): P {
    this.panels.add(p);
    this.placement.follow(p.panel);
    return p;
  }

  /** Opens (or reveals) the panel for an image, beside the code with the other panels. */
  open(image: vscode.Uri, opts: { attention?: boolean } = {}): ExplainPanel {
    const key = image.fsPath;
    const existing = this.panelFor(key);
    if (existing) {
      existing.panel.reveal(undefined, true);
      if (opts.attention) void existing.showAttention();
      return existing;
    }
    const panel = this.placement.create(PANEL_VIEW_TYPE, `Explain: ${path.basename(key)}`, true);
    return this.adopt(new ExplainPanel(panel, {
      imagePath: key, colormap: this.settings.colormap(), opacity: 0.5,
      ...(opts.attention ? { attention: { open: true, mode: 'rollout', fusion: 'mean', discardRatio: 0 } } : {}),
    }, this));
  }

  /** Opens a sanity-check panel for one or more images (their mean and spread). */
  openSanity(images: vscode.Uri[]): SanityPanel {
    const files = images.map((u) => u.fsPath);
    const panel = this.placement.create(SANITY_VIEW_TYPE, `Sanity check: ${path.basename(files[0])}`, false);
    return this.adopt(new SanityPanel(panel, this.sanityDefaults(files), this));
  }

  private sanityDefaults(images: string[]): SanityViewState {
    return { images, methods: [...DEFAULT_SANITY_METHODS], mode: 'cascading', metric: 'spearman', threshold: 0.5, seed: 0, colormap: this.settings.colormap() };
  }

  /** Opens (or reveals) the TCAV panel of an experiment file. */
  openTcav(experiment: vscode.Uri): TcavPanel {
    const existing = this.tcavPanelFor(experiment.fsPath);
    if (existing) {
      existing.panel.reveal(undefined, false);
      return existing;
    }
    const panel = this.placement.create(TCAV_VIEW_TYPE, 'TCAV', false);
    return this.adopt(new TcavPanel(panel, { experiment: experiment.fsPath, magnitude: false, compare: [] }, this));
  }

  /** Opens (or reveals) the token-attention panel of a model. */
  openAttention(modelFile: string): AttentionPanel {
    const existing = this.attentionPanelFor(modelFile);
    if (existing) {
      existing.panel.reveal(undefined, false);
      return existing;
    }
    const panel = this.placement.create(ATTENTION_VIEW_TYPE, 'Attention', false);
    return this.adopt(new AttentionPanel(panel, { model: modelFile, texts: [], view: 'head' }, this));
  }

  /** The open panels of one kind, newest first. */
  private panelsOf<P extends PanelBase>(kind: abstract new (...args: never[]) => P): P[] {
    return [...this.panels].filter((p): p is P => p instanceof kind).reverse();
  }

  attentionPanelFor(modelFile: string): AttentionPanel | undefined {
    return this.panelsOf(AttentionPanel).find((p) => p.model === modelFile);
  }

  tcavPanelFor(experiment: string): TcavPanel | undefined {
    return this.panelsOf(TcavPanel).find((p) => p.experiment === experiment);
  }

  /** The newest sanity panel whose first image is `imagePath`. */
  sanityPanelFor(imagePath: string): SanityPanel | undefined {
    return this.panelsOf(SanityPanel).find((p) => p.images[0] === imagePath);
  }

  panelFor(imagePath: string): ExplainPanel | undefined {
    return this.panelsOf(ExplainPanel).find((p) => p.imagePath === imagePath);
  }

  /** The open explain panels, in the order opened. */
  get openPanels(): ExplainPanel[] {
    return this.panelsOf(ExplainPanel).reverse();
  }

  // ---- PanelServices ----

  showError(message: string): void {
    this.errors.fire(message);
    void vscode.window.showErrorMessage(`XAI Lens: ${message}`);
  }

  onDidPost(e: PostedMessage): void {
    this.posted.fire(e);
  }

  onPanelDisposed(panel: PanelBase): void {
    this.panels.delete(panel);
  }

  /** A model's files changed: its explain panels recompute. */
  private async checkpointWritten(modelFile: string): Promise<void> {
    for (const p of this.openPanels) {
      if (p.model === modelFile) await p.recompute();
    }
  }

  dispose(): void {
    for (const p of [...this.panels]) p.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}

/** What a panel needs from the rest of the extension. */
import type * as vscode from 'vscode';
import type { BackendController } from '../commands/backend-status';
import type { ModelCache, CachedModel } from '../model/model-cache';
import type { Explainer } from '../explain/explainer';
import type { PreprocessPreset } from '../image/preprocess';
import type { ToPanelMessage } from '../../shared/protocol';
import type { ExplainPanel } from './explain-panel';
import type { AttentionModelCache } from '../attention/attention-cache';

export interface PostedMessage {
  imagePath: string;
  message: ToPanelMessage;
}

export interface PanelServices {
  readonly context: vscode.ExtensionContext;
  readonly backend: BackendController;
  readonly models: ModelCache;
  /** Attention views of the same model files (a separate load: they read attention through hooks). */
  readonly attentionModels: AttentionModelCache;
  resolveModelPath(): Promise<string>;
  /** The methods to run: the panel's choice (else the setting's), where they apply to the model. */
  methodsFor(model: CachedModel, wanted?: readonly string[]): Explainer[];
  /** The `xaiLens.defaultMethods` setting. */
  defaultMethods(): string[];
  /** Whether panels compute faithfulness metrics unless the panel says otherwise. */
  metricsByDefault(): boolean;
  preprocessFor(model: Pick<CachedModel, 'preprocess'>): PreprocessPreset;
  topK(): number;
  showError(message: string): void;
  onDidPost(e: PostedMessage): void;
  onPanelDisposed(panel: ExplainPanel): void;
}

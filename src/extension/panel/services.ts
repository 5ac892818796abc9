/** What a panel needs from the rest of the extension. */
import type * as vscode from 'vscode';
import type { BackendController } from '../commands/backend-status';
import type { Explainer } from '../explain/explainer';
import type { ComputePool } from '../compute/pool';
import type { ModelRef } from '../compute/protocol';
import type { ModelInfo } from '../compute/jobs/describe';
import type { AttentionSummary } from '../compute/jobs/attention';
import type { PreprocessPreset } from '../image/preprocess';
import type { ToPanelMessage } from '../../shared/protocol';
import type { ExplainPanel } from './explain-panel';

export interface PostedMessage {
  imagePath: string;
  message: ToPanelMessage;
}

export interface PanelServices {
  readonly context: vscode.ExtensionContext;
  readonly backend: BackendController;
  /** The compute pool (started on first use): every model computation runs there. */
  compute(): Promise<ComputePool>;
  /** How jobs name a model file: the file, with the settings that decide how it loads. */
  modelRef(file: string): ModelRef;
  /** What the panels show about a model (loaded in a worker); `layer` decides which methods apply. */
  describe(file: string, layer?: string): Promise<ModelInfo>;
  /** The model's attention (image patches or tokens), or undefined when it has none. */
  attention(file: string): Promise<AttentionSummary | undefined>;
  resolveModelPath(): Promise<string>;
  /** The methods to run: the panel's choice (else the setting's), where they apply to the model. */
  methodsFor(model: ModelInfo, wanted?: readonly string[]): Explainer[];
  /** The `xaiLens.defaultMethods` setting. */
  defaultMethods(): string[];
  /** Whether panels compute faithfulness metrics unless the panel says otherwise. */
  metricsByDefault(): boolean;
  preprocessFor(model: Pick<ModelInfo, 'preprocess'>): PreprocessPreset;
  topK(): number;
  showError(message: string): void;
  onDidPost(e: PostedMessage): void;
  onPanelDisposed(panel: ExplainPanel): void;
}

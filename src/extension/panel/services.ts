/** What a panel needs from the rest of the extension. */
import type * as vscode from 'vscode';
import type { BackendController } from '../commands/backend-status';
import type { PanelSettings } from '../settings/panel-settings';
import type { ExplainToHost, ExplainToWebview } from '../../shared/protocol/explain';
import type { SanityToHost, SanityToWebview } from '../../shared/protocol/sanity';
import type { TcavToHost, TcavToWebview } from '../../shared/protocol/tcav';
import type { AttentionToHost, AttentionToWebview } from '../../shared/protocol/attention';
import type { ModelServices } from './model-services';
import type { PanelBase } from './panel-base';

/** A message any panel's page may send. */
export type ToHostMessage = ExplainToHost | SanityToHost | TcavToHost | AttentionToHost;

/** A message any panel may be posted. */
export type ToWebviewMessage = ExplainToWebview | SanityToWebview | TcavToWebview | AttentionToWebview;

/** A message a panel posted, and what the panel is about: its image, experiment or model file. */
export interface PostedMessage {
  subject: string;
  message: ToWebviewMessage;
}

export interface PanelServices {
  readonly context: vscode.ExtensionContext;
  readonly backend: BackendController;
  /** The workspace's model, and what workers say about models. */
  readonly models: ModelServices;
  readonly settings: PanelSettings;
  showError(message: string): void;
  onDidPost(e: PostedMessage): void;
  onPanelDisposed(panel: PanelBase): void;
}

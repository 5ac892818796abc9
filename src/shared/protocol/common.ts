/**
 * What every panel's protocol shares: the message tags, the messages all panels exchange
 * (ready, cancel, started, done, failed) and the small types more than one panel shows. Each
 * panel's own messages, and the two unions that say what may travel each way, are in its file
 * (explain.ts, sanity.ts, tcav.ts, attention.ts): a panel can only be sent its own messages.
 * Large arrays travel as ArrayBuffers (structured clone), never as JSON number arrays.
 * Imported by both sides: no vscode, DOM or tfjs imports here.
 */

/** Every message's tag (one enum for all panels, so a tag means one thing everywhere). */
export const enum MessageType {
  // webview → host
  Ready = 'ready',
  Explain = 'explain',
  Cancel = 'cancel',
  ExportPng = 'exportPng',
  CopyNpy = 'copyNpy',
  /** The explain panel's toolbar: run the sanity check on this image. */
  OpenSanityCheck = 'openSanityCheck',
  SanityRun = 'sanityRun',
  SanityPickTwin = 'sanityPickTwin',
  TcavRun = 'tcavRun',
  TcavCompare = 'tcavCompare',
  TcavOpenFile = 'tcavOpenFile',
  Attention = 'attention',
  AttentionTokens = 'attentionTokens',
  // host → webview
  Init = 'init',
  Started = 'started',
  Predictions = 'predictions',
  Map = 'map',
  Metrics = 'metrics',
  Done = 'done',
  Failed = 'failed',
  SanityInit = 'sanityInit',
  SanityProgress = 'sanityProgress',
  SanityMap = 'sanityMap',
  SanityResult = 'sanityResult',
  TcavInit = 'tcavInit',
  TcavProgress = 'tcavProgress',
  TcavResult = 'tcavResult',
  TcavComparison = 'tcavComparison',
  AttentionMap = 'attentionMap',
  AttentionTokenInit = 'attentionTokenInit',
  AttentionTokenResult = 'attentionTokenResult',
}

export interface PredictionInfo {
  index: number;
  label?: string;
  probability: number;
}

export type MethodFamily = 'cam' | 'gradient' | 'perturbation' | 'reference' | 'attention';

/** A saliency method as the explain and sanity panels offer it. */
export interface MethodChoice {
  id: string;
  label: string;
  family: MethodFamily;
  /** Why the method does not apply to this model; undefined when it does. */
  unavailable?: string;
}

// ---- webview → host, every panel ----

/** The page is loaded and listening: the host answers with the panel's init message. */
export interface ReadyMessage {
  type: MessageType.Ready;
}

/** Stop the request with this id (its run ends with a Failed message, `cancelled: true`). */
export interface CancelMessage {
  type: MessageType.Cancel;
  requestId: number;
}

// ---- host → webview, every panel that runs requests ----

export interface StartedMessage {
  type: MessageType.Started;
  requestId: number;
  /** Why the host started it: a request from the panel, or a new checkpoint of the model. */
  reason: 'request' | 'checkpoint';
}

export interface DoneMessage {
  type: MessageType.Done;
  requestId: number;
  ms: number;
}

/** A request failed or was cancelled; without a request id, the panel itself could not start. */
export interface FailedMessage {
  type: MessageType.Failed;
  requestId?: number;
  message: string;
  cancelled: boolean;
}

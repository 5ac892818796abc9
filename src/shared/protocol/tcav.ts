/**
 * The TCAV panel's messages: an experiment file run with its model, progress, the result
 * (saved beside the experiment) and saved results to compare with.
 */
import type { TcavResult } from '../tcav';
import type { CancelMessage, FailedMessage, MessageType, ReadyMessage, StartedMessage } from './common';

/** The panel's one kind of request: a TCAV run (a newer run supersedes the older). */
export type TcavRequestKind = 'run';

/** What the TCAV panel remembers across reloads. */
export interface TcavViewState {
  experiment: string;
  /** Show the magnitude variant instead of the sign-count score. */
  magnitude: boolean;
  /** Saved results (files) shown beside the current one. */
  compare: string[];
  /** Runs for the next run (undefined: the experiment's own). */
  runs?: number;
}

/** A saved result the panel can show beside the current one. */
export interface TcavSavedResult {
  file: string;
  createdAt: string;
  modelName: string;
  /** Short checkpoint id (first 8 hex digits of the model hash). */
  checkpoint: string;
  modified: string;
}

// ---- webview → host ----

export interface TcavRunMessage {
  type: MessageType.TcavRun;
  requestId: number;
  runs?: number;
}

/** Show these saved results beside the current one (an empty list shows the current one alone). */
export interface TcavCompareMessage {
  type: MessageType.TcavCompare;
  files: string[];
}

/** Open a file in the editor: the experiment, or a saved result. */
export interface TcavOpenFileMessage {
  type: MessageType.TcavOpenFile;
  file: string;
}

/** Everything the TCAV panel's page sends its host. */
export type TcavToHost = ReadyMessage | TcavRunMessage | TcavCompareMessage | TcavOpenFileMessage | CancelMessage;

// ---- host → webview ----

export interface TcavInitMessage {
  type: MessageType.TcavInit;
  state: TcavViewState;
  experimentName: string;
  model: { name: string; file: string };
  backend: string;
  target: { index: number; label?: string };
  concepts: string[];
  layers: string[];
  runs: number;
  /** The latest saved result, shown until a new run finishes. */
  latest?: TcavResult;
  saved: TcavSavedResult[];
}

export interface TcavProgressMessage {
  type: MessageType.TcavProgress;
  requestId: number;
  fraction: number;
  message: string;
}

export interface TcavResultMessage {
  type: MessageType.TcavResult;
  requestId: number;
  result: TcavResult;
  /** Where it was saved. */
  file: string;
  saved: TcavSavedResult[];
}

/** The saved results asked for with TcavCompare, in the order asked. */
export interface TcavComparisonMessage {
  type: MessageType.TcavComparison;
  results: { file: string; result: TcavResult }[];
}

/**
 * Everything the host sends the TCAV panel's page. A run (the page's, or one the host starts for
 * XAI Lens: Run TCAV): Started, progress, then the result or Failed.
 */
export type TcavToWebview = TcavInitMessage | StartedMessage | TcavProgressMessage | TcavResultMessage | TcavComparisonMessage | FailedMessage;

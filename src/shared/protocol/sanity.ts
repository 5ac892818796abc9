/**
 * The sanity-check panel's messages: Adebayo et al.'s randomization checks on one or more
 * images, streamed as the strip's maps, then the similarities and verdicts.
 */
import type { ColormapName } from '../colormaps';
import type { SanityMode, SanityResult, SimilarityName } from '../sanity';
import type { CancelMessage, FailedMessage, MessageType, MethodChoice, ReadyMessage, StartedMessage } from './common';

/** The panel's one kind of request: a run of the check (a newer run supersedes the older). */
export type SanityRequestKind = 'run';

/** What the sanity panel runs; kept by the panel with setState. */
export interface SanityViewState {
  images: string[];
  methods: string[];
  mode: SanityMode;
  metric: SimilarityName;
  threshold: number;
  seed: number;
  /** The model trained on permuted labels, for data randomization. */
  twin?: string;
  colormap: ColormapName;
}

// ---- webview → host ----

export interface SanityRunMessage {
  type: MessageType.SanityRun;
  requestId: number;
  state: SanityViewState;
}

/** Pick the model trained on permuted labels (the host asks, then starts the panel over). */
export interface SanityPickTwinMessage {
  type: MessageType.SanityPickTwin;
}

/** Everything the sanity panel's page sends its host. */
export type SanityToHost = ReadyMessage | SanityRunMessage | SanityPickTwinMessage | CancelMessage;

// ---- host → webview ----

export interface SanityInitMessage {
  type: MessageType.SanityInit;
  state: SanityViewState;
  /** The first image for display (the strip shows it). */
  imageName: string;
  image: ArrayBuffer;
  imageMime: string;
  model: { name: string; file: string };
  backend: string;
  /** Every method, with why it does not apply where it does not. */
  methods: MethodChoice[];
}

export interface SanityProgressMessage {
  type: MessageType.SanityProgress;
  requestId: number;
  fraction: number;
  message: string;
}

/** A map of the first image at one step of the randomization (step 0: the original model). */
export interface SanityMapMessage {
  type: MessageType.SanityMap;
  requestId: number;
  method: string;
  step: number;
  data: ArrayBuffer;
  height: number;
  width: number;
  signed: boolean;
}

export interface SanityResultMessage {
  type: MessageType.SanityResult;
  requestId: number;
  result: SanityResult;
  ms: number;
}

/** Everything the host sends the sanity panel's page. A run: Started, progress and maps, then the result or Failed. */
export type SanityToWebview = SanityInitMessage | StartedMessage | SanityProgressMessage | SanityMapMessage | SanityResultMessage | FailedMessage;

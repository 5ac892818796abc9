/**
 * Every message between the extension host and the XAI Lens panel: one enum of message types,
 * one union per direction, and request ids so the panel can drop answers to superseded
 * requests. Large arrays travel as ArrayBuffers (structured clone), never as JSON number arrays.
 * Imported by both sides: no vscode, DOM or tfjs imports here.
 */
import type { ColormapName } from './colormaps';

export const enum MessageType {
  // panel → host
  Ready = 'ready',
  Explain = 'explain',
  Cancel = 'cancel',
  ExportPng = 'exportPng',
  CopyNpy = 'copyNpy',
  // host → panel
  Init = 'init',
  Started = 'started',
  Predictions = 'predictions',
  Map = 'map',
  Done = 'done',
  Failed = 'failed',
}

export interface PredictionInfo {
  index: number;
  label?: string;
  probability: number;
}

export interface LayerChoice {
  name: string;
  className: string;
  /** [h, w, c] of the layer's output. */
  shape: (number | null)[];
}

export interface MethodChoice {
  id: string;
  label: string;
}

/** What the panel explains and how it draws it; kept by the panel with setState. */
export interface PanelViewState {
  imagePath: string;
  colormap: ColormapName;
  opacity: number;
  /** Explicit class to explain; undefined = the top prediction. */
  target?: number;
  /** Explicit layer; undefined = the model's default layer. */
  layer?: string;
}

// ---- panel → host ----

export interface ReadyMessage {
  type: MessageType.Ready;
}

export interface ExplainMessage {
  type: MessageType.Explain;
  requestId: number;
  target?: number;
  layer?: string;
}

export interface CancelMessage {
  type: MessageType.Cancel;
  requestId: number;
}

export interface ExportPngMessage {
  type: MessageType.ExportPng;
  method: string;
  colormap: ColormapName;
  opacity: number;
}

export interface CopyNpyMessage {
  type: MessageType.CopyNpy;
  method: string;
}

export type FromPanelMessage = ReadyMessage | ExplainMessage | CancelMessage | ExportPngMessage | CopyNpyMessage;

// ---- host → panel ----

export interface InitMessage {
  type: MessageType.Init;
  state: PanelViewState;
  imageName: string;
  /** The image for display (PNG/JPEG bytes, long side at most 1024 px). */
  image: ArrayBuffer;
  imageMime: string;
  imageSize: { width: number; height: number };
  model: { name: string; file: string; inputSize: [number, number]; preprocess: string; checkpoint: string };
  backend: string;
  layers: LayerChoice[];
  defaultLayer?: string;
  methods: MethodChoice[];
}

export interface StartedMessage {
  type: MessageType.Started;
  requestId: number;
  /** Why the host started it: a request from the panel, or a new checkpoint of the model. */
  reason: 'request' | 'checkpoint';
}

export interface PredictionsMessage {
  type: MessageType.Predictions;
  requestId: number;
  predictions: PredictionInfo[];
  target: PredictionInfo;
  checkpoint: string;
}

export interface MapMessage {
  type: MessageType.Map;
  requestId: number;
  method: string;
  label: string;
  layer?: string;
  /** Raw map at the method's resolution, row-major Float32 [height, width]. */
  data: ArrayBuffer;
  height: number;
  width: number;
  ms: number;
}

export interface DoneMessage {
  type: MessageType.Done;
  requestId: number;
  ms: number;
}

export interface FailedMessage {
  type: MessageType.Failed;
  requestId?: number;
  message: string;
  cancelled: boolean;
}

export type ToPanelMessage = InitMessage | StartedMessage | PredictionsMessage | MapMessage | DoneMessage | FailedMessage;

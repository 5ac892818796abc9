/**
 * Every message between the extension host and the XAI Lens panel: one enum of message types,
 * one union per direction, and request ids so the panel can drop answers to superseded
 * requests. Large arrays travel as ArrayBuffers (structured clone), never as JSON number arrays.
 * Imported by both sides: no vscode, DOM or tfjs imports here.
 */
import type { ColormapName } from './colormaps';
import type { SanityMode, SanityResult, SimilarityName } from './sanity';

export const enum MessageType {
  // panel → host
  Ready = 'ready',
  Explain = 'explain',
  Cancel = 'cancel',
  ExportPng = 'exportPng',
  CopyNpy = 'copyNpy',
  /** The explain panel's toolbar: run the sanity check on this image. */
  OpenSanityCheck = 'openSanityCheck',
  SanityRun = 'sanityRun',
  SanityPickTwin = 'sanityPickTwin',
  // host → panel
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

export type MethodFamily = 'cam' | 'gradient' | 'perturbation' | 'reference';

export interface MethodChoice {
  id: string;
  label: string;
  family: MethodFamily;
  /** Why the method does not apply to this model; undefined when it does. */
  unavailable?: string;
}

/** An area under a curve, and the curve itself (y at evenly spaced x from 0 to 1). */
export interface CurveMetric {
  auc: number;
  curve: number[];
}

/** Faithfulness of one map (RISE's deletion/insertion, ROAD, the pointing game). */
export interface FaithfulnessInfo {
  /** Lower is better: the target's probability falls fast when the top pixels go. */
  deletion: CurveMetric;
  /** Higher is better: it rises fast when the top pixels come back onto a blurred canvas. */
  insertion: CurveMetric;
  /** ROAD with noisy linear imputation: most-relevant-first (lower is better) and least-relevant-first. */
  road?: { morf: CurveMetric; lerf: CurveMetric; fractions: number[] };
  /** When the image's object box is known (boxes.json beside it): does the map's peak land in it? */
  pointing?: { hit: boolean; peak: { x: number; y: number }; box: { x: number; y: number; w: number; h: number } };
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
  /** Methods shown in the grid, in order; undefined = the `xaiLens.methods` setting. */
  methods?: string[];
  /** The method shown large. */
  focus?: string;
  /** Compute faithfulness metrics for every map. */
  metrics?: boolean;
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
  methods?: string[];
  metrics?: boolean;
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

export interface OpenSanityCheckMessage {
  type: MessageType.OpenSanityCheck;
}

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

export interface SanityRunMessage {
  type: MessageType.SanityRun;
  requestId: number;
  state: SanityViewState;
}

export interface SanityPickTwinMessage {
  type: MessageType.SanityPickTwin;
  requestId: number;
}

export type FromPanelMessage = ReadyMessage | ExplainMessage | CancelMessage | ExportPngMessage | CopyNpyMessage | OpenSanityCheckMessage | SanityRunMessage | SanityPickTwinMessage;

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
  /** Every method, with why it does not apply where it does not. */
  methods: MethodChoice[];
  /** The methods the `xaiLens.methods` setting selects (used when the state has none). */
  defaultMethods: string[];
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
  /** Negative values carry meaning (drawn as magnitude). */
  signed: boolean;
  /** Method-specific numbers, e.g. Integrated Gradients' completeness gap. */
  stats?: Record<string, number>;
}

export interface MetricsMessage {
  type: MessageType.Metrics;
  requestId: number;
  method: string;
  metrics: FaithfulnessInfo;
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

export type ToPanelMessage =
  | InitMessage | StartedMessage | PredictionsMessage | MapMessage | MetricsMessage | DoneMessage | FailedMessage
  | SanityInitMessage | SanityProgressMessage | SanityMapMessage | SanityResultMessage;

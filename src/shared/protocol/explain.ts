/**
 * The explain panel's messages (one panel per image): the image, the predictions, a map per
 * method with its faithfulness metrics, and — for models with attention over image patches —
 * the Attention tab's maps.
 */
import type { ColormapName } from '../colormaps';
import type { AttentionLayerInfo, AttentionMode, HeadFusion } from '../attention';
import type { CancelMessage, DoneMessage, FailedMessage, MessageType, MethodChoice, PredictionInfo, ReadyMessage, StartedMessage } from './common';

/** The panel's kinds of request; a newer request of a kind supersedes the older one. */
export type ExplainRequestKind = 'explain' | 'attention';

export interface LayerChoice {
  name: string;
  className: string;
  /** [h, w, c] of the layer's output. */
  shape: (number | null)[];
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
export interface ExplainViewState {
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
  /** The Attention tab's controls (models with attention over patches), and whether it is the tab shown. */
  attention?: AttentionViewState;
  /** Compute faithfulness metrics for every map. */
  metrics?: boolean;
}

/** The controls of an attention map over image patches (the Attention tab's request and state). */
export type AttentionControls = Pick<AttentionRequestMessage, 'mode' | 'fusion' | 'discardRatio' | 'layer' | 'head' | 'query'>;

export interface AttentionViewState extends AttentionControls {
  open: boolean;
}

/** What the explain panel needs to offer attention maps (ViT-like image models). */
export interface AttentionInfo {
  layers: AttentionLayerInfo[];
  /** The patch grid [rows, columns] and whether token 0 is a CLS token. */
  grid: [number, number];
  cls: boolean;
}

// ---- webview → host ----

export interface ExplainMessage {
  type: MessageType.Explain;
  requestId: number;
  target?: number;
  layer?: string;
  methods?: string[];
  metrics?: boolean;
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

/** Attention over an image's patches (the Attention tab, ViT models). */
export interface AttentionRequestMessage {
  type: MessageType.Attention;
  requestId: number;
  mode: AttentionMode;
  fusion: HeadFusion;
  /** Fraction of the lowest attention weights dropped per layer before rollout (0–0.99). */
  discardRatio: number;
  /** raw: the layer and head (or a fusion of the heads). */
  layer?: string;
  head?: number | HeadFusion;
  /** raw: the query token whose attention is shown (0 = CLS when the model has one); default: CLS, else the mean row. */
  query?: number;
  /** grad-rollout: the class (default: the top prediction). */
  target?: number;
}

/** Everything the explain panel's page sends its host. */
export type ExplainToHost =
  | ReadyMessage | ExplainMessage | CancelMessage | ExportPngMessage | CopyNpyMessage | OpenSanityCheckMessage | AttentionRequestMessage;

// ---- host → webview ----

export interface InitMessage {
  type: MessageType.Init;
  state: ExplainViewState;
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
  /** Present when the model has attention layers over image patches: the panel offers an Attention tab. */
  attention?: AttentionInfo;
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
  /** Why the map says nothing, when it is zero or constant everywhere. */
  note?: string;
}

export interface MetricsMessage {
  type: MessageType.Metrics;
  requestId: number;
  method: string;
  metrics: FaithfulnessInfo;
  ms: number;
}

/** An attention map over the patch grid, drawn over the image like a heatmap. */
export interface AttentionMapMessage {
  type: MessageType.AttentionMap;
  requestId: number;
  mode: AttentionMode;
  /** Row-major Float32 [height, width] = the patch grid. */
  data: ArrayBuffer;
  height: number;
  width: number;
  /** What is shown, in words (e.g. "rollout of 4 layers, mean of heads, CLS row"). */
  label: string;
  /** grad-rollout: the class explained. */
  target?: number;
  ms: number;
}

/**
 * Everything the host sends the explain panel's page. An explain request is answered by Started,
 * Predictions, a Map (and Metrics) per method, then Done or Failed; an attention request by an
 * AttentionMap or Failed.
 */
export type ExplainToWebview =
  | InitMessage | StartedMessage | PredictionsMessage | MapMessage | MetricsMessage | DoneMessage | FailedMessage | AttentionMapMessage;

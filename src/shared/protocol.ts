/**
 * Every message between the extension host and the XAI Lens panel: one enum of message types,
 * one union per direction, and request ids so the panel can drop answers to superseded
 * requests. Large arrays travel as ArrayBuffers (structured clone), never as JSON number arrays.
 * Imported by both sides: no vscode, DOM or tfjs imports here.
 */
import type { ColormapName } from './colormaps';
import type { SanityMode, SanityResult, SimilarityName } from './sanity';
import type { TcavResult } from './tcav';
import type { AttentionLayerInfo, AttentionMode, HeadFusion, TokenInputInfo } from './attention';

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
  TcavRun = 'tcavRun',
  TcavCompare = 'tcavCompare',
  TcavOpenFile = 'tcavOpenFile',
  Attention = 'attention',
  AttentionTokens = 'attentionTokens',
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

export interface LayerChoice {
  name: string;
  className: string;
  /** [h, w, c] of the layer's output. */
  shape: (number | null)[];
}

export type MethodFamily = 'cam' | 'gradient' | 'perturbation' | 'reference' | 'attention';

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
  /** The Attention tab's controls (models with attention over patches), and whether it is the tab shown. */
  attention?: AttentionViewState;
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

/** The controls of an attention map over image patches (the Attention tab's request and state). */
export type AttentionControls = Pick<AttentionRequestMessage, 'mode' | 'fusion' | 'discardRatio' | 'layer' | 'head' | 'query'>;

export interface AttentionViewState extends AttentionControls {
  open: boolean;
}

/** What the token-attention panel remembers across reloads. */
export interface AttentionTokenViewState {
  /** The model file (absolute). */
  model: string;
  texts: string[];
  /** Layer and heads shown in the head view; 'model' or 'head' view. */
  view: 'head' | 'model';
  layer?: string;
  heads?: number[];
}

/** Attention over an image's patches (explain panel, ViT models). */
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

/** Attention of a token model on the user's tokens: one text per model input. */
export interface AttentionTokensMessage {
  type: MessageType.AttentionTokens;
  requestId: number;
  texts: string[];
}

export type FromPanelMessage =
  | ReadyMessage | ExplainMessage | CancelMessage | ExportPngMessage | CopyNpyMessage | OpenSanityCheckMessage | SanityRunMessage | SanityPickTwinMessage
  | TcavRunMessage | TcavCompareMessage | TcavOpenFileMessage
  | AttentionRequestMessage | AttentionTokensMessage;

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
  /** Present when the model has attention layers over image patches: the panel offers an Attention tab. */
  attention?: AttentionInfo;
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

/** A saved result the panel can show beside the current one. */
export interface TcavSavedResult {
  file: string;
  createdAt: string;
  modelName: string;
  /** Short checkpoint id (first 8 hex digits of the model hash). */
  checkpoint: string;
  modified: string;
}

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

/** What the explain panel needs to offer attention maps (ViT-like image models). */
export interface AttentionInfo {
  layers: AttentionLayerInfo[];
  /** The patch grid [rows, columns] and whether token 0 is a CLS token. */
  grid: [number, number];
  cls: boolean;
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

/** The token-attention panel's start: the model and its inputs. */
export interface AttentionTokenInitMessage {
  type: MessageType.AttentionTokenInit;
  model: { name: string; file: string };
  backend: string;
  inputs: TokenInputInfo[];
  layers: AttentionLayerInfo[];
  /** The texts last used (or the inputs' examples). */
  texts: string[];
}

/** Attention of a token model on one input: every layer's probabilities, for the head and model views. */
export interface AttentionTokenResultMessage {
  type: MessageType.AttentionTokenResult;
  requestId: number;
  /** Token strings per model input, as shown (vocabulary strings, or the ids). */
  tokens: string[][];
  layers: AttentionLayerInfo[];
  /** Per layer, row-major Float32 [heads, queryTokens, keyTokens]. */
  probabilities: ArrayBuffer[];
  /** Per self-attention side (model input name): rollout over that side's layers, Float32 [n, n], mean of heads. */
  rollout: { side: string; data: ArrayBuffer; tokens: number }[];
  predictions?: PredictionInfo[];
  ms: number;
}

export type ToPanelMessage =
  | InitMessage | StartedMessage | PredictionsMessage | MapMessage | MetricsMessage | DoneMessage | FailedMessage
  | SanityInitMessage | SanityProgressMessage | SanityMapMessage | SanityResultMessage
  | TcavInitMessage | TcavProgressMessage | TcavResultMessage | TcavComparisonMessage
  | AttentionMapMessage | AttentionTokenInitMessage | AttentionTokenResultMessage;

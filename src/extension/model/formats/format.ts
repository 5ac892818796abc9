/**
 * One model format behind one interface: which files it claims, which files make up one
 * checkpoint, and how to load them. A new format is one folder under `formats/` plus one line in
 * `registry.ts`; nothing outside `model/` asks which format a model is.
 */
import type { ModelAdapter, OnnxRuntimeOptions } from '../types';
import type { AttentionModel } from '../../attention/attention-model';

export interface FormatLoadOptions {
  /** Input size for models that leave it open. */
  inputSize?: [number, number];
  /** Forward-only passes through onnxruntime-node (ONNX models only). */
  onnxRuntime?: OnnxRuntimeOptions;
}

export interface LoadedArtifacts {
  adapter: ModelAdapter;
  /**
   * Metadata the file itself carries (a model.json's userDefinedMetadata, an ONNX model's
   * metadata_props, a .keras archive's metadata.json): merged under the files beside the model.
   */
  embeddedMetadata?: Record<string, unknown>;
  /** Things people should know that did not stop the load. */
  warnings?: string[];
}

export interface ModelFormat {
  /** `tfjs-layers`, `tfjs-graph`, `onnx`, `keras`, … */
  readonly id: string;
  /** For people: "ONNX model", "Keras 3 model (.keras)". */
  readonly label: string;
  /** Glob patterns (workspace-relative, `**` allowed) of the files this format may claim. */
  readonly globs: readonly string[];
  /**
   * Whether this format reads `file`, judged by its name and its first bytes (`head`, up to
   * 4 KiB): extension and magic numbers, never a trial parse of the whole file.
   */
  claims(file: string, head: Buffer): boolean;
  /**
   * The files of one checkpoint, the model file first: what is hashed (TCAV caches), watched
   * (re-explain on change) and timestamped (the checkpoint shown). Files that are named but
   * missing are left out.
   */
  checkpointFiles(file: string): string[];
  /** The glob (relative to the model's folder) a file watcher uses for one checkpoint. */
  watchPattern(file: string): string;
  /**
   * Loads the model for explanations (one image input). Errors people can act on are
   * UserErrors with one line naming the file.
   */
  load(file: string, opts: FormatLoadOptions): Promise<LoadedArtifacts>;
  /**
   * Loads the model for attention maps, which also takes token models (inputs of token ids) and
   * encoder–decoder models; undefined when the format has no attention to show.
   */
  loadAttention?(file: string): Promise<AttentionModel>;
  /** A cheap look (no load) at whether the file may hold attention (MultiHeadAttention, Softmax nodes). */
  mayHaveAttention?(file: string): boolean;
}

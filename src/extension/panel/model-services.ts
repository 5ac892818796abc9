/**
 * The panels' models: which file is the workspace's model (remembered until the setting changes
 * or the file goes away), how jobs name a model, and what workers say about a model, asked once
 * per checkpoint and layer. Every model computation runs in the compute pool.
 */
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import type { BackendController } from '../commands/backend-status';
import type { ComputePool } from '../compute/pool';
import type { ModelRef } from '../compute/protocol';
import { describeJob, type ModelInfo } from '../compute/jobs/describe';
import { attentionInfoJob, type AttentionSummary } from '../compute/jobs/attention';
import { mayHaveAttention } from '../attention/attention-cache';
import { resolveModelPath } from '../commands/model-choice';
import { checkpointTime } from '../model/formats/registry';
import { onnxRuntimeSetting } from '../settings/settings';
import { SETTINGS } from '../settings/ids';

/** The model files' checkpoint (their time), or a placeholder while they cannot be read. */
function checkpointStamp(file: string): string {
  try {
    return checkpointTime(file);
  } catch {
    return 'unreadable';
  }
}

export class ModelServices implements vscode.Disposable {
  /** What workers said about each model file, by file and checkpoint (asked once per checkpoint and layer). */
  private readonly infos = new Map<string, Promise<ModelInfo>>();
  private modelPath?: string;
  private readonly subscription: vscode.Disposable;

  /** `watch` is told of every model that becomes the workspace's model. */
  constructor(
    private readonly backend: BackendController,
    private readonly watch: (modelFile: string) => void,
  ) {
    this.subscription = vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(`${SETTINGS.section}.${SETTINGS.modelPath}`)) this.modelPath = undefined;
      // The pool starts again with the new backend or size; its models load again there.
      if (e.affectsConfiguration(SETTINGS.section)) this.infos.clear();
    });
  }

  /** The workspace's model; remembered until the setting changes or the file goes away. */
  async resolveModelPath(): Promise<string> {
    if (this.modelPath && fs.existsSync(this.modelPath)) return this.modelPath;
    const file = await resolveModelPath();
    this.watch(file);
    this.modelPath = file;
    return file;
  }

  /** Makes `file` the workspace's model now (the setting is written by the caller). */
  useModel(file: string): void {
    this.watch(file);
    this.modelPath = file;
  }

  /** The compute pool (started on first use): every model computation runs there. */
  compute(): Promise<ComputePool> {
    return this.backend.pool();
  }

  /** How jobs name a model file: the file, with the settings that decide how it loads. */
  modelRef(file: string): ModelRef {
    return { file, options: { onnxRuntime: onnxRuntimeSetting() } };
  }

  /** What the panels show about a model (loaded in a worker); `layer` decides which methods apply. */
  async describe(file: string, layer?: string): Promise<ModelInfo> {
    const key = `${file}|${checkpointStamp(file)}|${layer ?? ''}`;
    let info = this.infos.get(key);
    if (!info) {
      const model = this.modelRef(file);
      info = this.compute().then((pool) => pool.run<ModelInfo>(describeJob.kind, { model, layer }, { model }));
      this.infos.set(key, info);
      info.catch(() => this.infos.delete(key));
    }
    return info;
  }

  /** The model's attention (image patches or tokens), or undefined when it has none. */
  async attention(file: string): Promise<AttentionSummary | undefined> {
    if (!mayHaveAttention(file)) return undefined;
    const pool = await this.compute();
    const model = this.modelRef(file);
    return pool.run<AttentionSummary | undefined>(attentionInfoJob.kind, { model }, { model });
  }

  /** Forgets what was learnt about models (after a backend switch): they reload on the new backend. */
  forget(): void {
    this.infos.clear();
  }

  dispose(): void {
    this.subscription.dispose();
    this.infos.clear();
  }
}

/**
 * The token-attention panel (bertviz-like head and model views) for Transformer models that
 * take token ids — one input, or several for encoder–decoder models: the user types tokens or
 * ids per input; the panel gets every layer's attention, a rollout per self-attention side, and
 * the predictions.
 */
import * as vscode from 'vscode';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MessageType, type AttentionTokenViewState, type FromPanelMessage, type PredictionInfo } from '../../shared/protocol';
import { UserError } from '../../shared/errors';
import type { AttentionModel } from '../attention/attention-model';
import { parseTokens } from '../attention/tokens';
import { sideRollouts, tokenInputs } from '../attention/token-views';
import { PanelBase } from './panel-base';
import type { PanelServices } from './services';

const buffer = (a: Float32Array) => a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength) as ArrayBuffer;

export class AttentionPanel extends PanelBase {
  constructor(panel: vscode.WebviewPanel, private state: AttentionTokenViewState, services: PanelServices, onDispose: (p: AttentionPanel) => void) {
    super(panel, services, 'attention', `Attention: ${path.basename(path.dirname(state.model))}`, onDispose as (p: PanelBase) => void);
  }

  get model(): string {
    return this.state.model;
  }

  protected get subject(): string {
    return this.state.model;
  }

  async onMessage(m: FromPanelMessage): Promise<void> {
    switch (m.type) {
      case MessageType.Ready:
        await this.init();
        return;
      case MessageType.AttentionTokens:
        this.state = { ...this.state, texts: m.texts };
        await this.show(m.requestId, m.texts);
        return;
      default:
        return;
    }
  }

  private async attentionModel(): Promise<AttentionModel> {
    await this.services.backend.ensure();
    const model = await this.services.attentionModels.get(this.state.model);
    if (!model) throw new UserError(`${path.basename(path.dirname(this.state.model))} has no attention layers (MultiHeadAttention, or Softmax nodes with [batch, heads, q, k] outputs)`);
    return model;
  }

  private async init(): Promise<void> {
    try {
      const model = await this.attentionModel();
      const inputs = tokenInputs(model);
      const texts = this.state.texts.length === inputs.length ? this.state.texts : inputs.map((x) => x.example ?? '');
      this.post({
        type: MessageType.AttentionTokenInit,
        model: { name: model.name, file: vscode.workspace.asRelativePath(model.file) },
        backend: this.services.backend.current?.backend ?? 'unknown',
        inputs: inputs.map(({ name, length, vocab, example }) => ({ name, length, vocab, example })),
        layers: [...model.layers],
        texts,
      });
      if (texts.every((t) => t.trim() !== '')) await this.show(-1, texts);
    } catch (err) {
      this.report(undefined, err);
    }
  }

  private async show(requestId: number, texts: string[]): Promise<void> {
    const t0 = performance.now();
    try {
      const model = await this.attentionModel();
      const inputs = tokenInputs(model);
      if (texts.length !== inputs.length) throw new UserError(`${model.name} takes ${inputs.length} token inputs, got ${texts.length}`);
      const parsed = inputs.map((input, i) => parseTokens(texts[i], input));
      const tensors = parsed.map((p, i) => tf.tensor2d(p.ids, [1, p.ids.length], inputs[i].dtype));
      try {
        const cap = model.capture(tensors);
        const predictions: PredictionInfo[] | undefined = model.classOutput
          ? Array.from(cap.output, (probability, index) => ({ index, probability, label: model.labels?.[index] })).sort((a, b) => b.probability - a.probability).slice(0, 5)
          : undefined;
        this.post({
          type: MessageType.AttentionTokenResult,
          requestId,
          tokens: parsed.map((p) => p.strings),
          layers: [...model.layers],
          probabilities: cap.probabilities.map(buffer),
          rollout: sideRollouts(model, cap.probabilities).map((r) => ({ side: r.side, tokens: r.tokens, data: buffer(r.data) })),
          ...(predictions ? { predictions } : {}),
          ms: performance.now() - t0,
        });
      } finally {
        tf.dispose(tensors);
      }
    } catch (err) {
      this.report(requestId, err);
    }
  }

  private report(requestId: number | undefined, err: unknown): void {
    this.fail(requestId, err, `Attention of ${path.basename(path.dirname(this.state.model))}`);
  }
}

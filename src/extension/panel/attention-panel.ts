/**
 * The token-attention panel (bertviz-like head and model views) for Transformer models that
 * take token ids — one input, or several for encoder–decoder models: the user types tokens or
 * ids per input; the panel gets every layer's attention, a rollout per self-attention side, and
 * the predictions.
 */
import * as vscode from 'vscode';
import * as path from 'node:path';
import { MessageType } from '../../shared/protocol/common';
import type { AttentionToHost, AttentionToWebview, AttentionTokenViewState } from '../../shared/protocol/attention';
import { UserError } from '../../shared/errors';
import { attentionInfoJob, attentionTokensJob, type AttentionSummary } from '../compute/jobs/attention';
import type { TokenAttention } from '../attention/token-request';
import { PanelBase } from './panel-base';
import type { PanelServices } from './services';

const buffer = (a: Float32Array) => a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength) as ArrayBuffer;

export class AttentionPanel extends PanelBase<AttentionToHost, AttentionToWebview> {
  constructor(panel: vscode.WebviewPanel, private state: AttentionTokenViewState, services: PanelServices) {
    super(panel, services, 'attention', `Attention: ${path.basename(path.dirname(state.model))}`);
  }

  get model(): string {
    return this.state.model;
  }

  protected get subject(): string {
    return this.state.model;
  }

  async onMessage(m: AttentionToHost): Promise<void> {
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

  private async init(): Promise<void> {
    try {
      const pool = await this.services.models.compute();
      const model = this.services.models.modelRef(this.state.model);
      const info = await pool.run<AttentionSummary | undefined>(attentionInfoJob.kind, { model, why: true }, { model });
      if (!info?.tokens) throw new UserError(`${path.basename(path.dirname(this.state.model))} has no attention layers over token inputs (MultiHeadAttention, or Softmax nodes with [batch, heads, q, k] outputs)`);
      const { inputs, layers } = info.tokens;
      const texts = this.state.texts.length === inputs.length ? this.state.texts : inputs.map((x) => x.example ?? '');
      this.post({
        type: MessageType.AttentionTokenInit,
        model: { name: info.name, file: vscode.workspace.asRelativePath(info.file) },
        backend: this.services.backend.current?.backend ?? 'unknown',
        inputs,
        layers,
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
      const pool = await this.services.models.compute();
      const model = this.services.models.modelRef(this.state.model);
      const r = await pool.run<TokenAttention>(attentionTokensJob.kind, { model, texts }, { model });
      this.post({
        type: MessageType.AttentionTokenResult,
        requestId,
        tokens: r.tokens,
        layers: r.layers,
        probabilities: r.probabilities.map(buffer),
        rollout: r.rollout.map((x) => ({ side: x.side, tokens: x.tokens, data: buffer(x.data) })),
        ...(r.predictions ? { predictions: r.predictions } : {}),
        ms: performance.now() - t0,
      });
    } catch (err) {
      this.report(requestId, err);
    }
  }

  private report(requestId: number | undefined, err: unknown): void {
    this.fail(requestId, err, `Attention of ${path.basename(path.dirname(this.state.model))}`);
  }
}

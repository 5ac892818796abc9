/**
 * What the token views need from an attention model: its token inputs (or why it is not a token
 * model), and the rollout (mean of heads) over each side's self-attention layers.
 */
import { UserError } from '../../shared/errors';
import type { AttentionModel } from './attention-model';
import { rollout } from './rollout';

/** Token inputs of an attention model, or a UserError saying why it is not a token model. */
export function tokenInputs(model: AttentionModel) {
  const inputs = model.inputs.filter((x) => x.kind === 'tokens');
  if (inputs.length !== model.inputs.length) throw new UserError(`${model.name} takes an image: open an image and use its Attention tab (XAI Lens: Show Attention on the image)`);
  return inputs as Extract<AttentionModel['inputs'][number], { kind: 'tokens' }>[];
}

/** Rollout (mean of heads) over the self-attention layers of each side. */
export function sideRollouts(model: AttentionModel, probabilities: Float32Array[]): { side: string; data: Float32Array; tokens: number }[] {
  const sides = [...new Set(model.layers.filter((l) => !l.cross && l.querySide === l.keySide).map((l) => l.querySide))];
  return sides.map((side) => {
    const idx = model.layers.map((l, i) => (!l.cross && l.querySide === side && l.keySide === side ? i : -1)).filter((i) => i >= 0);
    const heads = model.layers[idx[0]].heads;
    const n = Math.round(Math.sqrt(probabilities[idx[0]].length / heads));
    const r = rollout({ layers: idx.map((i) => probabilities[i]), heads, tokens: n }, { fusion: 'mean' });
    return { side, data: Float32Array.from(r), tokens: n };
  });
}

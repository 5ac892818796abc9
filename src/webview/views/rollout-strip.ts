/**
 * The rollout strip of the token-attention panel: per self-attention side, row 0 of the rollout
 * (mean of heads) — how much each token flows into token 0's output through every layer — as a
 * row of tokens tinted by weight (the largest fully), each with its weight under it.
 */
import { h } from './dom';
import { fmtW, showToken } from '../util/format';
import { topK } from '../util/top-k';

export interface RolloutRow {
  side: string;
  tokens: string[];
  /** Row 0 of the side's rollout matrix. */
  weights: Float32Array;
}

export function renderRolloutStrips(container: HTMLElement, rows: readonly RolloutRow[]): void {
  container.hidden = rows.length === 0;
  container.replaceChildren(...rows.map((r) => {
    let max = 0;
    for (const w of r.weights) if (w > max) max = w;
    const top = topK(r.weights, 3).map((t) => `${r.tokens[t.index] ?? `#${t.index}`} ${fmtW(t.value)}`).join(', ');
    const title = `Rollout (mean of heads) from token 0${rows.length > 1 ? ` · ${r.side}` : ''}`;
    const from = r.tokens[0] ?? '#0';
    return h('section', { class: 'rollout', 'data-side': r.side },
      h('h3', { class: 'group-title' }, title, h('span', { class: 'muted' }, ` · how much each token flows into ${showToken(from)} through every layer`)),
      h('ol', { class: 'rollout-strip', 'aria-label': `${title}: ${r.weights.length} tokens; largest ${top}` },
        ...Array.from(r.weights, (w, i) => {
          const t = r.tokens[i] ?? `#${i}`;
          const li = h('li', { class: 'rollout-token', title: `${t} (#${i}): ${fmtW(w)}` },
            h('span', { class: 'tok' }, showToken(t, 16)),
            h('span', { class: 'w' }, fmtW(w)));
          li.style.setProperty('--alpha', `${Math.round((max > 0 ? Math.max(0, w) / max : 0) * 60)}%`);
          return li;
        })));
  }));
}

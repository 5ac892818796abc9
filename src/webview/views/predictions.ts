/** The top-k predictions; clicking one explains that class. */
import type { PredictionInfo } from '../../shared/protocol/common';
import { h } from './dom';

export function renderPredictions(
  list: HTMLElement,
  predictions: PredictionInfo[],
  target: number | undefined,
  onPick: (index: number) => void,
): void {
  list.replaceChildren(
    ...predictions.map((p) => {
      const name = p.label ?? `class ${p.index}`;
      const pct = `${(p.probability * 100).toFixed(1)}%`;
      const button = h(
        'button',
        { class: `prediction${p.index === target ? ' selected' : ''}`, 'data-index': p.index, title: `Explain ${name} (output ${p.index})`, 'aria-pressed': p.index === target ? 'true' : 'false' },
        h('span', { class: 'name' }, name),
        h('span', { class: 'pct' }, pct),
        h('span', { class: 'bar', style: `width: ${Math.max(1, p.probability * 100).toFixed(1)}%` }),
      );
      button.addEventListener('click', () => onPick(p.index));
      return h('li', {}, button);
    }),
  );
}

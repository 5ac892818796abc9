/**
 * The method list: a checkbox per method, grouped by family. Methods that do not apply to the
 * model are shown disabled with the reason as their tooltip, so nobody wonders where CAM went.
 */
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import type { MethodChoice, MethodFamily } from '../../shared/protocol/common';
import { h } from './dom';

const FAMILY_TITLES: Record<MethodFamily, string> = {
  cam: 'Class activation maps',
  gradient: 'Gradients',
  perturbation: 'Perturbation',
  reference: 'Reference',
  attention: 'Attention',
};

type Checkbox = HTMLElement & { checked: boolean; disabled: boolean };

export function renderMethodPicker(
  container: HTMLElement,
  methods: readonly MethodChoice[],
  selected: readonly string[],
  onChange: (selected: string[]) => void,
): void {
  const boxes: { id: string; el: Checkbox }[] = [];
  let last = methods.filter((m) => selected.includes(m.id) && !m.unavailable).map((m) => m.id);
  const groups = (Object.keys(FAMILY_TITLES) as MethodFamily[]).map((family) => {
    const items = methods.filter((m) => m.family === family);
    if (items.length === 0) return null;
    return h('fieldset', { class: 'method-group' },
      h('legend', {}, FAMILY_TITLES[family]),
      ...items.map((m) => {
        const el = h('vscode-checkbox', {
          'data-method': m.id,
          checked: selected.includes(m.id) && !m.unavailable,
          disabled: m.unavailable !== undefined,
          title: m.unavailable ?? `Show ${m.label} in the grid`,
        }) as Checkbox;
        el.append(m.label);
        boxes.push({ id: m.id, el });
        el.addEventListener('change', () => {
          // Only real changes: a checkbox may also fire while it renders its initial state.
          const now = boxes.filter((b) => b.el.checked).map((b) => b.id);
          if (now.join(',') !== last.join(',')) onChange((last = now));
        });
        return el;
      }));
  });
  container.replaceChildren(...groups.filter((g): g is HTMLFieldSetElement => g !== null));
}

/**
 * A row of tabs after the WAI-ARIA tabs pattern: buttons with role "tab", the selected one in
 * the tab order, arrow keys / Home / End move between them (and select, as VS Code's tabs do).
 */
import { h } from './dom';

export interface TabSpec<T extends string> {
  id: T;
  label: string;
  /** Space-separated ids of the elements the tab shows. */
  controls: string;
  title?: string;
}

export interface TabStrip<T extends string> {
  el: HTMLElement;
  /** Marks a tab as selected (without calling onSelect). */
  select(id: T): void;
  /** The tab button, for aria-labelledby. */
  button(id: T): HTMLButtonElement;
}

export function tabStrip<T extends string>(id: string, label: string, tabs: readonly TabSpec<T>[], selected: T, onSelect: (id: T) => void): TabStrip<T> {
  const buttons = tabs.map((t) => h('button', {
    id: `${id}-${t.id}`, class: 'tab', role: 'tab', type: 'button', 'aria-controls': t.controls, title: t.title, 'data-tab': t.id,
  }, t.label) as HTMLButtonElement);
  const el = h('div', { id, class: 'tabs', role: 'tablist', 'aria-label': label }, ...buttons);
  const select = (which: T) => buttons.forEach((b, i) => {
    const on = tabs[i].id === which;
    b.setAttribute('aria-selected', on ? 'true' : 'false');
    b.tabIndex = on ? 0 : -1;
    b.classList.toggle('selected', on);
  });
  const pick = (i: number) => {
    select(tabs[i].id);
    buttons[i].focus();
    onSelect(tabs[i].id);
  };
  buttons.forEach((b, i) => {
    b.addEventListener('click', () => pick(i));
    b.addEventListener('keydown', (e) => {
      const n = buttons.length;
      const to = e.key === 'ArrowRight' ? (i + 1) % n : e.key === 'ArrowLeft' ? (i + n - 1) % n : e.key === 'Home' ? 0 : e.key === 'End' ? n - 1 : -1;
      if (to < 0) return;
      e.preventDefault();
      pick(to);
    });
  });
  select(selected);
  return { el, select, button: (t: T) => buttons[tabs.findIndex((x) => x.id === t)] };
}

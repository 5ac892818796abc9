/**
 * One floating tooltip for a view: placed beside the pointer (or an element), kept inside the
 * window, never catching the pointer itself.
 */
import { h } from './dom';

export class Tooltip {
  readonly el: HTMLElement;

  /** Takes over the tooltip with this id when a rebuilt view had one already. */
  constructor(id: string) {
    const old = document.getElementById(id);
    this.el = old ?? h('div', { id, class: 'float-tip', role: 'tooltip', hidden: true });
    this.el.hidden = true;
    if (!old) document.body.append(this.el);
  }

  /** Shows `content` beside the point (client coordinates), below-right of it when there is room. */
  showAt(x: number, y: number, ...content: (Node | string)[]): void {
    this.el.replaceChildren(...content);
    this.el.hidden = false;
    const r = this.el.getBoundingClientRect();
    const gap = 14;
    let left = x + gap;
    let top = y + gap;
    if (left + r.width > window.innerWidth - 4) left = Math.max(4, x - gap - r.width);
    if (top + r.height > window.innerHeight - 4) top = Math.max(4, y - gap - r.height);
    this.el.style.left = `${left}px`;
    this.el.style.top = `${top}px`;
  }

  /** Shows `content` beside an element: to its right, else to its left. */
  showBeside(anchor: Element, ...content: (Node | string)[]): void {
    this.el.replaceChildren(...content);
    this.el.hidden = false;
    const a = anchor.getBoundingClientRect();
    const r = this.el.getBoundingClientRect();
    let left = a.right + 8;
    if (left + r.width > window.innerWidth - 4) left = Math.max(4, a.left - 8 - r.width);
    const top = Math.min(Math.max(4, a.top + a.height / 2 - r.height / 2), Math.max(4, window.innerHeight - 4 - r.height));
    this.el.style.left = `${left}px`;
    this.el.style.top = `${top}px`;
  }

  /** Shows `content` to the right of `x`, centred on `y` (client coordinates); left of `leftLimit` when there is no room. */
  showRightOf(x: number, y: number, leftLimit: number, ...content: (Node | string)[]): void {
    this.el.replaceChildren(...content);
    this.el.hidden = false;
    const r = this.el.getBoundingClientRect();
    let left = x + 8;
    if (left + r.width > window.innerWidth - 4) left = Math.max(4, leftLimit - 8 - r.width);
    const top = Math.min(Math.max(4, y - r.height / 2), Math.max(4, window.innerHeight - 4 - r.height));
    this.el.style.left = `${left}px`;
    this.el.style.top = `${top}px`;
  }

  hide(): void {
    this.el.hidden = true;
  }
}

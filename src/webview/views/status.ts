/** The busy ring, Cancel button, status line and error box that both panels share. */
import { h } from './dom';

export interface StatusUi {
  ring: HTMLElement;
  cancel: HTMLElement;
  status: HTMLElement;
  error: HTMLElement;
}

export function setBusy(ui: StatusUi | undefined, busy: boolean, text: string): void {
  if (!ui) return;
  ui.ring.hidden = !busy;
  ui.cancel.hidden = !busy;
  ui.status.textContent = text;
  document.body.classList.toggle('busy', busy);
}

/** A run ended in failure: its message in the error box (or instead of a panel never built). */
export function showFailure(ui: StatusUi | undefined, message: string, cancelled: boolean, cancelledText: string): void {
  setBusy(ui, false, cancelled ? cancelledText : 'Failed.');
  if (ui && !cancelled) {
    ui.error.textContent = message;
    ui.error.hidden = false;
  } else if (!ui) {
    document.getElementById('app')!.replaceChildren(h('div', { class: 'error', role: 'alert' }, message));
  }
}

/** A tiny helper for building DOM without innerHTML (no injection from labels or file names). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Partial<Record<string, string | number | boolean>>,
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K];
export function h(tag: string, props?: Partial<Record<string, string | number | boolean>>, ...children: (Node | string | null | undefined)[]): HTMLElement;
export function h(tag: string, props: Partial<Record<string, string | number | boolean>> = {}, ...children: (Node | string | null | undefined)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === false) continue;
    // Styles go through the CSSOM: the panel's CSP allows no inline style attributes.
    if (k === 'style') el.style.cssText = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

/** A `vscode-single-select` with its options; `description` shows beside an option. */
export function singleSelect(id: string, label: string, options: { value: string; label: string; description?: string }[], value: string | undefined): HTMLElement & { value: string } {
  const el = h('vscode-single-select', { id, 'aria-label': label }) as HTMLElement & { value: string };
  for (const o of options) {
    el.append(h('vscode-option', { value: o.value, description: o.description ?? '', selected: o.value === value }, o.label));
  }
  return el;
}

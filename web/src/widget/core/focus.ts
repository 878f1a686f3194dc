/** Keyboard focus inside the widget's shadow root: what Tab reaches, and keeping it in a dialog. */

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** What Tab can reach inside `root`, in order (hidden elements left out). */
export function focusables(root: ParentNode): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
    (el) => !el.closest("[hidden]") && el.getClientRects().length > 0,
  );
}

/**
 * Keeps Tab and Shift+Tab going round inside `container` (the panel, or a popup), also when focus
 * sits on something Tab does not reach itself (a heading focused on purpose).
 */
export function trapTab(event: KeyboardEvent, container: HTMLElement, root: ShadowRoot): void {
  if (event.key !== "Tab") return;
  const items = focusables(container);
  if (!items.length) return;
  const at = items.indexOf(root.activeElement as HTMLElement);
  const first = items[0] as HTMLElement;
  const last = items[items.length - 1] as HTMLElement;
  if (event.shiftKey && at <= 0) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (at === -1 || at === items.length - 1)) {
    event.preventDefault();
    first.focus();
  }
}

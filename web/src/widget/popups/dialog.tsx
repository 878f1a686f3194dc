/**
 * Support's popups: the first active one as a modal dialog in the middle of the window, loaded by
 * the launcher whenever there is one (even with the Help panel closed). Every tab shows the same
 * state: the PopupCenter follows the stream, and an action here moves the dialog to the next one.
 * Nothing removes a popup but the user: Escape only closes the "Remind later" choices.
 */
import type { JSX } from "preact";
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { WidgetContext } from "../core/context";
import { trapTab } from "../core/focus";
import { register } from "../core/i18n";
import type { Popup } from "../core/popups";
import { common } from "../i18n/common";
import { popupStrings } from "../i18n/popups";
import { Ctx, useId, useStore, useT, useWidget } from "../panel/hooks";
import { errorText } from "../panel/ui";
import dialogCss from "./dialog.css";

register(common);
register(popupStrings);

/** The element that really has focus, looking through shadow roots. */
function deepActive(): HTMLElement | null {
  let active = document.activeElement as HTMLElement | null;
  while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement as HTMLElement;
  return active;
}

function PopupHost(): JSX.Element | null {
  const ctx = useWidget();
  const active = useStore(ctx.popups.active);
  const popup = active[0];
  const returnTo = useRef<HTMLElement | null>(null);
  const showing = Boolean(popup);

  useEffect(() => {
    if (showing) {
      const current = deepActive();
      returnTo.current = current && current !== document.body ? current : null;
      return;
    }
    // The last popup is gone: focus goes back where it was (if that is still on the page).
    const back = returnTo.current;
    returnTo.current = null;
    if (!back?.isConnected) return;
    // "View fully" opened the panel: the panel places focus itself.
    if (ctx.isOpen.value && !ctx.root.contains(back)) return;
    back.focus();
  }, [showing]);

  if (!popup) return null;
  return (
    <div class="popup-backdrop">
      <PopupDialog key={popup.popup_id} popup={popup} index={1} total={active.length} />
    </div>
  );
}

type Busy = null | "snooze" | "open" | "delete";

function tomorrowAtNine(): Date {
  const date = new Date();
  date.setDate(date.getDate() + 1);
  date.setHours(9, 0, 0, 0);
  return date;
}

/** `YYYY-MM-DDTHH:MM` in local time, what <input type="datetime-local"> takes. */
function localInput(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function PopupDialog({ popup, index, total }: { popup: Popup; index: number; total: number }): JSX.Element {
  const ctx = useWidget();
  const { t, lang } = useT();
  const id = useId("hd-popup");
  const dialog = useRef<HTMLDivElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const remindButton = useRef<HTMLButtonElement>(null);
  const [menu, setMenu] = useState(false);
  const [busy, setBusy] = useState<Busy>(null);
  const [error, setError] = useState<string | null>(null);
  const [custom, setCustom] = useState("");
  const [customError, setCustomError] = useState<string | null>(null);

  // Focus into the dialog; keep it there (a panel opening underneath must not take it).
  useEffect(() => {
    heading.current?.focus();
    const onFocus = (event: FocusEvent): void => {
      const el = dialog.current;
      if (el && !event.composedPath().includes(el)) heading.current?.focus();
    };
    document.addEventListener("focusin", onFocus, true);
    ctx.root.addEventListener("focusin", onFocus as EventListener, true);
    return () => {
      document.removeEventListener("focusin", onFocus, true);
      ctx.root.removeEventListener("focusin", onFocus as EventListener, true);
    };
  }, []);

  // Shown: say so once the user can see it (every tab may; the server records the first).
  useEffect(() => {
    const deliver = (): void => {
      if (document.visibilityState === "visible") void ctx.popups.delivered(popup).catch(() => undefined);
    };
    deliver();
    document.addEventListener("visibilitychange", deliver);
    return () => document.removeEventListener("visibilitychange", deliver);
  }, [popup.popup_id, popup.status]);

  const act = async (kind: Exclude<Busy, null>, action: () => Promise<void>): Promise<void> => {
    if (busy) return;
    setBusy(kind);
    setError(null);
    try {
      await action();
    } catch (failure) {
      setError(errorText(t, failure));
      setBusy(null);
      return;
    }
    setBusy(null); // usually unmounted by now: the next popup (or none) takes this one's place
  };

  const snooze = (until: Date): void => void act("snooze", () => ctx.popups.snooze(popup, until));

  const snoozeCustom = (): void => {
    if (!custom) {
      setCustomError(t("popups.remind.custom_missing"));
      return;
    }
    const until = new Date(custom);
    if (Number.isNaN(until.getTime()) || until.getTime() <= Date.now()) {
      setCustomError(t("popups.remind.custom_past"));
      return;
    }
    setCustomError(null);
    snooze(until);
  };

  const viewFully = (): void =>
    void act("open", async () => {
      const target = await ctx.popups.open(popup);
      const ticketId = target?.ticket_id ?? popup.ticket_id;
      ctx.open(ticketId ? { section: "history", ticketId } : { section: "history", messages: true });
    });

  const remove = (): void => void act("delete", () => ctx.popups.remove(popup));

  const onKeyDown = (event: KeyboardEvent): void => {
    const el = dialog.current;
    if (!el) return;
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      if (menu) {
        setMenu(false);
        remindButton.current?.focus();
      }
      return;
    }
    trapTab(event, el, ctx.root);
  };

  const time = new Intl.DateTimeFormat(lang, { hour: "numeric", minute: "2-digit" }).format(tomorrowAtNine());
  const nowInput = localInput(new Date());
  const isReply = popup.kind === "ticket_reply";

  return (
    <div
      ref={dialog}
      class="popup-dialog"
      role="dialog"
      aria-modal="true"
      aria-labelledby={`${id}-heading`}
      aria-describedby={`${id}-text`}
      lang={lang}
      onKeyDown={onKeyDown}
    >
      <div class="popup-head">
        <h2 id={`${id}-heading`} ref={heading} tabIndex={-1}>
          {isReply ? t("popups.heading.reply") : t("popups.heading.message")}
        </h2>
        {total > 1 && <span class="popup-count">{t("popups.count", { index, total })}</span>}
      </div>
      <div class="popup-body">
        {popup.ticket_number && <p class="popup-number">{t("popups.request", { number: popup.ticket_number })}</p>}
        {popup.title && <p class="popup-title">{popup.title}</p>}
        <p class="popup-text" id={`${id}-text`}>
          {popup.text}
        </p>
        <p class="popup-hint">{t("popups.hint")}</p>
      </div>
      {error && (
        <div class="popup-error" role="alert">
          {error}
        </div>
      )}
      {menu && (
        <div class="popup-remind" role="group" aria-labelledby={`${id}-remind-title`} id={`${id}-remind`}>
          <p class="popup-remind-title" id={`${id}-remind-title`}>
            {t("popups.remind.title")}
          </p>
          <div class="popup-remind-choices">
            <button type="button" class="popup-button secondary" aria-disabled={busy !== null} onClick={() => snooze(new Date(Date.now() + 15 * 60_000))}>
              {t("popups.remind.15m")}
            </button>
            <button type="button" class="popup-button secondary" aria-disabled={busy !== null} onClick={() => snooze(new Date(Date.now() + 60 * 60_000))}>
              {t("popups.remind.1h")}
            </button>
            <button type="button" class="popup-button secondary" aria-disabled={busy !== null} onClick={() => snooze(tomorrowAtNine())}>
              {t("popups.remind.tomorrow", { time })}
            </button>
          </div>
          <div class="popup-custom">
            <label for={`${id}-custom`}>{t("popups.remind.custom")}</label>
            <div class="popup-custom-row">
              <input
                id={`${id}-custom`}
                type="datetime-local"
                value={custom}
                min={nowInput}
                aria-invalid={customError ? true : undefined}
                aria-describedby={customError ? `${id}-custom-error` : undefined}
                onInput={(e) => {
                  setCustom((e.currentTarget as HTMLInputElement).value);
                  setCustomError(null);
                }}
                onKeyDown={(e) => {
                  if (e.key === "Enter") {
                    e.preventDefault();
                    snoozeCustom();
                  }
                }}
              />
              <button type="button" class="popup-button secondary" aria-disabled={busy !== null} onClick={snoozeCustom}>
                {t("popups.remind.set")}
              </button>
            </div>
            {customError && (
              <p class="popup-field-error" id={`${id}-custom-error`} role="alert">
                {customError}
              </p>
            )}
          </div>
        </div>
      )}
      <div class="popup-actions">
        <button
          ref={remindButton}
          type="button"
          class="popup-button secondary"
          aria-expanded={menu}
          aria-controls={menu ? `${id}-remind` : undefined}
          aria-disabled={busy !== null}
          onClick={() => busy === null && setMenu(!menu)}
        >
          {busy === "snooze" ? t("popups.busy") : t("popups.remind")}
        </button>
        <button type="button" class="popup-button" aria-disabled={busy !== null} onClick={viewFully}>
          {busy === "open" ? t("popups.busy") : t("popups.view")}
        </button>
        <button type="button" class="popup-button danger" aria-disabled={busy !== null} onClick={remove}>
          {busy === "delete" ? t("popups.busy") : t("popups.delete")}
        </button>
      </div>
    </div>
  );
}

const styled = new WeakSet<WidgetContext>();

export function mountPopups(ctx: WidgetContext, container: HTMLElement): void {
  if (!styled.has(ctx)) ctx.adopt(dialogCss);
  styled.add(ctx);
  render(
    <Ctx.Provider value={ctx}>
      <PopupHost />
    </Ctx.Provider>,
    container,
  );
}

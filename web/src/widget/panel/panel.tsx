/**
 * The Help panel: a modal dialog with five sections (FAQ, Chat, New request, Request history,
 * Contacts and hours).
 * Keyboard: Tab stays inside, arrows move between the section tabs, Escape closes and focus goes
 * back to the Help button. Closing unmounts the sections, which ends a running chat.
 */
import type { JSX } from "preact";
import { render } from "preact";
import { useEffect, useRef } from "preact/hooks";
import type { Section, WidgetContext } from "../core/context";
import { trapTab } from "../core/focus";
import { register } from "../core/i18n";
import { common } from "../i18n/common";
import { panelStrings } from "../i18n/panel";
import chatCss from "../sections/chat.css";
import contactsCss from "../sections/contacts.css";
import { ContactsSection } from "../sections/contacts";
import { ChatSection } from "../sections/chat";
import faqCss from "../sections/faq.css";
import { FaqSection } from "../sections/faq";
import historyCss from "../sections/history.css";
import { HistorySection } from "../sections/history";
import requestCss from "../sections/request.css";
import { RequestSection } from "../sections/request";
import { Ctx, useStore, useT, useWidget } from "./hooks";
import { LanguageSelect } from "./ui";
import panelCss from "./panel.css";

register(common);
register(panelStrings);

const SECTIONS: readonly Section[] = ["faq", "chat", "request", "history", "contacts"];

function Tabs({ current }: { current: Section }): JSX.Element {
  const ctx = useWidget();
  const { t } = useT();
  const onKey = (event: KeyboardEvent): void => {
    const index = SECTIONS.indexOf(current);
    let next = index;
    if (event.key === "ArrowRight") next = (index + 1) % SECTIONS.length;
    else if (event.key === "ArrowLeft") next = (index + SECTIONS.length - 1) % SECTIONS.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = SECTIONS.length - 1;
    else return;
    event.preventDefault();
    ctx.route.set({ section: SECTIONS[next] as Section });
    queueMicrotask(() => ctx.root.getElementById(`hd-tab-${SECTIONS[next]}`)?.focus());
  };
  return (
    <div class="tabs" role="tablist" aria-label={t("panel.sections")} onKeyDown={onKey}>
      {SECTIONS.map((section) => (
        <button
          key={section}
          id={`hd-tab-${section}`}
          type="button"
          role="tab"
          class="tab"
          aria-selected={section === current}
          aria-controls={`hd-section-${section}`}
          tabIndex={section === current ? 0 : -1}
          onClick={() => ctx.route.set({ section })}
        >
          {t(`panel.tab.${section}`)}
        </button>
      ))}
    </div>
  );
}

function ConnectionBanner(): JSX.Element | null {
  const ctx = useWidget();
  const { t } = useT();
  const online = useStore(ctx.online);
  const connection = useStore(ctx.popups.connection);
  if (!online || connection === "offline") {
    return (
      <div class="banner offline" role="status">
        {t("panel.offline")}
      </div>
    );
  }
  if (connection === "reconnecting") {
    return (
      <div class="banner reconnecting" role="status">
        {t("panel.reconnecting")}
      </div>
    );
  }
  return null;
}

function Panel(): JSX.Element | null {
  const ctx = useWidget();
  const { t, lang } = useT();
  const open = useStore(ctx.isOpen);
  const route = useStore(ctx.route);
  const dialog = useRef<HTMLDivElement>(null);
  // A chat lives until the Help window closes: it stays mounted (hidden) while other tabs are shown.
  const chatVisited = useRef(false);
  useEffect(() => {
    if (!open) chatVisited.current = false;
  }, [open]);

  useEffect(() => {
    if (!open) return;
    const el = dialog.current;
    // Focus the heading's first control once the panel is on screen.
    // A "view fully" from a popup puts focus on the request itself; otherwise on the current tab.
    if (!ctx.route.value.ticketId) {
      requestAnimationFrame(() => ctx.root.getElementById(`hd-tab-${ctx.route.value.section}`)?.focus());
    }
    const onKey = (event: KeyboardEvent): void => {
      if (!el) return;
      if (event.key === "Escape" && !ctx.root.querySelector(".popup-dialog")) {
        event.preventDefault();
        ctx.close();
      } else {
        trapTab(event, el, ctx.root);
      }
    };
    el?.addEventListener("keydown", onKey);
    return () => el?.removeEventListener("keydown", onKey);
  }, [open]);

  if (!open) return null;
  if (route.section === "chat") chatVisited.current = true;
  const Body = {
    faq: FaqSection,
    chat: ChatSection,
    request: RequestSection,
    history: HistorySection,
    contacts: ContactsSection,
  }[route.section];
  return (
    <div class="panel" role="dialog" aria-modal="true" aria-labelledby="hd-panel-title" ref={dialog} lang={lang}>
      <div class="panel-head">
        <h2 id="hd-panel-title">{t("panel.title")}</h2>
        <LanguageSelect value={lang} label={t("panel.language")} onChange={(code) => ctx.lang.set(code)} />
        <button type="button" class="icon-button" aria-label={t("panel.close")} onClick={() => ctx.close()}>
          <span aria-hidden="true">×</span>
        </button>
      </div>
      <ConnectionBanner />
      <Tabs current={route.section} />
      {route.section !== "chat" && (
        <section
          class="section"
          id={`hd-section-${route.section}`}
          role="tabpanel"
          aria-labelledby={`hd-tab-${route.section}`}
          key={route.section}
        >
          <Body />
        </section>
      )}
      {chatVisited.current && (
        <section
          class="section"
          id="hd-section-chat"
          role="tabpanel"
          aria-labelledby="hd-tab-chat"
          hidden={route.section !== "chat"}
          key="chat"
        >
          <ChatSection />
        </section>
      )}
    </div>
  );
}

export function mountPanel(ctx: WidgetContext, container: HTMLElement): void {
  ctx.adopt([panelCss, faqCss, chatCss, requestCss, historyCss, contactsCss].join("\n"));
  render(
    <Ctx.Provider value={ctx}>
      <Panel />
    </Ctx.Provider>,
    container,
  );
}

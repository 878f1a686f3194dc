/**
 * Request history: the user's requests (a table, then one request with its timeline and a reply
 * form) and "Messages from support" (every popup they received, deleted ones included).
 * Route: `{section: "history", ticketId?, messages?}`.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { register } from "../core/i18n";
import { historyStrings } from "../i18n/history";
import { useStore, useT, useWidget } from "../panel/hooks";
import { TicketDetailView } from "./history/detail";
import { NO_FILTERS, RequestsView, type RequestFilters } from "./history/list";
import { MessagesView, NO_MESSAGE_FILTERS, type MessageFilters } from "./history/messages";

register(historyStrings);

type View = "requests" | "messages";
const VIEWS: readonly View[] = ["requests", "messages"];

export function HistorySection(): JSX.Element {
  const ctx = useWidget();
  const { t } = useT();
  const route = useStore(ctx.route);
  const view: View = route.messages ? "messages" : "requests";
  const ticketId = route.section === "history" ? route.ticketId : undefined;
  const [requestFilters, setRequestFilters] = useState<RequestFilters>(NO_FILTERS);
  const [messageFilters, setMessageFilters] = useState<MessageFilters>(NO_MESSAGE_FILTERS);
  const lastTicket = useRef<string | undefined>(undefined);

  useEffect(() => {
    if (ticketId) {
      lastTicket.current = ticketId;
      return;
    }
    const previous = lastTicket.current;
    if (!previous) return;
    lastTicket.current = undefined;
    // Back from a request: focus its row's View button, else the current view's tab.
    requestAnimationFrame(() => {
      const target = ctx.root.getElementById(`hd-hist-view-${previous}`) ?? ctx.root.getElementById(`hd-hist-tab-${view}`);
      target?.focus();
    });
  }, [ticketId]);

  const show = (next: View, focus = false): void => {
    ctx.route.set({ section: "history", messages: next === "messages" });
    if (focus) queueMicrotask(() => ctx.root.getElementById(`hd-hist-tab-${next}`)?.focus());
  };

  const onKey = (event: KeyboardEvent): void => {
    const index = VIEWS.indexOf(view);
    let next: number;
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") next = (index + 1) % VIEWS.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = VIEWS.length - 1;
    else return;
    event.preventDefault();
    event.stopPropagation();
    show(VIEWS[next] as View, true);
  };

  return (
    <div class="history">
      {ticketId && <TicketDetailView key={ticketId} ticketId={ticketId} onBack={() => show(view)} />}
      <div hidden={Boolean(ticketId)}>
        <div class="hist-tabs" role="tablist" aria-label={t("history.views")} onKeyDown={onKey}>
          {VIEWS.map((name) => (
            <button
              key={name}
              id={`hd-hist-tab-${name}`}
              type="button"
              role="tab"
              class="hist-tab"
              aria-selected={name === view}
              aria-controls={`hd-hist-panel-${name}`}
              tabIndex={name === view ? 0 : -1}
              onClick={() => show(name)}
            >
              {t(`history.tab.${name}`)}
            </button>
          ))}
        </div>
        {/* The list stays mounted (hidden) while one request is shown: "Back" finds its pages as they were. */}
        {view === "requests" && (
          <div id="hd-hist-panel-requests" role="tabpanel" aria-labelledby="hd-hist-tab-requests">
            <RequestsView
              filters={requestFilters}
              onFilters={setRequestFilters}
              onView={(ticket) => ctx.route.set({ section: "history", ticketId: ticket.ticket_id })}
            />
          </div>
        )}
        {view === "messages" && (
          <div id="hd-hist-panel-messages" role="tabpanel" aria-labelledby="hd-hist-tab-messages">
            <MessagesView
              filters={messageFilters}
              onFilters={setMessageFilters}
              onOpenTicket={(id) => ctx.route.set({ section: "history", ticketId: id, messages: true })}
            />
          </div>
        )}
      </div>
    </div>
  );
}

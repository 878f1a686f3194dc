/**
 * "Messages from support": every popup the user received (support's replies and direct messages),
 * whatever became of it; a popup deleted by mistake can still be read here.
 */
import type { JSX } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { formatDateTime, userTimeZone } from "../../core/i18n";
import type { Popup, PopupStatus } from "../../core/popups";
import { useDebounced, useId, useStore, useT, useWidget } from "../../panel/hooks";
import { ErrorNotice, Spinner } from "../../panel/ui";
import { DateRange, FilterSelect, MoreButton, rangeValid, usePaged, type Page, type Range } from "./shared";

export interface PopupHistoryItem extends Omit<Popup, "account_id"> {
  changed_at: string;
}

export type MessageState = "new" | "reminded" | "opened" | "deleted";
export const MESSAGE_STATES: readonly MessageState[] = ["new", "reminded", "opened", "deleted"];

const STATE_STATUSES: Record<MessageState, PopupStatus[]> = {
  new: ["raised", "delivered"],
  reminded: ["snoozed", "due"],
  opened: ["opened"],
  deleted: ["deleted"],
};

export function stateOf(status: PopupStatus): MessageState {
  if (status === "snoozed" || status === "due") return "reminded";
  if (status === "opened" || status === "deleted") return status;
  return "new";
}

export interface MessageFilters extends Range {
  state: string;
  kind: string;
}

export const NO_MESSAGE_FILTERS: MessageFilters = { from: "", to: "", state: "", kind: "" };

const PAGE_SIZE = 20;

export function MessagesView({
  filters,
  onFilters,
  onOpenTicket,
}: {
  filters: MessageFilters;
  onFilters: (next: MessageFilters) => void;
  onOpenTicket: (ticketId: string) => void;
}): JSX.Element {
  const ctx = useWidget();
  const { t, lang } = useT();
  const id = useId("hd-msg");
  const live = useStore(ctx.popups.all);
  const settled = useDebounced(filters, 300);
  const valid = rangeValid(settled);
  const key = valid ? JSON.stringify(settled) : null;
  const paged = usePaged<PopupHistoryItem>(key, (cursor, signal) =>
    ctx.api.get<Page<PopupHistoryItem>>("/api/v1/popups/history", {
      signal,
      query: {
        date_from: settled.from || null,
        date_to: settled.to || null,
        tz: userTimeZone(),
        status: settled.state ? STATE_STATUSES[settled.state as MessageState] : null,
        kind: settled.kind || null,
        limit: PAGE_SIZE,
        cursor,
      },
    }),
  );
  // What other tabs did since the page was read arrives over the popup stream: newer state wins.
  const items = paged.items.map((item) => {
    const now = live.get(item.popup_id);
    return now && now.version > item.version ? { ...item, status: now.status, snoozed_until: now.snoozed_until, version: now.version } : item;
  });
  const filtered = Boolean(filters.from || filters.to || filters.state || filters.kind);
  // A popup raised while this list is on screen: read the list again so it shows up.
  const known = useRef(live.size);
  useEffect(() => {
    if (live.size > known.current) paged.reload();
    known.current = live.size;
  }, [live]);

  return (
    <div class="hist-view">
      <form class="hist-filters" aria-label={t("history.messages.filters")} onSubmit={(e) => e.preventDefault()}>
        <DateRange legend={t("history.messages.filter.date")} value={filters} onChange={(range) => onFilters({ ...filters, ...range })} />
        <div class="hist-selects">
          <FilterSelect id={`${id}-state`} label={t("history.messages.filter.state")} all={t("history.messages.filter.all_states")} value={filters.state} onChange={(state) => onFilters({ ...filters, state })}>
            {MESSAGE_STATES.map((state) => (
              <option key={state} value={state}>
                {t(`history.messages.state.${state}`)}
              </option>
            ))}
          </FilterSelect>
          <FilterSelect id={`${id}-kind`} label={t("history.messages.filter.kind")} all={t("history.messages.filter.all_kinds")} value={filters.kind} onChange={(kind) => onFilters({ ...filters, kind })}>
            <option value="ticket_reply">{t("history.messages.kind.ticket_reply")}</option>
            <option value="message">{t("history.messages.kind.message")}</option>
          </FilterSelect>
        </div>
        {filtered && (
          <button type="button" class="link" onClick={() => onFilters(NO_MESSAGE_FILTERS)}>
            {t("history.filter.clear")}
          </button>
        )}
      </form>

      {paged.loading && !items.length && <Spinner label={t("history.messages.loading")} />}
      <ErrorNotice error={paged.error} onRetry={paged.reload} />

      {!paged.loading && !paged.error && valid && items.length === 0 && (
        <div class="notice info" role="status">
          <span>{filtered ? t("history.messages.empty.filtered") : t("history.messages.empty")}</span>
          {filtered && (
            <button type="button" class="link" onClick={() => onFilters(NO_MESSAGE_FILTERS)}>
              {t("history.filter.clear")}
            </button>
          )}
        </div>
      )}

      {items.length > 0 && (
        <>
          <p class="hint" role="status">
            {t("history.messages.shown", { count: items.length })}
          </p>
          <ul class="hist-messages" aria-label={t("history.messages.list")} aria-busy={paged.loading}>
            {items.map((item) => {
              const state = stateOf(item.status);
              const headingId = `hd-msg-${item.popup_id}`;
              return (
                <li key={item.popup_id} class={`hist-message state-${state}`}>
                  <article aria-labelledby={headingId}>
                    <div class="hist-item-head">
                      <span class={`hist-state state-${state}`}>{t(`history.messages.state.${state}`)}</span>
                      <time dateTime={item.raised_at}>{t("history.messages.received", { time: formatDateTime(lang, item.raised_at) })}</time>
                    </div>
                    <h4 id={headingId} class="hist-message-title">
                      {item.title || t(`history.messages.kind.${item.kind}`)}
                    </h4>
                    <p class="hist-text">{item.text}</p>
                    {item.status === "snoozed" && item.snoozed_until && (
                      <p class="hint">{t("history.messages.snoozed_until", { time: formatDateTime(lang, item.snoozed_until) })}</p>
                    )}
                    {item.ticket_id && (
                      <button type="button" class="button secondary" onClick={() => onOpenTicket(item.ticket_id as string)}>
                        {item.ticket_number ? t("history.messages.open_request", { number: item.ticket_number }) : t("history.messages.open_request_plain")}
                      </button>
                    )}
                  </article>
                </li>
              );
            })}
          </ul>
          <MoreButton paged={paged as never} label={t("common.more")} />
        </>
      )}
    </div>
  );
}

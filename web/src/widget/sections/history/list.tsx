/** "Requests": the user's requests in a table, filtered by day, topic and status, page by page. */
import type { JSX } from "preact";
import { useDebounced, useId, useT, useWidget } from "../../panel/hooks";
import { ErrorNotice, Spinner, statusLabel, topicLabel } from "../../panel/ui";
import { formatDateTime, userTimeZone } from "../../core/i18n";
import { DateRange, FilterSelect, MoreButton, rangeValid, usePaged, useRequestForm, type Page, type Range } from "./shared";

export const STATUSES = ["new", "in_progress", "waiting_for_user", "resolved", "closed"] as const;

export interface TicketSummary {
  ticket_id: string;
  number: string;
  topic: string;
  /** The server's name of the topic, in the language the list was asked in (`lang`). */
  topic_label?: string;
  status: string;
  status_label?: string;
  importance: string;
  comment: string;
  created_at: string;
  updated_at: string;
  version: number;
  /** `#`: the row's place in the filtered list, from 1, continuing across pages (the server counts). */
  ordinal?: number;
}

export interface RequestFilters extends Range {
  topic: string;
  status: string;
}

export const NO_FILTERS: RequestFilters = { from: "", to: "", topic: "", status: "" };

const PAGE_SIZE = 20;

export function RequestsView({
  filters,
  onFilters,
  onView,
}: {
  filters: RequestFilters;
  onFilters: (next: RequestFilters) => void;
  onView: (ticket: TicketSummary) => void;
}): JSX.Element {
  const ctx = useWidget();
  const { t, lang } = useT();
  const id = useId("hd-req");
  const { form } = useRequestForm(ctx);
  const settled = useDebounced(filters, 300);
  const valid = rangeValid(settled);
  const key = valid ? JSON.stringify({ ...settled, lang }) : null; // the labels come in `lang`
  const paged = usePaged<TicketSummary>(key, (cursor, signal) =>
    ctx.api.get<Page<TicketSummary>>("/api/v1/tickets", {
      signal,
      query: {
        date_from: settled.from || null,
        date_to: settled.to || null,
        tz: settled.from || settled.to ? userTimeZone() : null,
        topic: settled.topic || null,
        status: settled.status ? [settled.status] : null,
        limit: PAGE_SIZE,
        lang,
        cursor,
      },
    }),
  );
  const filtered = Boolean(filters.from || filters.to || filters.topic || filters.status);
  const topics = form?.topics ?? [];
  const knownTopic = !filters.topic || topics.some((topic) => topic.id === filters.topic);

  return (
    <div class="hist-view">
      <form class="hist-filters" aria-label={t("history.filters")} onSubmit={(e) => e.preventDefault()}>
        <DateRange legend={t("history.filter.date")} value={filters} onChange={(range) => onFilters({ ...filters, ...range })} />
        <div class="hist-selects">
          <FilterSelect id={`${id}-topic`} label={t("history.filter.topic")} all={t("history.filter.all_topics")} value={filters.topic} onChange={(topic) => onFilters({ ...filters, topic })}>
            {topics.map((topic) => (
              <option key={topic.id} value={topic.id}>
                {topicLabel(t, topic.id, topic.name)}
              </option>
            ))}
            {!knownTopic && <option value={filters.topic}>{topicLabel(t, filters.topic)}</option>}
          </FilterSelect>
          <FilterSelect id={`${id}-status`} label={t("history.filter.status")} all={t("history.filter.all_statuses")} value={filters.status} onChange={(status) => onFilters({ ...filters, status })}>
            {STATUSES.map((status) => (
              <option key={status} value={status}>
                {statusLabel(t, status)}
              </option>
            ))}
          </FilterSelect>
        </div>
        {filtered && (
          <button type="button" class="link" onClick={() => onFilters(NO_FILTERS)}>
            {t("history.filter.clear")}
          </button>
        )}
      </form>

      {paged.loading && !paged.items.length && <Spinner label={t("history.loading")} />}
      <ErrorNotice error={paged.error} onRetry={paged.reload} />

      {!paged.loading && !paged.error && valid && paged.items.length === 0 && (
        <div class="hist-empty notice info" role="status">
          <span>{filtered ? t("history.empty.filtered") : t("history.empty")}</span>
          {filtered ? (
            <button type="button" class="link" onClick={() => onFilters(NO_FILTERS)}>
              {t("history.filter.clear")}
            </button>
          ) : (
            <button type="button" class="link" onClick={() => ctx.route.set({ section: "request" })}>
              {t("history.empty.new_request")}
            </button>
          )}
        </div>
      )}

      {paged.items.length > 0 && (
        <>
          <p class="hint" role="status">
            {t("history.shown", { count: paged.items.length })}
          </p>
          <div class="hist-table-wrap">
            <table class="hist-table" aria-busy={paged.loading}>
              <caption>{t("history.table.caption")}</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">{t("history.col.number")}</th>
                  <th scope="col">{t("history.col.topic")}</th>
                  <th scope="col">{t("history.col.status")}</th>
                  <th scope="col">{t("history.col.updated")}</th>
                  <th scope="col">
                    <span class="sr-only">{t("history.col.actions")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {paged.items.map((ticket, index) => (
                  <tr key={ticket.ticket_id}>
                    <td class="hist-ordinal">{new Intl.NumberFormat(lang).format(ticket.ordinal ?? index + 1)}</td>
                    <th scope="row" class="hist-number">
                      {ticket.number}
                    </th>
                    <td>{topicLabel(t, ticket.topic, ticket.topic_label)}</td>
                    <td>
                      <span class={`hist-status status-${ticket.status}`}>{ticket.status_label ?? statusLabel(t, ticket.status)}</span>
                    </td>
                    <td>
                      <time dateTime={ticket.updated_at}>{formatDateTime(lang, ticket.updated_at)}</time>
                    </td>
                    <td>
                      <button
                        type="button"
                        class="button secondary hist-view-button"
                        id={`hd-hist-view-${ticket.ticket_id}`}
                        aria-label={t("history.view_label", { number: ticket.number })}
                        onClick={() => onView(ticket)}
                      >
                        {t("history.view")}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <MoreButton paged={paged as never} label={t("common.more")} />
        </>
      )}
    </div>
  );
}

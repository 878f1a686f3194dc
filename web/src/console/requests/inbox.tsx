/**
 * The inbox: every account's requests, newest update first, with filters, counts per status, pages
 * ("Show more") and live updates — an event refetches the first page (debounced) and the rows that
 * are new or changed are highlighted for a while.
 */
import type { JSX } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { formatDateTime, type Translate } from "../../widget/core/i18n";
import { useFormPolicy, useTopicNames } from "../../widget/panel/files";
import { ErrorNotice, Spinner, topicLabel } from "../../widget/panel/ui";
import { useConsole, useDebounced, useId, useLatest, useStore, useT } from "../hooks";
import type { LiveTickets, TicketEvent } from "./live";
import {
  IMPORTANCES,
  NO_FILTERS,
  PRIORITIES,
  STATUSES,
  filterQuery,
  type AssigneeFilter,
  type Counts,
  type Filters,
  type Status,
  type TicketPage,
  type TicketSummary,
} from "./model";

const PAGE = 25;
const DEBOUNCE_MS = 400;
const FRESH_MS = 20_000;

/** A status as support says it (the widget's labels speak to the hotel). */
export function supportStatus(t: Translate, status: string): string {
  return t(`requests.status.${status}`);
}

export function assigneeName(t: Translate, ticket: TicketSummary): string {
  if (!ticket.assignee) return t("requests.unassigned");
  return ticket.assignee.name || ticket.assignee.id;
}

export function Inbox({ live, openId }: { live: LiveTickets; openId: string | undefined }): JSX.Element {
  const ctx = useConsole();
  const topicNames = useTopicNames(ctx.api);
  const { t, lang } = useT();
  const agent = useStore(ctx.agent);
  const mode = useStore(live.mode);
  const me = agent?.sub ?? "";
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const typed = useDebounced(filters.account + "\n" + filters.assigneeId, DEBOUNCE_MS);
  // Typed filters wait until typing stops; choices apply at once.
  const [typedAccount = "", typedAssignee = ""] = typed.split("\n");
  const effective: Filters = { ...filters, account: typedAccount, assigneeId: typedAssignee };
  const listQuery = filterQuery(effective, me);
  const countQuery = filterQuery(effective, me, false);
  const key = JSON.stringify(listQuery);
  const countKey = JSON.stringify(countQuery);

  // Live: every event (or a poll) refetches page one and the counts, at most once per DEBOUNCE_MS,
  // waiting (read-your-writes) until the history view holds the newest event it was told about.
  const [tick, setTick] = useState<{ n: number; waitFor?: { ticket_id: string; min_version: number } }>({ n: 0 });
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let waitFor: { ticket_id: string; min_version: number } | undefined;
    const unsubscribe = live.subscribe((event: TicketEvent | null) => {
      if (event?.ticket_id && typeof event.version === "number") waitFor = { ticket_id: event.ticket_id, min_version: event.version };
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        const wait = waitFor;
        waitFor = undefined;
        setTick((prev) => ({ n: prev.n + 1, waitFor: wait }));
      }, DEBOUNCE_MS);
    });
    return () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
    };
  }, [live]);

  const first = useLatest<TicketPage & { key: string }>(`${key}|${tick.n}`, async (signal) => {
    const page = await ctx.api.get<TicketPage>("/api/v1/tickets", { signal, query: { ...listQuery, limit: PAGE, ...tick.waitFor } });
    return { ...page, key };
  });
  const counts = useLatest<Counts | null>(`${countKey}|${tick.n}`, (signal) =>
    ctx.api.get<Counts>("/api/v1/tickets/counts", { signal, query: countQuery }).catch((error: unknown) => {
      if ((error as { status?: number }).status === 404 || (error as { status?: number }).status === 422) return null; // no counts on this server
      throw error;
    }),
  );

  // Further pages, for the filters they were read with only.
  const [more, setMore] = useState<{ key: string; items: TicketSummary[]; next: string | null } | null>(null);
  const [moreBusy, setMoreBusy] = useState(false);
  const [moreError, setMoreError] = useState<unknown>(null);
  const moreSeq = useRef(0);
  useEffect(() => {
    moreSeq.current += 1;
    setMore(null);
    setMoreError(null);
    setMoreBusy(false);
  }, [key]);

  const page = first.data?.key === key ? first.data : undefined;
  const items = useMemo(() => {
    if (!page) return [];
    const extra = more?.key === key ? more.items : [];
    const seen = new Set(page.items.map((i) => i.ticket_id));
    return [...page.items, ...extra.filter((i) => !seen.has(i.ticket_id))];
  }, [page, more, key]);
  const next = more?.key === key ? more.next : (page?.next_cursor ?? null);

  const showMore = async (): Promise<void> => {
    if (!next || moreBusy) return;
    const mine = ++moreSeq.current;
    setMoreBusy(true);
    setMoreError(null);
    try {
      const answer = await ctx.api.get<TicketPage>("/api/v1/tickets", { query: { ...listQuery, limit: PAGE, cursor: next } });
      if (mine !== moreSeq.current) return;
      setMore((prev) => ({ key, items: [...(prev?.key === key ? prev.items : []), ...answer.items], next: answer.next_cursor }));
    } catch (error) {
      if (mine === moreSeq.current) setMoreError(error);
    } finally {
      if (mine === moreSeq.current) setMoreBusy(false);
    }
  };

  // Rows new or changed since the last answer for the same filters are highlighted for a while.
  const shown = useRef<{ key: string; versions: Map<string, number> } | null>(null);
  const [fresh, setFresh] = useState<Map<string, number>>(new Map());
  const [announce, setAnnounce] = useState("");
  useEffect(() => {
    if (!page) return;
    const versions = new Map(page.items.map((i) => [i.ticket_id, i.version]));
    for (const item of page.items) live.saw(item.ticket_id, item.version);
    const before = shown.current;
    shown.current = { key: page.key, versions };
    if (!before || before.key !== page.key) return;
    const changed = page.items.filter((i) => (before.versions.get(i.ticket_id) ?? 0) < i.version).map((i) => i.ticket_id);
    if (!changed.length) return;
    const now = Date.now();
    setFresh((prev) => {
      const nextFresh = new Map([...prev].filter(([, at]) => now - at < FRESH_MS));
      for (const id of changed) nextFresh.set(id, now);
      return nextFresh;
    });
    setAnnounce(t("requests.live.updated", { count: changed.length }));
  }, [page]);
  useEffect(() => {
    if (!fresh.size) return;
    const timer = setTimeout(() => setFresh((prev) => new Map([...prev].filter(([, at]) => Date.now() - at < FRESH_MS))), FRESH_MS);
    return () => clearTimeout(timer);
  }, [fresh]);

  // Closing the request puts the focus back on its row.
  const lastOpen = useRef<string | undefined>(openId);
  useEffect(() => {
    if (!openId && lastOpen.current) document.getElementById(`req-link-${lastOpen.current}`)?.focus();
    lastOpen.current = openId;
  }, [openId]);

  const set = (change: Partial<Filters>): void => setFilters((prev) => ({ ...prev, ...change }));
  const open = (id: string): void => ctx.go({ view: "requests", ticketId: id });

  return (
    <section class="req-inbox" aria-labelledby="req-inbox-title">
      <div class="row req-inbox-head">
        <h1 id="req-inbox-title">{t("requests.title")}</h1>
        <span class="grow" />
        <span class={`req-live req-live-${mode}`}>{t(`requests.live.${mode}`)}</span>
      </div>
      <StatusTabs counts={counts.data ?? null} status={filters.status} onChange={(status) => set({ status })} />
      <FilterBar filters={filters} set={set} />
      <p class="sr-only" role="status">
        {announce}
      </p>
      <ErrorNotice error={first.error} onRetry={first.reload} />
      {counts.error !== null && <ErrorNotice error={counts.error} onRetry={counts.reload} />}
      {!page && first.loading && <Spinner label={t("requests.loading")} />}
      {page && (
        <div class="req-table-wrap" role="region" aria-labelledby="req-caption" tabIndex={0}>
          <table class="req-table" aria-busy={first.loading ? "true" : "false"}>
            <caption id="req-caption">{t("requests.caption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("requests.col.number")}</th>
                <th scope="col">{t("requests.col.account")}</th>
                <th scope="col">{t("requests.col.topic")}</th>
                <th scope="col">{t("requests.col.status")}</th>
                <th scope="col">{t("requests.col.importance")}</th>
                <th scope="col">{t("requests.col.priority")}</th>
                <th scope="col">{t("requests.col.assignee")}</th>
                <th scope="col">{t("requests.col.updated")}</th>
                <th scope="col">{t("requests.col.comment")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={item.ticket_id} class={fresh.has(item.ticket_id) ? "req-fresh" : undefined} aria-current={item.ticket_id === openId ? "true" : undefined}>
                  <th scope="row">
                    <a
                      id={`req-link-${item.ticket_id}`}
                      href={`#/requests/${encodeURIComponent(item.ticket_id)}`}
                      onClick={(e) => {
                        e.preventDefault();
                        open(item.ticket_id);
                      }}
                    >
                      {item.number}
                    </a>
                    {fresh.has(item.ticket_id) && <span class="req-badge">{t("requests.fresh")}</span>}
                  </th>
                  <td class="req-account">{item.account_id}</td>
                  <td class="req-wrap">{topicLabel(t, item.topic, topicNames.get(item.topic))}</td>
                  <td>
                    <span class={`req-status status-${item.status}`}>{supportStatus(t, item.status)}</span>
                  </td>
                  <td>
                    <span class={`req-importance importance-${item.importance}`}>{t(`importance.${item.importance}`)}</span>
                  </td>
                  <td>{item.priority ? item.priority.toUpperCase() : <span class="hint">{t("requests.none")}</span>}</td>
                  <td>{item.assignee ? assigneeName(t, item) : <span class="hint">{t("requests.unassigned")}</span>}</td>
                  <td class="req-wrap">
                    <time dateTime={item.updated_at}>{formatDateTime(lang, item.updated_at)}</time>
                  </td>
                  <td class="req-comment">
                    <span title={item.comment}>{item.comment}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {!items.length && <p class="req-empty">{t("requests.empty")}</p>}
        </div>
      )}
      <ErrorNotice error={moreError} onRetry={() => void showMore()} />
      {next && (
        <button type="button" class="button secondary req-more" aria-disabled={moreBusy} onClick={() => void showMore()}>
          {moreBusy ? t("requests.more.loading") : t("requests.more")}
        </button>
      )}
    </section>
  );
}

function StatusTabs({ counts, status, onChange }: { counts: Counts | null; status: Status | ""; onChange: (status: Status | "") => void }): JSX.Element {
  const { t } = useT();
  const fmt = (n: number | undefined): string => (n === undefined ? "" : ` ${n}`);
  return (
    <div class="req-tabs" role="group" aria-label={t("requests.filter.status")}>
      <button type="button" class="req-tab" aria-pressed={status === ""} onClick={() => onChange("")}>
        {t("requests.status.all")}
        <span class="req-count">{fmt(counts?.total)}</span>
      </button>
      {STATUSES.map((s) => (
        <button key={s} type="button" class="req-tab" aria-pressed={status === s} onClick={() => onChange(status === s ? "" : s)}>
          {supportStatus(t, s)}
          <span class="req-count">{fmt(counts?.by_status[s])}</span>
        </button>
      ))}
    </div>
  );
}

function FilterBar({ filters, set }: { filters: Filters; set: (change: Partial<Filters>) => void }): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const id = useId("req-filter");
  const { policy } = useFormPolicy(ctx.api);
  const value = (e: Event): string => (e.currentTarget as HTMLInputElement | HTMLSelectElement).value;
  return (
    <form class="req-filters" aria-label={t("requests.filters")} onSubmit={(e) => e.preventDefault()}>
      <div class="field">
        <label for={`${id}-account`}>{t("requests.filter.account")}</label>
        <input id={`${id}-account`} type="search" value={filters.account} autoComplete="off" onInput={(e) => set({ account: value(e) })} />
      </div>
      <div class="field">
        <label for={`${id}-topic`}>{t("requests.filter.topic")}</label>
        <select id={`${id}-topic`} value={filters.topic} onChange={(e) => set({ topic: value(e) })}>
          <option value="">{t("requests.filter.any")}</option>
          {(policy?.topics ?? []).map((topic) => (
            <option key={topic.id} value={topic.id}>
              {topicLabel(t, topic.id, topic.name)}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for={`${id}-importance`}>{t("requests.filter.importance")}</label>
        <select id={`${id}-importance`} value={filters.importance} onChange={(e) => set({ importance: value(e) })}>
          <option value="">{t("requests.filter.any")}</option>
          {IMPORTANCES.map((i) => (
            <option key={i} value={i}>
              {t(`importance.${i}`)}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for={`${id}-sort`}>{t("requests.filter.sort")}</label>
        <select id={`${id}-sort`} value={filters.sort ?? ""} onChange={(e) => set({ sort: value(e) === "due" ? "due" : "" })}>
          <option value="">{t("requests.sort.updated")}</option>
          <option value="due">{t("requests.sort.due")}</option>
        </select>
      </div>
      <div class="field">
        <label for={`${id}-priority`}>{t("requests.filter.priority")}</label>
        <select id={`${id}-priority`} value={filters.priority} onChange={(e) => set({ priority: value(e) })}>
          <option value="">{t("requests.filter.any")}</option>
          {PRIORITIES.map((p) => (
            <option key={p} value={p}>
              {p.toUpperCase()}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for={`${id}-assignee`}>{t("requests.filter.assignee")}</label>
        <select id={`${id}-assignee`} value={filters.assignee} onChange={(e) => set({ assignee: value(e) as AssigneeFilter })}>
          <option value="">{t("requests.filter.anyone")}</option>
          <option value="me">{t("requests.filter.me")}</option>
          <option value="unassigned">{t("requests.filter.unassigned")}</option>
          <option value="someone">{t("requests.filter.someone")}</option>
        </select>
      </div>
      {filters.assignee === "someone" && (
        <div class="field">
          <label for={`${id}-assignee-id`}>{t("requests.filter.assignee_id")}</label>
          <input id={`${id}-assignee-id`} type="search" value={filters.assigneeId} autoComplete="off" onInput={(e) => set({ assigneeId: value(e) })} />
        </div>
      )}
      {JSON.stringify(filters) !== JSON.stringify(NO_FILTERS) && (
        <div class="field req-clear">
          <button type="button" class="button secondary small" onClick={() => set(NO_FILTERS)}>
            {t("requests.filter.clear")}
          </button>
        </div>
      )}
    </form>
  );
}

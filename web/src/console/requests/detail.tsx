/**
 * One request as support sees it: the facts, the whole timeline (internal notes marked), and the
 * changes — reply (text and one file), internal note, status (only where the lifecycle allows),
 * topic, priority, assignee. Every change carries the version the specialist saw (`If-Match`); a
 * 412 says someone else changed the request meanwhile and offers a reload — never an overwrite.
 * After a change the request is read again with `min_version` (read-your-writes).
 */
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../../widget/core/api";
import { formatBytes, formatDateTime, type Translate } from "../../widget/core/i18n";
import { str, type TimelineItem } from "../../widget/core/timeline";
import { FilePicker, useFormPolicy, useTopicNames } from "../../widget/panel/files";
import { ReplyForm } from "../../widget/panel/reply";
import { EntryFrame, sharedEntry, type TimelineLook } from "../../widget/panel/timeline";
import { ErrorNotice, Spinner, topicLabel } from "../../widget/panel/ui";
import { useConsole, useId, useLatest, useStore, useT } from "../hooks";
import { assigneeName, supportStatus } from "./inbox";
import type { LiveTickets } from "./live";
import { PRIORITIES, allowedStatuses, sendChange, ticketPath, type Accepted, type Change, type Status, type TicketDetail } from "./model";

export function RequestDetail({ ticketId, live, onClose }: { ticketId: string; live: LiveTickets; onClose: () => void }): JSX.Element {
  const ctx = useConsole();
  const topicNames = useTopicNames(ctx.api);
  const { t, lang } = useT();
  const heading = useRef<HTMLHeadingElement>(null);
  const [read, setRead] = useState<{ min?: number; n: number }>({ n: 0 });
  const [conflict, setConflict] = useState(false);
  const detail = useLatest<TicketDetail>(`${ticketId}|${read.min ?? ""}|${read.n}`, (signal) =>
    ctx.api.get<TicketDetail>(ticketPath(ticketId), { signal, query: { min_version: read.min } }),
  );
  const versions = useStore(live.versions);

  useEffect(() => {
    setConflict(false);
    setRead({ n: 0 });
    heading.current?.focus();
  }, [ticketId]);

  const data = detail.data?.ticket_id === ticketId ? detail.data : undefined;
  const newer = data && !detail.loading ? (versions.get(ticketId) ?? 0) > data.version : false;
  const reload = (): void => {
    setConflict(false);
    setRead((prev) => ({ n: prev.n + 1 }));
  };
  /** Sends one change based on the version on screen; true when it was accepted. */
  const change = async (run: (version: number) => Promise<Accepted>): Promise<boolean> => {
    if (!data) return false;
    try {
      const answer = await run(data.version);
      setConflict(false);
      live.saw(ticketId, answer.version);
      setRead((prev) => ({ min: answer.version, n: prev.n + 1 }));
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        setConflict(true);
        return false;
      }
      throw error;
    }
  };

  const timeline = [...(data?.timeline ?? [])].sort((a, b) => a.version - b.version);
  return (
    <section class="req-detail" aria-labelledby="req-detail-title">
      <div class="row req-detail-head">
        <h2 id="req-detail-title" ref={heading} tabIndex={-1}>
          {data ? t("requests.detail.title", { number: data.number }) : t("requests.detail.loading_title")}
        </h2>
        <span class="grow" />
        <button type="button" class="button secondary small" onClick={onClose}>
          {t("requests.detail.close")}
        </button>
      </div>
      {detail.loading && !data && <Spinner label={t("requests.detail.loading")} />}
      <ErrorNotice error={detail.error} onRetry={detail.reload} />
      {conflict && (
        <div class="notice error" role="alert">
          <span>{t("requests.conflict")}</span>
          <button type="button" class="button small" onClick={reload}>
            {t("requests.reload")}
          </button>
        </div>
      )}
      {!conflict && newer && (
        <div class="notice info" role="status">
          <span>{t("requests.changed_meanwhile")}</span>
          <button type="button" class="button secondary small" onClick={reload}>
            {t("requests.reload")}
          </button>
        </div>
      )}
      {data && (
        <>
          <dl class="req-facts">
            <Fact term={t("requests.col.account")}>
              <span class="req-account">{data.account_id}</span>
              <a
                class="req-message-link"
                href="#/message"
                onClick={(e) => {
                  e.preventDefault();
                  ctx.go({ view: "message", accountId: data.account_id });
                }}
              >
                {t("requests.message_hotel")}
              </a>
            </Fact>
            <Fact term={t("requests.col.topic")}>{topicLabel(t, data.topic, topicNames.get(data.topic))}</Fact>
            <Fact term={t("requests.col.status")}>
              <span class={`req-status status-${data.status}`}>{supportStatus(t, data.status)}</span>
            </Fact>
            <Fact term={t("requests.col.importance")}>{t(`importance.${data.importance}`)}</Fact>
            <Fact term={t("requests.col.priority")}>{data.priority ? data.priority.toUpperCase() : t("requests.none")}</Fact>
            <Fact term={t("requests.col.assignee")}>{assigneeName(t, data)}</Fact>
            <Fact term={t("requests.detail.created")}>
              <time dateTime={data.created_at}>{formatDateTime(lang, data.created_at)}</time>
            </Fact>
            <Fact term={t("requests.col.updated")}>
              <time dateTime={data.updated_at}>{formatDateTime(lang, data.updated_at)}</time>
            </Fact>
            <FirstAnswerDue timeline={timeline} />
          </dl>
          <Changes ticket={data} change={change} />
          <h3 id="req-timeline-title">{t("requests.timeline")}</h3>
          <ol class="req-timeline" aria-labelledby="req-timeline-title" aria-busy={detail.loading ? "true" : "false"}>
            {timeline.map((item) => (
              <Entry key={item.event_id} item={item} ticketId={ticketId} />
            ))}
          </ol>
          <Reply key={ticketId} ticket={data} change={change} />
          <NoteForm change={change} ticketId={ticketId} />
        </>
      )}
    </section>
  );
}

/** Support's promise made when the request was filed, and whether it is kept, due or late. */
function FirstAnswerDue({ timeline }: { timeline: TimelineItem[] }): JSX.Element | null {
  const { t, lang } = useT();
  const created = timeline.find((item) => item.type === "ticket.created");
  const due = typeof created?.data.first_response_due === "string" ? created.data.first_response_due : null;
  if (!due) return null;
  const answered = timeline.some((item) => item.type === "ticket.replied" && item.data.author_role === "agent");
  const late = timeline.some((item) => item.type === "ticket.first_response_overdue") || (!answered && Date.parse(due) < Date.now());
  const state = answered ? "answered" : late ? "late" : "open";
  return (
    <Fact term={t("requests.detail.due")}>
      <time dateTime={due}>{formatDateTime(lang, due)}</time>{" "}
      <span class={`req-due due-${state}`}>{t(`requests.detail.due.${state}`)}</span>
    </Fact>
  );
}

function Fact({ term, children }: { term: string; children: ComponentChildren }): JSX.Element {
  return (
    <div>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}

type Run = (run: (version: number) => Promise<Accepted>) => Promise<boolean>;

/** A small form of one control and its button, with its own busy state and error. */
function useAction(): { busy: boolean; error: unknown; act: (work: () => Promise<boolean>) => Promise<boolean> } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const act = async (work: () => Promise<boolean>): Promise<boolean> => {
    if (busy) return false;
    setBusy(true);
    setError(null);
    try {
      return await work();
    } catch (failure) {
      setError(failure);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, act };
}

function Changes({ ticket, change }: { ticket: TicketDetail; change: Run }): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const id = useId("req-change");
  const agent = useStore(ctx.agent);
  const { policy } = useFormPolicy(ctx.api);
  const allowed = allowedStatuses(ticket);
  const [status, setStatus] = useState("");
  const [reason, setReason] = useState("");
  const [topic, setTopic] = useState(ticket.topic);
  const [priority, setPriority] = useState(ticket.priority ?? "");
  const action = useAction();
  useEffect(() => {
    setStatus("");
    setReason("");
    setTopic(ticket.topic);
    setPriority(ticket.priority ?? "");
  }, [ticket.ticket_id]);
  const mine = ticket.assignee?.id === agent?.sub;
  const run = (c: Change): Promise<boolean> => action.act(() => change((version) => sendChange(ctx.api, ticket.ticket_id, version, c)));
  const submit = (e: Event, c: Change | null): void => {
    e.preventDefault();
    if (c) void run(c).then((ok) => ok && c.kind === "status" && (setStatus(""), setReason("")));
  };

  return (
    <div class="req-changes" aria-busy={action.busy ? "true" : "false"}>
      <h3 class="sr-only">{t("requests.changes")}</h3>
      <form class="req-change" onSubmit={(e) => submit(e, status ? { kind: "status", status: status as Status, reason } : null)}>
        <div class="field">
          <label for={`${id}-status`}>{t("requests.change.status")}</label>
          {allowed.length ? (
            <select id={`${id}-status`} value={status} onChange={(e) => setStatus((e.currentTarget as HTMLSelectElement).value)}>
              <option value="">{t("requests.change.status.choose")}</option>
              {allowed.map((s) => (
                <option key={s} value={s}>
                  {supportStatus(t, s)}
                </option>
              ))}
            </select>
          ) : (
            <p class="hint" id={`${id}-status`}>
              {t("requests.change.status.none")}
            </p>
          )}
        </div>
        {status && (
          <div class="field">
            <label for={`${id}-reason`}>{t("requests.change.reason")}</label>
            <input id={`${id}-reason`} value={reason} maxLength={500} onInput={(e) => setReason((e.currentTarget as HTMLInputElement).value)} />
          </div>
        )}
        {allowed.length > 0 && (
          <button type="submit" class="button small" aria-disabled={action.busy || !status}>
            {t("requests.change.status.submit")}
          </button>
        )}
      </form>
      <form class="req-change" onSubmit={(e) => submit(e, topic && topic !== ticket.topic ? { kind: "topic", topic } : null)}>
        <div class="field">
          <label for={`${id}-topic`}>{t("requests.change.topic")}</label>
          <select id={`${id}-topic`} value={topic} onChange={(e) => setTopic((e.currentTarget as HTMLSelectElement).value)}>
            {!(policy?.topics ?? []).some((x) => x.id === ticket.topic) && <option value={ticket.topic}>{topicLabel(t, ticket.topic)}</option>}
            {(policy?.topics ?? []).map((x) => (
              <option key={x.id} value={x.id}>
                {topicLabel(t, x.id, x.name)}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="button small" aria-disabled={action.busy || topic === ticket.topic}>
          {t("requests.change.topic.submit")}
        </button>
      </form>
      <form class="req-change" onSubmit={(e) => submit(e, priority && priority !== ticket.priority ? { kind: "priority", priority } : null)}>
        <div class="field">
          <label for={`${id}-priority`}>{t("requests.change.priority")}</label>
          <select id={`${id}-priority`} value={priority} onChange={(e) => setPriority((e.currentTarget as HTMLSelectElement).value)}>
            {!ticket.priority && <option value="">{t("requests.none")}</option>}
            {PRIORITIES.map((p) => (
              <option key={p} value={p}>
                {t(`requests.priority.${p}`)}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="button small" aria-disabled={action.busy || !priority || priority === ticket.priority}>
          {t("requests.change.priority.submit")}
        </button>
      </form>
      <div class="req-change">
        <p class="label">{t("requests.col.assignee")}</p>
        <p class="req-assignee">{mine ? t("requests.assignee.you") : assigneeName(t, ticket)}</p>
        <div class="row">
          {!mine && (
            <button type="button" class="button small" aria-disabled={action.busy} onClick={() => void run({ kind: "assignee", toSelf: true })}>
              {t("requests.assign_me")}
            </button>
          )}
          {ticket.assignee && (
            <button type="button" class="button secondary small" aria-disabled={action.busy} onClick={() => void run({ kind: "assignee", toSelf: false })}>
              {t("requests.unassign")}
            </button>
          )}
        </div>
      </div>
      <div class="req-change-error">
        <ErrorNotice error={action.error} />
      </div>
    </div>
  );
}

function actorName(t: Translate, item: TimelineItem): string {
  if (item.actor.kind === "system") return t("requests.actor.system");
  return item.actor.name || item.actor.id || t(item.actor.kind === "agent" ? "requests.actor.support" : "requests.actor.user");
}

const LOOK: TimelineLook = { keys: "requests", cls: "req", commentClass: "req-text req-comment-line", status: supportStatus };

function Entry({ item, ticketId }: { item: TimelineItem; ticketId: string }): JSX.Element {
  const { t, lang } = useT();
  const d = item.data;
  let parts = sharedEntry(t, item, LOOK);
  if (!parts) {
    switch (item.type) {
      case "ticket.internal_note_added":
        parts = { kind: "note", title: t("requests.event.note"), body: <p class="req-text">{str(d.text)}</p> };
        break;
      case "ticket.priority_changed":
        parts = { kind: "event", title: t("requests.event.priority", { old: str(d.old).toUpperCase() || t("requests.none"), new: str(d.new).toUpperCase() || t("requests.none") }), body: null };
        break;
      case "ticket.assignee_changed":
        parts = { kind: "event", title: d.new ? t("requests.event.assigned", { name: str(d.new_name) || str(d.new) }) : t("requests.event.unassigned"), body: null };
        break;
      case "ticket.attachment_added":
        parts = { kind: "file", title: t("requests.event.file"), body: <Attachment item={item} ticketId={ticketId} /> };
        break;
      default:
        parts = { kind: "event", title: item.type, body: null };
    }
  }
  return <EntryFrame look={LOOK} lang={lang} item={item} actor={actorName(t, item)} parts={parts} flag={item.internal && <p class="req-internal-flag">{t("requests.internal")}</p>} />;
}

/** A download button: the file comes through the authorised endpoint (a bare link has no token). */
function Attachment({ item, ticketId }: { item: TimelineItem; ticketId: string }): JSX.Element {
  const ctx = useConsole();
  const { t, lang } = useT();
  const action = useAction();
  const filename = str(item.data.filename) || "file";
  const download = (): Promise<boolean> =>
    action.act(async () => {
      await ctx.api.download(ticketPath(ticketId, `/attachments/${encodeURIComponent(str(item.data.attachment_id))}`), filename);
      return true;
    });
  return (
    <div class="row req-file">
      <button type="button" class="button secondary small" aria-disabled={action.busy} onClick={() => void download()}>
        {t("requests.download", { name: filename })}
      </button>
      {typeof item.data.size === "number" && <span class="hint">{formatBytes(lang, item.data.size)}</span>}
      <ErrorNotice error={action.error} />
    </div>
  );
}

function Reply({ ticket, change }: { ticket: TicketDetail; change: Run }): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const { policy } = useFormPolicy(ctx.api);
  return (
    <ReplyForm
      idPrefix="req-reply"
      class="req-reply card"
      labels={{
        title: t("requests.reply.title"),
        text: t("requests.reply.text"),
        empty: t("requests.reply.empty"),
        progress: t("requests.reply.progress"),
        send: t("requests.reply.send"),
        sending: t("requests.reply.sending"),
        sent: t("requests.reply.sent"),
      }}
      messageMax={policy?.message_max}
      fileField={({ file, onChange, disabled }) => policy && <FilePicker policy={policy} file={file} onChange={onChange} disabled={disabled} />}
      send={(body, onProgress) =>
        change((version) => ctx.api.post<Accepted>(ticketPath(ticket.ticket_id, "/replies"), { form: body, headers: { "If-Match": `"${version}"` }, onProgress }))
      }
    />
  );
}

function NoteForm({ change, ticketId }: { change: Run; ticketId: string }): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const id = useId("req-note");
  const [text, setText] = useState("");
  const [sent, setSent] = useState(false);
  const action = useAction();
  useEffect(() => {
    setText("");
    setSent(false);
  }, [ticketId]);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!text.trim()) return;
    setSent(false);
    const ok = await action.act(() => change((version) => sendChange(ctx.api, ticketId, version, { kind: "note", text })));
    if (ok) {
      setText("");
      setSent(true);
    }
  };
  return (
    <form class="req-note-form card" aria-labelledby={`${id}-title`} onSubmit={(e) => void submit(e)}>
      <h3 id={`${id}-title`}>{t("requests.note.title")}</h3>
      <div class="field">
        <label for={`${id}-text`}>{t("requests.note.text")}</label>
        <textarea id={`${id}-text`} rows={3} value={text} aria-describedby={`${id}-hint`} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />
        <p class="hint" id={`${id}-hint`}>
          {t("requests.note.hint")}
        </p>
      </div>
      <ErrorNotice error={action.error} />
      {sent && (
        <p class="notice success" role="status">
          {t("requests.note.sent")}
        </p>
      )}
      <button type="submit" class="button secondary" aria-disabled={action.busy || !text.trim()}>
        {t("requests.note.add")}
      </button>
    </form>
  );
}

/** One request: its number, topic and status, the public timeline, and the user's reply form. */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../../core/api";
import { formatBytes, formatDateTime, type Translate } from "../../core/i18n";
import { str, type TimelineItem } from "../../core/timeline";
import { useTopicNames } from "../../panel/files";
import { useLatest, useT, useWidget } from "../../panel/hooks";
import { ReplyForm, type FileFieldProps } from "../../panel/reply";
import { EntryFrame, sharedEntry, type TimelineLook } from "../../panel/timeline";
import { ErrorNotice, Spinner, statusLabel, topicLabel } from "../../panel/ui";
import { useRequestForm, type RequestForm } from "./shared";
import type { TicketSummary } from "./list";

interface TicketDetail extends TicketSummary {
  timeline: TimelineItem[];
}

interface Accepted {
  ticket_id: string;
  number: string;
  version: number;
  status: string;
}

/** What a user sees of the timeline; priority and assignee are support's business. */
const SHOWN = new Set(["ticket.created", "ticket.replied", "ticket.status_changed", "ticket.topic_changed", "ticket.attachment_added"]);

export function TicketDetailView({ ticketId, onBack }: { ticketId: string; onBack: () => void }): JSX.Element {
  const ctx = useWidget();
  const topicNames = useTopicNames();
  const { t, lang } = useT();
  const heading = useRef<HTMLHeadingElement>(null);
  const [minVersion, setMinVersion] = useState<number | null>(null);
  const [bump, setBump] = useState(0);
  const detail = useLatest<TicketDetail>(`${ticketId}:${minVersion ?? ""}:${bump}`, (signal) =>
    ctx.api.get<TicketDetail>(`/api/v1/tickets/${encodeURIComponent(ticketId)}`, { signal, query: { min_version: minVersion } }),
  );

  useEffect(() => {
    heading.current?.focus();
  }, [ticketId]);

  // A new popup about this request (support replied) refreshes the timeline.
  useEffect(() => {
    const count = (): number => [...ctx.popups.all.value.values()].filter((p) => p.ticket_id === ticketId).length;
    let seen = count();
    return ctx.popups.all.subscribe(() => {
      const now = count();
      if (now > seen) setBump((n) => n + 1);
      seen = now;
    });
  }, [ticketId]);

  const data = detail.data && detail.data.ticket_id === ticketId ? detail.data : undefined;
  const timeline = (data?.timeline ?? []).filter((item) => !item.internal && SHOWN.has(item.type)).sort((a, b) => a.version - b.version);
  // Files that came with a message are shown under it; the rest stand on their own.
  const messageIds = new Set(timeline.map((item) => str(item.data.message_id)).filter((id) => id && timeline.some((i) => i.type !== "ticket.attachment_added" && str(i.data.message_id) === id)));
  const filesOf = (messageId: string): TimelineItem[] =>
    timeline.filter((item) => item.type === "ticket.attachment_added" && str(item.data.message_id) === messageId);

  return (
    <div class="hist-detail">
      <button type="button" class="button secondary hist-back" onClick={onBack}>
        <span aria-hidden="true">← </span>
        {t("history.back")}
      </button>
      <h3 ref={heading} tabIndex={-1} class="hist-detail-title">
        {data ? t("history.detail.title", { number: data.number }) : t("history.detail.title_loading")}
      </h3>
      {detail.loading && !data && <Spinner label={t("history.detail.loading")} />}
      <ErrorNotice error={detail.error} onRetry={detail.reload} />
      {data && (
        <>
          <dl class="hist-facts">
            <div>
              <dt>{t("history.col.topic")}</dt>
              <dd>{topicLabel(t, data.topic, topicNames.get(data.topic))}</dd>
            </div>
            <div>
              <dt>{t("history.col.status")}</dt>
              <dd>
                <span class={`hist-status status-${data.status}`}>{statusLabel(t, data.status)}</span>
              </dd>
            </div>
            <div>
              <dt>{t("history.detail.created")}</dt>
              <dd>
                <time dateTime={data.created_at}>{formatDateTime(lang, data.created_at)}</time>
              </dd>
            </div>
            <div>
              <dt>{t("history.col.updated")}</dt>
              <dd>
                <time dateTime={data.updated_at}>{formatDateTime(lang, data.updated_at)}</time>
              </dd>
            </div>
          </dl>
          <h4 id={`hd-tl-${ticketId}`}>{t("history.timeline")}</h4>
          <ol class="hist-timeline" aria-labelledby={`hd-tl-${ticketId}`} aria-busy={detail.loading}>
            {timeline
              .filter((item) => !(item.type === "ticket.attachment_added" && messageIds.has(str(item.data.message_id))))
              .map((item) => (
                <TimelineEntry key={item.event_id} item={item} ticketId={ticketId} files={str(item.data.message_id) && item.type !== "ticket.attachment_added" ? filesOf(str(item.data.message_id)) : []} />
              ))}
          </ol>
          {data.status === "closed" ? (
            <div class="notice info">
              <span>{t("history.reply.closed")}</span>
              <button type="button" class="link" onClick={() => ctx.route.set({ section: "request" })}>
                {t("history.empty.new_request")}
              </button>
            </div>
          ) : (
            <Reply ticketId={ticketId} number={data.number} onSent={(answer) => setMinVersion(answer.version)} />
          )}
        </>
      )}
    </div>
  );
}

function actorName(t: Translate, item: TimelineItem): string {
  if (item.actor.kind === "agent") return item.actor.name || t("history.actor.support");
  if (item.actor.kind === "system") return t("history.actor.system");
  return item.actor.name || t("history.actor.user");
}

const LOOK: TimelineLook = { keys: "history", cls: "hist", commentClass: "hist-comment", status: statusLabel };

function TimelineEntry({ item, ticketId, files }: { item: TimelineItem; ticketId: string; files: TimelineItem[] }): JSX.Element {
  const { t, lang } = useT();
  const parts = sharedEntry(t, item, LOOK) ?? { kind: "file", title: t("history.event.file"), body: <Attachment item={item} ticketId={ticketId} /> };
  return (
    <EntryFrame look={LOOK} lang={lang} item={item} actor={actorName(t, item)} parts={parts}>
      {files.length > 0 && (
        <ul class="hist-files" aria-label={t("history.files")}>
          {files.map((file) => (
            <li key={file.event_id}>
              <Attachment item={file} ticketId={ticketId} />
            </li>
          ))}
        </ul>
      )}
    </EntryFrame>
  );
}

/** A download button: the file comes through the authorised endpoint (a bare link has no token). */
function Attachment({ item, ticketId }: { item: TimelineItem; ticketId: string }): JSX.Element {
  const ctx = useWidget();
  const { t, lang } = useT();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const filename = str(item.data.filename) || "file";
  const size = typeof item.data.size === "number" ? item.data.size : null;
  const download = async (): Promise<void> => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await ctx.api.download(`/api/v1/tickets/${encodeURIComponent(ticketId)}/attachments/${encodeURIComponent(str(item.data.attachment_id))}`, filename);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="hist-file">
      <button type="button" class="button secondary hist-download" aria-disabled={busy} onClick={() => void download()}>
        <span aria-hidden="true">⤓ </span>
        {busy ? t("history.downloading", { name: filename }) : t("history.download", { name: filename })}
      </button>
      {size !== null && <span class="hint">{formatBytes(lang, size)}</span>}
      {error !== null && <ErrorNotice error={error} onRetry={() => void download()} />}
    </div>
  );
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot).toLowerCase() : "";
}

function typesText(lang: string, form: RequestForm): string {
  const names = [...new Set(form.allowed_extensions.map((ext) => ext.replace(/^\./, "").toUpperCase()))];
  return new Intl.ListFormat(lang, { style: "short", type: "unit" }).format(names);
}

/**
 * A file's size and the limit, as two texts that never read the same: a file just over the limit
 * would otherwise be "20 MB; the largest allowed is 20 MB". Exact bytes when rounding hides it.
 */
function sizeAndLimit(lang: string, size: number, max: number): { size: string; max: string } {
  const shown = { size: formatBytes(lang as never, size), max: formatBytes(lang as never, max) };
  if (shown.size !== shown.max) return shown;
  const exact = new Intl.NumberFormat(lang, { style: "unit", unit: "byte", unitDisplay: "long" });
  return { size: exact.format(size), max: exact.format(max) };
}

function fileProblem(t: Translate, lang: string, file: File, form: RequestForm): string | null {
  if (file.size > form.max_file_bytes) {
    return t("history.reply.file_too_large", { name: file.name, ...sizeAndLimit(lang, file.size, form.max_file_bytes) });
  }
  const allowed = new Set(form.allowed_extensions.map((ext) => ext.toLowerCase()));
  if (!allowed.has(extensionOf(file.name))) return t("history.reply.file_type", { name: file.name, types: typesText(lang, form) });
  if (file.size === 0) return t("history.reply.file_empty", { name: file.name });
  return null;
}

function Reply({ ticketId, number, onSent }: { ticketId: string; number: string; onSent: (answer: Accepted) => void }): JSX.Element {
  const ctx = useWidget();
  const { t, lang } = useT();
  const policy = useRequestForm(ctx);
  const form = policy.form;
  return (
    <ReplyForm
      idPrefix="hd-reply"
      class="hist-reply"
      level={4}
      labels={{
        title: t("history.reply.title", { number }),
        text: t("history.reply.text"),
        empty: t("history.reply.empty"),
        tooLong: (max) => t("history.reply.too_long", { max }),
        progress: t("history.reply.progress"),
        send: t("history.reply.send"),
        sending: t("history.reply.sending"),
        sent: t("history.reply.sent"),
      }}
      messageMax={form?.message_max}
      fileField={(field) => <ReplyFile {...field} policy={policy} />}
      fileRefusal={(failure) => {
        if (!(failure instanceof ApiError) || !form) return null;
        if (failure.status === 413) return t("history.reply.file_too_large_server", { max: formatBytes(lang, form.max_file_bytes) });
        if (failure.status === 415) return t("history.reply.file_refused", { types: typesText(lang, form) });
        return null;
      }}
      send={async (body, onProgress) => {
        onSent(await ctx.api.post<Accepted>(`/api/v1/tickets/${encodeURIComponent(ticketId)}/replies`, { form: body, onProgress }));
        return true;
      }}
    />
  );
}

/** The reply's file: one native file input, checked against the request form's limits when chosen. */
function ReplyFile({ id, file, onChange, disabled, problem, onProblem, policy }: FileFieldProps & { policy: ReturnType<typeof useRequestForm> }): JSX.Element {
  const { t, lang } = useT();
  const input = useRef<HTMLInputElement>(null);
  const form = policy.form;

  // A file sent or removed leaves the input empty, so choosing the same file again is a change.
  useEffect(() => {
    if (!file && input.current) input.current.value = "";
  }, [file]);

  const onFile = (event: Event): void => {
    const chosen = (event.currentTarget as HTMLInputElement).files?.[0] ?? null;
    const refused = chosen && form ? fileProblem(t, lang, chosen, form) : null;
    onProblem(refused);
    onChange(refused ? null : chosen);
    if (refused && input.current) input.current.value = "";
  };

  const clear = (): void => {
    onChange(null);
    onProblem(null);
  };

  const described = [`${id}-hint`, problem ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id}>{t("history.reply.file")}</label>
      <input
        id={id}
        ref={input}
        type="file"
        accept={form ? [...form.allowed_extensions, ...form.allowed_types].join(",") : undefined}
        aria-invalid={problem ? true : undefined}
        aria-describedby={described}
        disabled={disabled}
        onChange={onFile}
      />
      <p class="hint" id={`${id}-hint`}>
        {form ? t("history.reply.file_hint", { max: formatBytes(lang, form.max_file_bytes), types: typesText(lang, form) }) : t("history.reply.file_hint_loading")}
      </p>
      {policy.error !== null && <ErrorNotice error={policy.error} onRetry={policy.retry} />}
      {problem && (
        <p class="field-error" id={`${id}-error`} role="alert">
          {problem}
        </p>
      )}
      {file && (
        <div class="row hist-chosen">
          <span>{t("history.reply.chosen", { name: file.name, size: formatBytes(lang, file.size) })}</span>
          <button type="button" class="link" disabled={disabled} onClick={clear}>
            {t("history.reply.remove_file")}
          </button>
        </div>
      )}
    </div>
  );
}

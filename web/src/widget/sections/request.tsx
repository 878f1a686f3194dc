/**
 * New request: topic, short description, detailed message, importance and at most one file.
 * One form is one request however often it is sent (its Idempotency-Key is made with the form);
 * the FAQ's deflection shows articles while the user types; a form sent while offline is kept
 * and sent again by itself once the connection is back. The draft survives closing the panel.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../core/api";
import type { RequestDraft, WidgetContext } from "../core/context";
import { register } from "../core/i18n";
import { formatMoment } from "../core/hours";
import { hoursStrings } from "../i18n/hours";
import { requestStrings } from "../i18n/request";
import { FilePicker, useFormPolicy, type FormPolicy } from "../panel/files";
import { useDebounced, useLatest, useStore, useT, useWidget } from "../panel/hooks";
import { ErrorNotice, Highlighted, Spinner, topicLabel } from "../panel/ui";

register(requestStrings);
register(hoursStrings);

interface Form {
  topic: string;
  comment: string;
  message: string;
  importance: string;
  file: File | null;
  key: string;
  fromChat: boolean;
}

interface Created {
  ticket_id: string;
  number: string;
  version: number;
  /** Support's promise: when the first answer is due (null: no promise). */
  first_response_due?: string | null;
}

const drafts = new WeakMap<WidgetContext, Form>();

function newKey(): string {
  return crypto.randomUUID();
}

function emptyForm(draft?: RequestDraft): Form {
  return {
    topic: draft?.topic ?? "",
    comment: draft?.comment ?? "",
    message: draft?.message ?? "",
    importance: draft?.importance ?? "normal",
    file: null,
    key: newKey(),
    fromChat: Boolean(draft),
  };
}

function Deflection({ form }: { form: Form }): JSX.Element | null {
  const ctx = useWidget();
  const { t, lang } = useT();
  const text = useDebounced(`${form.comment} ${form.message}`.trim(), 400);
  const { data } = useLatest(`${form.topic}|${text}|${lang}`, (signal) =>
    text.length < 4
      ? Promise.resolve({ articles: [] as { id: string; title_highlighted: string; url: string; lang: string }[] })
      : ctx.api.post<{ articles: { id: string; title_highlighted: string; url: string; lang: string }[] }>("/api/v1/kb/deflect", {
          json: { topic: form.topic, text: text.slice(0, 10_000), lang },
          signal,
        }),
  );
  const articles = data?.articles ?? [];
  if (!articles.length) return null;
  return (
    <aside class="deflect" aria-labelledby="hd-deflect-title">
      <p id="hd-deflect-title">{t("request.deflect")}</p>
      <ul>
        {articles.map((a) => (
          <li key={a.id} lang={a.lang}>
            <a href={a.url} target="_blank" rel="noopener noreferrer">
              <Highlighted html={a.title_highlighted} />
            </a>
          </li>
        ))}
      </ul>
    </aside>
  );
}

function CreatedNotice({ created, onAnother }: { created: Created; onAnother: () => void }): JSX.Element {
  const ctx = useWidget();
  const { t, lang } = useT();
  const heading = useRef<HTMLParagraphElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <div class="created">
      <div class="notice success" role="status">
        <p tabIndex={-1} ref={heading}>
          <strong>{t("request.created", { number: created.number })}</strong>
        </p>
        {created.first_response_due && (
          <p class="request-due">{t("request.expected.due", { due: formatMoment(lang, created.first_response_due) })}</p>
        )}
        <p>{t("request.created.hint")}</p>
      </div>
      <div class="row">
        <button type="button" class="button" onClick={() => ctx.route.set({ section: "history", ticketId: created.ticket_id })}>
          {t("request.open", { number: created.number })}
        </button>
        <button type="button" class="button secondary" onClick={onAnother}>
          {t("request.another")}
        </button>
      </div>
    </div>
  );
}

function RequestForm({ policy }: { policy: FormPolicy }): JSX.Element {
  const ctx = useWidget();
  const { t } = useT();
  const online = useStore(ctx.online);
  const route = ctx.route.value;
  const [form, setForm] = useState<Form>(() => (route.draft ? emptyForm(route.draft) : (drafts.get(ctx) ?? emptyForm())));
  const [touched, setTouched] = useState(false);
  const [sending, setSending] = useState(false);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [waitingForNetwork, setWaitingForNetwork] = useState(false);
  const [created, setCreated] = useState<Created | null>(null);

  useEffect(() => {
    drafts.set(ctx, form);
  }, [form]);

  const set = (patch: Partial<Form>): void => setForm((f) => ({ ...f, ...patch }));
  const problems = {
    topic: form.topic ? null : t("request.required"),
    comment: !form.comment.trim()
      ? t("request.required")
      : form.comment.length > policy.comment_max
        ? t("request.too_long", { max: policy.comment_max })
        : null,
    message: !form.message.trim()
      ? t("request.required")
      : form.message.length > policy.message_max
        ? t("request.too_long", { max: policy.message_max })
        : null,
  };

  const send = async (): Promise<void> => {
    if (sending) return; // a double click sends once; a repeat after a failure reuses the same key
    setSending(true);
    setError(null);
    const body = new FormData();
    body.set("topic", form.topic);
    body.set("comment", form.comment.trim());
    body.set("message", form.message.trim());
    body.set("importance", form.importance);
    if (form.file) body.set("file", form.file, form.file.name);
    try {
      const answer = await ctx.api.post<Created & { id: string }>("/api/v1/tickets", {
        form: body,
        headers: { "Idempotency-Key": form.key },
        onProgress: form.file ? (loaded, total) => setProgress(total ? loaded / total : null) : undefined,
      });
      setCreated({
        ticket_id: answer.ticket_id ?? answer.id,
        number: answer.number,
        version: answer.version,
        first_response_due: answer.first_response_due ?? null,
      });
      setWaitingForNetwork(false);
      drafts.delete(ctx);
    } catch (e) {
      if (e instanceof ApiError && e.network) setWaitingForNetwork(true);
      else setError(e);
    } finally {
      setSending(false);
      setProgress(null);
    }
  };

  // Sent while offline: send again, with the same Idempotency-Key, once the browser is back online.
  useEffect(() => {
    if (waitingForNetwork && online && !sending) void send();
  }, [online, waitingForNetwork]);

  const submit = (event: Event): void => {
    event.preventDefault();
    setTouched(true);
    if (problems.topic || problems.comment || problems.message) {
      const first = problems.topic ? "hd-req-topic" : problems.comment ? "hd-req-comment" : "hd-req-message";
      ctx.root.getElementById(first)?.focus();
      return;
    }
    void send();
  };

  if (created) {
    return (
      <CreatedNotice
        created={created}
        onAnother={() => {
          setForm(emptyForm());
          setCreated(null);
          setTouched(false);
        }}
      />
    );
  }

  const fieldError = (name: keyof typeof problems): JSX.Element | null =>
    touched && problems[name] ? (
      <div class="field-error" id={`hd-req-${name}-error`}>
        {problems[name]}
      </div>
    ) : null;
  const describedBy = (name: keyof typeof problems, hint?: string): string =>
    [hint, touched && problems[name] ? `hd-req-${name}-error` : null].filter(Boolean).join(" ");
  /** The comment's input and the message's textarea alike: required, within the limit, with a hint. */
  const textAttrs = (name: "comment" | "message", hint: string) => ({
    id: `hd-req-${name}`,
    value: form[name],
    required: true,
    maxLength: name === "comment" ? policy.comment_max : policy.message_max,
    "aria-invalid": touched && problems[name] ? ("true" as const) : undefined,
    "aria-describedby": describedBy(name, hint),
    onInput: (e: Event) => {
      const value = (e.currentTarget as HTMLInputElement | HTMLTextAreaElement).value;
      set(name === "comment" ? { comment: value } : { message: value });
    },
  });

  return (
    <form class="request-form" noValidate onSubmit={submit} aria-labelledby="hd-req-title">
      <h3 id="hd-req-title">{t("request.title")}</h3>
      <p class="hint">{form.fromChat ? t("request.from_chat") : t("request.intro")}</p>
      <div class="field">
        <label for="hd-req-topic">{t("request.topic")}</label>
        <select
          id="hd-req-topic"
          value={form.topic}
          required
          aria-invalid={touched && problems.topic ? "true" : undefined}
          aria-describedby={describedBy("topic") || undefined}
          onChange={(e) => set({ topic: (e.currentTarget as HTMLSelectElement).value })}
        >
          <option value="">{t("request.topic.choose")}</option>
          {policy.topics.map((topic) => (
            <option key={topic.id} value={topic.id}>
              {topicLabel(t, topic.id, topic.name)}
            </option>
          ))}
        </select>
        {fieldError("topic")}
      </div>
      <div class="field">
        <label for="hd-req-comment">{t("request.comment")}</label>
        <input type="text" {...textAttrs("comment", "hd-req-comment-count")} />
        <div class="hint" id="hd-req-comment-count">
          {t("request.chars", { count: form.comment.length, max: policy.comment_max })}
        </div>
        {fieldError("comment")}
      </div>
      <div class="field">
        <label for="hd-req-message">{t("request.message")}</label>
        <textarea rows={6} {...textAttrs("message", "hd-req-message-hint")} />
        <div class="hint" id="hd-req-message-hint">
          {t("request.message.hint")}
        </div>
        {fieldError("message")}
      </div>
      <Deflection form={form} />
      <fieldset class="field importance">
        <legend>{t("request.importance")}</legend>
        <div class="row">
          {policy.importance.map((level) => (
            <label key={level} class="radio">
              <input
                type="radio"
                name="hd-importance"
                value={level}
                checked={form.importance === level}
                onChange={() => set({ importance: level })}
              />
              <span>{t(`importance.${level}`)}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <ExpectedAnswer policy={policy} topic={form.topic} importance={form.importance} />
      <FilePicker policy={policy} file={form.file} disabled={sending} onChange={(file) => set({ file })} />
      {progress !== null && (
        <div class="field">
          <label for="hd-req-progress">{t("request.progress")}</label>
          <progress id="hd-req-progress" max={1} value={progress} />
        </div>
      )}
      {waitingForNetwork && (
        <div class="notice error" role="alert">
          {t("request.not_sent")}
        </div>
      )}
      <ErrorNotice error={error} />
      <button type="submit" class="button" disabled={sending} aria-disabled={sending}>
        {sending ? t("request.sending") : t("request.submit")}
      </button>
    </form>
  );
}

/** What support promises for the chosen topic and importance if the request is sent now. */
function ExpectedAnswer({ policy, topic, importance }: { policy: FormPolicy; topic: string; importance: string }): JSX.Element | null {
  const { t, lang } = useT();
  const due = policy.topics.find((x) => x.id === topic)?.first_response_due?.[importance];
  if (!due) return null;
  return (
    <p class="hint request-expected" role="status">
      {t("request.expected", { due: formatMoment(lang, due) })}
    </p>
  );
}

export function RequestSection(): JSX.Element {
  const { t } = useT();
  const { policy, error, reload } = useFormPolicy();
  if (error) return <ErrorNotice error={error} onRetry={reload} />;
  if (!policy) return <Spinner label={t("common.loading")} />;
  return <RequestForm policy={policy} />;
}

/**
 * Chat: a pre-chat form (name, contact phone, short question), then the queue, the conversation with
 * a specialist, its end, and two ways to a request: "Turn this chat into a request" (the server files
 * the transcript) and "Create a request instead" (the New request form, pre-filled). Nothing is
 * stored: leaving the section or closing the Help window closes the WebSocket, which ends the chat.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { WidgetContext } from "../core/context";
import { register, type Translate } from "../core/i18n";
import { formatMoment, loadDirectory, sayWhen, scheduleZone } from "../core/hours";
import { chatStrings } from "../i18n/chat";
import { hoursStrings } from "../i18n/hours";
import { useFormPolicy } from "../panel/files";
import { useLatest, useStore, useT, useWidget } from "../panel/hooks";
import {
  ChatController,
  MAX_MESSAGE_CHARS,
  MAX_NAME_CHARS,
  MAX_QUESTION_CHARS,
  requestDraft,
  type ChatState,
  type FieldProblem,
  type Intake,
  type IntakeField,
  type Line,
} from "./chat/connection";
import { checkPhone } from "./chat/phone";

register(chatStrings);
register(hoursStrings);

/** What the user typed into the form, kept while they look at other sections (memory only). */
const typed = new WeakMap<WidgetContext, Intake>();
const LIMITS: Record<IntakeField, number> = { name: MAX_NAME_CHARS, phone: 32, question: MAX_QUESTION_CHARS, topic: 50 };

export function ChatSection(): JSX.Element {
  const ctx = useWidget();
  const [controller] = useState(() => new ChatController(ctx));
  // Unmounting (another section, or the Help window closing) closes the socket: the chat ends.
  useEffect(() => () => controller.destroy(), [controller]);
  const state = useStore(controller.state);
  const { t } = useT();
  return (
    <div class="chat">
      <h3 id="hd-chat-title">{t("chat.title")}</h3>
      {state.phase === "form" ? (
        <PreChatForm controller={controller} state={state} />
      ) : state.phase === "outside" ? (
        <OutsideHours controller={controller} state={state} />
      ) : (
        <Conversation controller={controller} state={state} />
      )}
    </div>
  );
}

// -- the pre-chat form ------------------------------------------------------------------------

function problemText(t: Translate, field: IntakeField, problem: FieldProblem): string {
  return t(`chat.error.${field}.${problem}`, { max: LIMITS[field] });
}

function PreChatForm({ controller, state }: { controller: ChatController; state: ChatState }): JSX.Element {
  const ctx = useWidget();
  const { t } = useT();
  const id = "hd-chat";
  const start = typed.get(ctx) ?? state.intake;
  const [name, setName] = useState(start?.name ?? ctx.tokens.claims().name ?? "");
  const [phone, setPhone] = useState(start?.phone ? (checkPhone(start.phone).ok ? displayPhone(start.phone) : start.phone) : "");
  const [question, setQuestion] = useState(start?.question ?? "");
  const [topic, setTopic] = useState(start?.topic ?? "");
  const { policy } = useFormPolicy();
  const [errors, setErrors] = useState<Partial<Record<IntakeField, FieldProblem>>>(state.fieldErrors);
  const nameTouched = useRef(Boolean(start?.name));
  const refs = {
    name: useRef<HTMLInputElement>(null),
    phone: useRef<HTMLInputElement>(null),
    question: useRef<HTMLTextAreaElement>(null),
    topic: useRef<HTMLSelectElement>(null),
  };

  // The name comes from the sign-in token (fetched if the panel has not needed one yet).
  useEffect(() => {
    let live = true;
    ctx.tokens.get().then(
      () => {
        const claimed = ctx.tokens.claims().name;
        if (live && claimed && !nameTouched.current) setName((current) => current || claimed);
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, []);

  // A field the server refused gets the focus, so its message is read out.
  useEffect(() => {
    const first = (["topic", "name", "phone", "question"] as const).find((f) => state.fieldErrors[f]);
    if (first) refs[first].current?.focus();
  }, []);

  useEffect(() => {
    typed.set(ctx, { name, phone, question, topic });
  }, [name, phone, question, topic]);

  const validate = (): { intake: Intake | null; found: Partial<Record<IntakeField, FieldProblem>> } => {
    const found: Partial<Record<IntakeField, FieldProblem>> = {};
    const cleanName = name.replace(/\s+/g, " ").trim();
    const cleanQuestion = question.replace(/\s+/g, " ").trim();
    if (!cleanName) found.name = "required";
    else if (cleanName.length > MAX_NAME_CHARS) found.name = "too_long";
    const phoneCheck = checkPhone(phone);
    if (!phoneCheck.ok) found.phone = phoneCheck.reason === "empty" ? "required" : phoneCheck.reason;
    if (!cleanQuestion) found.question = "required";
    else if (cleanQuestion.length > MAX_QUESTION_CHARS) found.question = "too_long";
    if (!topic) found.topic = "required";
    if (Object.keys(found).length || !phoneCheck.ok) return { intake: null, found };
    return { intake: { name: cleanName, phone: phoneCheck.e164, question: cleanQuestion, topic }, found };
  };

  const onSubmit = (event: Event): void => {
    event.preventDefault();
    const { intake, found } = validate();
    setErrors(found);
    if (!intake) {
      const first = (["topic", "name", "phone", "question"] as const).find((f) => found[f]);
      if (first) refs[first].current?.focus();
      return;
    }
    setPhone(displayPhone(intake.phone));
    controller.start(intake);
  };

  const onPhoneBlur = (): void => {
    if (!phone.trim()) return;
    const check = checkPhone(phone);
    if (check.ok) {
      setPhone(check.display);
      setErrors((e) => ({ ...e, phone: undefined }));
    } else {
      setErrors((e) => ({ ...e, phone: check.reason === "empty" ? "required" : check.reason }));
    }
  };

  const clear = (field: IntakeField): void => {
    if (errors[field]) setErrors((e) => ({ ...e, [field]: undefined }));
  };

  const describedBy = (field: IntakeField, hint: boolean): string | undefined =>
    [hint ? `${id}-${field}-hint` : "", errors[field] ? `${id}-${field}-error` : ""].filter(Boolean).join(" ") || undefined;

  const error = (field: IntakeField): JSX.Element | null => {
    const problem = errors[field];
    return problem ? (
      <p class="field-error" id={`${id}-${field}-error`}>
        {problemText(t, field, problem)}
      </p>
    ) : null;
  };

  return (
    <>
      <p class="notice info chat-privacy">{t("chat.privacy")}</p>
      <form class="chat-form" onSubmit={onSubmit} noValidate aria-labelledby="hd-chat-title">
        <div class="field">
          <label for={`${id}-topic`}>{t("chat.field.topic")}</label>
          <select
            id={`${id}-topic`}
            ref={refs.topic}
            value={topic}
            required
            aria-invalid={errors.topic ? "true" : "false"}
            aria-describedby={describedBy("topic", false)}
            onChange={(e) => {
              setTopic((e.currentTarget as HTMLSelectElement).value);
              clear("topic");
            }}
          >
            <option value="">{t("chat.field.topic.choose")}</option>
            {(policy?.topics ?? []).map((x) => (
              <option key={x.id} value={x.id}>
                {x.name}
              </option>
            ))}
          </select>
          {error("topic")}
        </div>
        <div class="field">
          <label for={`${id}-name`}>{t("chat.field.name")}</label>
          <input
            id={`${id}-name`}
            ref={refs.name}
            type="text"
            autocomplete="name"
            maxLength={MAX_NAME_CHARS}
            required
            value={name}
            aria-invalid={errors.name ? "true" : "false"}
            aria-describedby={describedBy("name", false)}
            onInput={(e) => {
              nameTouched.current = true;
              setName(e.currentTarget.value);
              clear("name");
            }}
          />
          {error("name")}
        </div>
        <div class="field">
          <label for={`${id}-phone`}>{t("chat.field.phone")}</label>
          <input
            id={`${id}-phone`}
            ref={refs.phone}
            type="tel"
            inputMode="tel"
            autocomplete="tel"
            maxLength={32}
            required
            value={phone}
            placeholder="+380 67 123 4567"
            aria-invalid={errors.phone ? "true" : "false"}
            aria-describedby={describedBy("phone", true)}
            onInput={(e) => {
              setPhone(e.currentTarget.value);
              clear("phone");
            }}
            onBlur={onPhoneBlur}
          />
          <p class="hint" id={`${id}-phone-hint`}>
            {t("chat.field.phone.hint")}
          </p>
          {error("phone")}
        </div>
        <div class="field">
          <label for={`${id}-question`}>{t("chat.field.question")}</label>
          <textarea
            id={`${id}-question`}
            ref={refs.question}
            rows={3}
            maxLength={MAX_QUESTION_CHARS}
            required
            value={question}
            aria-invalid={errors.question ? "true" : "false"}
            aria-describedby={describedBy("question", true)}
            onInput={(e) => {
              setQuestion(e.currentTarget.value);
              clear("question");
            }}
          />
          <p class="hint" id={`${id}-question-hint`}>
            {t("chat.field.question.hint")}
          </p>
          {error("question")}
        </div>
        <button type="submit" class="button">
          {t("chat.start")}
        </button>
      </form>
    </>
  );
}

function displayPhone(e164: string): string {
  const check = checkPhone(e164);
  return check.ok ? check.display : e164;
}

// -- outside the topic's hours ----------------------------------------------------------------

function OutsideHours({ controller, state }: { controller: ChatController; state: ChatState }): JSX.Element {
  const ctx = useWidget();
  const { t, lang } = useT();
  const heading = useRef<HTMLParagraphElement>(null);
  useEffect(() => heading.current?.focus(), []);
  const outside = state.outside;
  // The topic's schedule zone, for the opening time in it as well (the notice waits for nothing).
  const { data: directory } = useLatest(`directory|${lang}`, (signal) => loadDirectory(ctx.api, lang, signal));
  const zone = directory && outside ? scheduleZone(directory, outside.topic) : undefined;
  const openRequest = (): void => {
    const intake = state.intake;
    const draft = { ...(state.draft ?? {}), topic: outside?.topic ?? intake?.topic ?? "" };
    if (!draft.comment && intake) draft.comment = intake.question.slice(0, 200);
    ctx.route.set({ section: "request", draft });
  };
  return (
    <div class="notice info chat-outside" role="status">
      <p tabIndex={-1} ref={heading}>
        <strong>{t("chat.outside.title")}</strong>
      </p>
      {outside?.opensAt && (
        <p>{sayWhen(t, "chat.outside.opens", lang, outside.opensAt, zone)}</p>
      )}
      {outside?.due && <p>{t("chat.outside.due", { due: formatMoment(lang, outside.due) })}</p>}
      <div class="row">
        <button type="button" class="button" onClick={openRequest}>
          {t("chat.outside.button")}
        </button>
        <button type="button" class="button secondary" onClick={() => controller.reset()}>
          {t("common.back")}
        </button>
      </div>
    </div>
  );
}

// -- the conversation -------------------------------------------------------------------------

function statusLines(t: Translate, s: ChatState, online: boolean): string[] {
  const out: string[] = [];
  switch (s.phase) {
    case "connecting":
      out.push(!online ? t("chat.status.offline") : s.unavailable ? t("chat.status.unavailable") : s.failures ? t("chat.status.retrying") : t("chat.status.connecting"));
      break;
    case "reconnecting":
      out.push(!online ? t("chat.status.offline") : s.unavailable ? t("chat.status.unavailable") : t("chat.status.reconnecting"));
      break;
    case "waiting":
      if (s.notice === "rejoined") out.push(t("chat.status.rejoined"));
      if (s.notice === "requeued") out.push(t("chat.status.requeued"));
      if (s.position !== null) out.push(t("chat.status.position", { position: s.position }));
      if (s.specialistsOnline === 0 || s.offer === "no_specialist_online") out.push(t("chat.status.nobody"));
      else {
        out.push(t("chat.status.busy"));
        if (s.specialistsOnline) out.push(t("chat.status.online", { count: s.specialistsOnline }));
      }
      if (s.offer === "wait_exceeded") out.push(t("chat.status.slow"));
      break;
    case "chatting":
      out.push(s.specialist ? t("chat.status.assigned", { name: s.specialist }) : t("chat.status.assigned.anon"));
      if (s.notice === "rejoined") out.push(t("chat.status.rejoined.assigned"));
      break;
    case "ended":
      out.push(t(`chat.status.ended.${s.ended ?? "closed"}`));
      break;
    default:
      break;
  }
  return out;
}

function Conversation({ controller, state }: { controller: ChatController; state: ChatState }): JSX.Element {
  const ctx = useWidget();
  const { t, lang } = useT();
  const online = useStore(ctx.online);
  const id = "hd-chat";
  const [text, setText] = useState("");
  const log = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const afterEnd = useRef<HTMLButtonElement>(null);
  const ended = state.phase === "ended";
  const live = !ended;
  const time = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });

  useEffect(() => {
    input.current?.focus();
  }, []);

  useEffect(() => {
    const el = log.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [state.lines.length, state.specialistTyping]);

  // When the chat ends, the composer goes away; keep the focus somewhere useful.
  useEffect(() => {
    if (!ended) return;
    const active = ctx.root.activeElement;
    if (!active || !active.isConnected) afterEnd.current?.focus();
  }, [ended]);

  const submit = (event: Event): void => {
    event.preventDefault();
    const value = text.trim();
    if (!value) return;
    controller.send(value);
    setText("");
  };

  const onKeyDown = (event: KeyboardEvent): void => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) submit(event);
  };

  const openRequest = (): void => {
    const draft = requestDraft(state, { question: t("chat.draft.question"), me: t("chat.draft.me"), support: t("chat.draft.support") });
    ctx.route.set({ section: "request", draft });
  };

  const unsent = state.lines.filter((l) => l.from === "me" && l.status === "failed").length;
  const unconfirmed = state.lines.filter((l) => l.from === "me" && l.status === "unconfirmed").length;
  const typingName = state.specialist ? t("chat.typing", { name: state.specialist }) : t("chat.typing.anon");
  const showOffer = state.phase === "waiting" && state.offer !== null;
  const request = state.request;

  return (
    <>
      <p class="notice info chat-privacy">{t("chat.privacy")}</p>
      <div class="notice info chat-status" role="status" data-phase={state.phase}>
        {statusLines(t, state, online).map((line, index) => (
          <span key={index}>{line}</span>
        ))}
      </div>

      {showOffer && (
        <div class="notice info chat-offer">
          <span>{t(`chat.offer.${state.offer === "wait_exceeded" ? "wait_exceeded" : "no_specialist_online"}`)}</span>
          <button type="button" class="button secondary" onClick={openRequest}>
            {t("chat.offer.button")}
          </button>
        </div>
      )}

      <div
        class="chat-log"
        ref={log}
        role="log"
        aria-live="polite"
        aria-label={t("chat.log")}
        tabIndex={0}
      >
        {state.lines.length === 0 ? (
          <p class="hint chat-empty">{t("chat.log.empty")}</p>
        ) : (
          <ul class="chat-lines">
            {state.lines.map((line) => (
              <Message key={line.id} line={line} t={t} time={time} canRetry={live} onRetry={() => controller.retry(line.id)} />
            ))}
          </ul>
        )}
      </div>
      <p class="chat-typing hint" aria-hidden={!state.specialistTyping}>
        {state.specialistTyping ? typingName : ""}
      </p>

      {live && (
        <form class="chat-compose" onSubmit={submit}>
          <label for={`${id}-message`}>{t("chat.message")}</label>
          <textarea
            id={`${id}-message`}
            ref={input}
            rows={2}
            maxLength={MAX_MESSAGE_CHARS}
            value={text}
            aria-describedby={`${id}-message-hint`}
            onInput={(e) => {
              setText(e.currentTarget.value);
              controller.typing();
            }}
            onKeyDown={onKeyDown}
          />
          <p class="hint" id={`${id}-message-hint`}>
            {state.phase === "chatting" ? t("chat.message.hint") : t("chat.message.hint.waiting")}
          </p>
          <div class="row chat-compose-actions">
            <button type="submit" class="button">
              {t("common.send")}
            </button>
          </div>
        </form>
      )}

      <div class="chat-request" role="status">
        {request.state === "created" && (
          <div class="notice success">
            <span>{t("chat.convert.done", { number: request.number ?? "" })}</span>
            <button type="button" class="link" onClick={() => ctx.route.set({ section: "history" })}>
              {t("chat.convert.history")}
            </button>
          </div>
        )}
        {request.state === "failed" && (
          <div class="notice error">
            <span>{request.code === "tickets_unavailable" ? t("chat.convert.error.tickets_unavailable") : t("chat.convert.error")}</span>
          </div>
        )}
      </div>

      {live && state.requestOffered && request.state !== "created" && (
        <p class="notice info" role="status">
          {t("chat.convert.offered", { name: state.specialist ?? "" })}
        </p>
      )}
      {live && (
        <div class="row chat-actions">
          {(state.phase === "chatting" || (state.phase === "waiting" && state.sessionLines > 0)) && request.state !== "created" && (
            <button
              type="button"
              class="button secondary"
              aria-disabled={request.state === "pending" ? "true" : undefined}
              onClick={() => controller.createRequest()}
            >
              {request.state === "pending" ? t("chat.convert.pending") : t("chat.convert")}
            </button>
          )}
          <button type="button" class="button danger" onClick={() => controller.end()}>
            {t("chat.end")}
          </button>
        </div>
      )}

      {ended && (
        <div class="chat-ended">
          {unsent > 0 && <p class="hint">{t("chat.unsent", { count: unsent })}</p>}
          {unconfirmed > 0 && <p class="hint">{t("chat.unconfirmed", { count: unconfirmed })}</p>}
          {request.state !== "created" && <p>{t("chat.offer.ended")}</p>}
          <div class="row chat-actions">
            {request.state !== "created" && (
              <button type="button" class="button" ref={afterEnd} onClick={openRequest}>
                {t("chat.offer.button")}
              </button>
            )}
            <button
              type="button"
              class={request.state === "created" ? "button" : "button secondary"}
              ref={request.state === "created" ? afterEnd : undefined}
              onClick={() => {
                controller.reset();
                requestAnimationFrame(() => ctx.root.getElementById("hd-chat-name")?.focus());
              }}
            >
              {t("chat.new")}
            </button>
          </div>
        </div>
      )}
    </>
  );
}

function Message({
  line,
  t,
  time,
  canRetry,
  onRetry,
}: {
  line: Line;
  t: Translate;
  time: Intl.DateTimeFormat;
  canRetry: boolean;
  onRetry: () => void;
}): JSX.Element {
  const who = line.from === "me" ? t("chat.you") : line.name || t("chat.specialist");
  const at = new Date(line.at);
  return (
    <li class={`chat-line ${line.from} ${line.status}`}>
      <p class="chat-meta">
        <span class="chat-who">{who}</span>
        <span aria-hidden="true"> · </span>
        <time dateTime={at.toISOString()}>{time.format(at)}</time>
      </p>
      <p class="chat-text">{line.text}</p>
      {line.status === "queued" && <p class="chat-state">{t("chat.line.queued")}</p>}
      {(line.status === "failed" || line.status === "unconfirmed") && (
        <p class="chat-state failed">
          <span>
            <span aria-hidden="true">⚠ </span>
            {t(`chat.line.${line.status}${canRetry ? "" : ".ended"}`)}
          </span>
          {canRetry && (
            <button type="button" class="link" onClick={onRetry}>
              {t("chat.line.retry")}
            </button>
          )}
        </p>
      )}
    </li>
  );
}

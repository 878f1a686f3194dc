/** The pieces of the Chats view: the waiting queue, the specialist's chats and one conversation. */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Translate } from "../../widget/core/i18n";
import { useStore, useT } from "../hooks";
import { MAX_MESSAGE_CHARS, type Desk, type DeskChat, type Line } from "./desk";

/** Re-renders every `ms` (the waiting times tick). */
function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

/** 0:42, 3:05, 1:02:09 — digits through Intl, so they are the specialist's own. */
function waited(lang: string, ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const two = new Intl.NumberFormat(lang, { minimumIntegerDigits: 2, useGrouping: false });
  const one = new Intl.NumberFormat(lang, { useGrouping: false });
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h ? `${one.format(h)}:${two.format(m)}:${two.format(s)}` : `${one.format(m)}:${two.format(s)}`;
}

export function errorMessage(t: Translate, code: string): string {
  const key = `desk.error.${code}`;
  const text = t(key);
  return text === key ? t("desk.error.generic") : text;
}

export function QueueList({ desk }: { desk: Desk }): JSX.Element {
  const { t, lang } = useT();
  const queue = useStore(desk.queue);
  const known = useStore(desk.queueKnown);
  const taking = useStore(desk.taking);
  const presence = useStore(desk.presence);
  const link = useStore(desk.link);
  const now = useNow(1000);
  return (
    <section class="card desk-queue" aria-labelledby="desk-queue-title">
      <h2 id="desk-queue-title">
        {t("desk.queue.title")} <span class="badge">{new Intl.NumberFormat(lang).format(queue.length)}</span>
      </h2>
      {presence.status !== "available" && queue.length > 0 && <p class="hint">{t("desk.queue.away")}</p>}
      {queue.length === 0 ? (
        <p class="hint">{known || link !== "online" ? t("desk.queue.empty") : t("desk.queue.unknown")}</p>
      ) : (
        <ul class="desk-list">
          {queue.map((entry) => {
            const nameId = `desk-q-${entry.session}`;
            const busy = taking.has(entry.session);
            return (
              <li key={entry.session} class="desk-entry">
                <p class="desk-who">
                  <strong id={nameId}>{entry.name || "—"}</strong>
                </p>
                <p class="desk-account">{t("desk.queue.account", { account: entry.accountId || "—" })}</p>
                <p class="desk-question">{entry.question}</p>
                <div class="row desk-entry-foot">
                  <time class="hint" dateTime={new Date(entry.since).toISOString()}>
                    {t("desk.queue.waited", { time: waited(lang, now - entry.since) })}
                  </time>
                  <span class="grow" />
                  <button
                    type="button"
                    class="button small"
                    aria-describedby={nameId}
                    aria-disabled={busy || link !== "online" ? "true" : undefined}
                    onClick={() => {
                      if (!busy && link === "online") desk.take(entry.session);
                    }}
                  >
                    {busy ? t("desk.queue.taking") : t("desk.queue.take")}
                  </button>
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

export function ChatList({ desk }: { desk: Desk }): JSX.Element {
  const { t } = useT();
  const chats = useStore(desk.chats);
  const selected = useStore(desk.selected);
  return (
    <section class="card desk-active" aria-labelledby="desk-active-title">
      <h2 id="desk-active-title">{t("desk.active.title")}</h2>
      {chats.length === 0 ? (
        <p class="hint">{t("desk.active.empty")}</p>
      ) : (
        <ul class="desk-list">
          {chats.map((chat) => (
            <li key={chat.session}>
              <button
                type="button"
                class={`desk-chat-item${chat.ended ? " ended" : ""}`}
                aria-current={chat.session === selected ? "true" : undefined}
                onClick={() => desk.select(chat.session)}
              >
                <span class="desk-chat-name">{chat.name || "—"}</span>
                <span class="desk-chat-sub">{chat.ended ? t("desk.active.ended") : chat.accountId}</span>
                {chat.unread > 0 && <span class="badge unread">{t("desk.active.unread", { count: chat.unread })}</span>}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function LineItem({ line, name, time, t, onRetry }: { line: Line; name: string; time: Intl.DateTimeFormat; t: Translate; onRetry?: () => void }): JSX.Element {
  const at = new Date(line.at);
  return (
    <li class={`desk-line ${line.from} ${line.status}`}>
      <p class="desk-meta">
        <span class="desk-from">{line.from === "me" ? t("desk.chat.you") : name}</span>
        <span aria-hidden="true"> · </span>
        <time dateTime={at.toISOString()}>{time.format(at)}</time>
      </p>
      <p class="desk-text">{line.text}</p>
      {line.status === "sending" && <p class="desk-state hint">{t("desk.line.sending")}</p>}
      {line.status === "failed" && (
        <p class="desk-state failed">
          <span>{t("desk.line.failed")}</span>{" "}
          {onRetry && (
            <button type="button" class="link" onClick={onRetry}>
              {t("desk.line.retry")}
            </button>
          )}
        </p>
      )}
    </li>
  );
}

export function ChatPane({ desk, chat }: { desk: Desk; chat: DeskChat }): JSX.Element {
  const { t, lang } = useT();
  const [drafts] = useState(() => new Map<string, string>());
  const [text, setText] = useState(drafts.get(chat.session) ?? "");
  const log = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const time = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
  const name = chat.name || "—";
  const live = chat.ended === null;

  useEffect(() => {
    setText(drafts.get(chat.session) ?? "");
    input.current?.focus();
  }, [chat.session]);

  useEffect(() => {
    const el = log.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [chat.session, chat.lines.length, chat.userTyping]);

  const submit = (event: Event): void => {
    event.preventDefault();
    const value = text.trim();
    if (!value || !live) return;
    desk.sendLine(chat.session, value);
    setText("");
    drafts.delete(chat.session);
  };

  const request = chat.request;
  return (
    <section class="card desk-pane" aria-labelledby="desk-chat-title">
      <h2 id="desk-chat-title">{name}</h2>
      <dl class="desk-card">
        <div>
          <dt>{t("desk.chat.phone")}</dt>
          <dd>{chat.phone ? <a href={`tel:${chat.phone}`}>{chat.phone}</a> : "—"}</dd>
        </div>
        <div>
          <dt>{t("desk.chat.account")}</dt>
          <dd>{chat.accountId || "—"}</dd>
        </div>
        <div class="wide">
          <dt>{t("desk.chat.question")}</dt>
          <dd>{chat.question}</dd>
        </div>
      </dl>

      <div class="desk-log" ref={log} role="log" aria-label={t("desk.chat.log")} tabIndex={0}>
        {chat.lines.length === 0 ? (
          <p class="hint">{t("desk.chat.empty")}</p>
        ) : (
          <ul>
            {chat.lines.map((line) => (
              <LineItem key={line.id} line={line} name={name} time={time} t={t} onRetry={live ? () => desk.retry(chat.session, line.id) : undefined} />
            ))}
          </ul>
        )}
      </div>
      <p class="desk-typing hint" aria-live="polite">
        {chat.userTyping ? t("desk.chat.typing", { name }) : ""}
      </p>

      <div class="desk-notices" role="status">
        {chat.ended && <p class="notice info">{t(`desk.chat.ended.${chat.ended}`, { name })}</p>}
        {request.state === "offered" && <p class="notice info">{t("desk.chat.offer.offered")}</p>}
        {request.state === "created" && <p class="notice success">{t("desk.chat.offer.created", { number: request.number ?? "" })}</p>}
        {request.state === "failed" && <p class="notice error">{request.code === "connection" ? t("desk.error.connection") : t("desk.chat.offer.failed")}</p>}
        {chat.problem && <p class="notice error">{errorMessage(t, chat.problem)}</p>}
      </div>

      {live && (
        <form class="desk-compose" onSubmit={submit}>
          <label for="desk-reply">{t("desk.chat.reply")}</label>
          <textarea
            id="desk-reply"
            ref={input}
            rows={3}
            maxLength={MAX_MESSAGE_CHARS}
            value={text}
            aria-describedby="desk-reply-hint"
            onInput={(e) => {
              const value = e.currentTarget.value;
              setText(value);
              drafts.set(chat.session, value);
              if (value.trim()) desk.typing(chat.session);
            }}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey && !e.isComposing) submit(e);
            }}
          />
          <p class="hint" id="desk-reply-hint">
            {t("desk.chat.reply.hint")}
          </p>
          <div class="row">
            <button type="submit" class="button">
              {t("common.send")}
            </button>
          </div>
        </form>
      )}

      <div class="row desk-actions">
        {live && request.state !== "created" && (
          <button
            type="button"
            class="button secondary"
            aria-disabled={request.state === "sending" || request.state === "offered" ? "true" : undefined}
            onClick={() => {
              if (request.state !== "sending" && request.state !== "offered") desk.offerRequest(chat.session);
            }}
          >
            {request.state === "sending" ? t("desk.chat.offer.sending") : t("desk.chat.offer")}
          </button>
        )}
        <span class="grow" />
        {live ? (
          <button type="button" class="button danger" onClick={() => desk.end(chat.session)}>
            {t("desk.chat.end")}
          </button>
        ) : (
          <button type="button" class="button secondary" onClick={() => desk.dismiss(chat.session)}>
            {t("desk.chat.close")}
          </button>
        )}
      </div>
    </section>
  );
}

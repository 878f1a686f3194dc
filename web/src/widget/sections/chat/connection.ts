/**
 * One chat with support over `/api/v1/chat/user` (protocol in services/chat/chat/entrypoints/ws.py).
 *
 * The server keeps nothing: a session lives as long as its WebSocket. So when the socket drops
 * unexpectedly we reconnect with back-off and open a *new* session with the same intake (name,
 * phone, question) — the user is back in the queue and the next specialist sees the question but not
 * the earlier lines. Nothing the user typed is lost silently: a line written before a specialist is
 * there (or while the socket is down) waits as "queued" and goes out on the next `assigned`; a line
 * the server refused, or that never left, is "failed"; one sent on a socket that was lost before its
 * confirmation came may or may not have reached the specialist, and is "unconfirmed" (not "not sent":
 * it often did arrive). Either can be sent again.
 *
 * The socket itself (auth, pings, what waits for an answer, back-off) is the FrameSocket: a message
 * waits for the `pong` of the `ping` after it, a `create_request` for its `request_created`.
 */
import type { RequestDraft, WidgetContext } from "../../core/context";
import { CLOSE_UNAVAILABLE, FrameSocket, socketUrl, type Frame } from "../../core/frames";
import { Store } from "../../core/store";

export interface Intake {
  name: string;
  phone: string;
  question: string;
  /** The support topic (the directory's id): the chat goes to its team, within its hours. */
  topic?: string;
}

export type Phase = "form" | "connecting" | "waiting" | "chatting" | "reconnecting" | "ended" | "outside";
export type LineStatus = "sending" | "sent" | "queued" | "failed" | "unconfirmed";
/** `too_many_chats`: the user has as many chats open as allowed (other tabs); `account_busy`: their hotel has. */
export type EndReason = "specialist_ended" | "idle_timeout" | "user_ended" | "unauthorized" | "closed" | "too_many_chats" | "account_busy";
export type IntakeField = "name" | "phone" | "question" | "topic";
export type FieldProblem = "required" | "too_long" | "invalid" | "country";

export interface Line {
  id: number;
  from: "me" | "specialist";
  /** The specialist's name at the time (theirs may change after a requeue). */
  name: string;
  text: string;
  at: number;
  status: LineStatus;
}

export interface RequestState {
  state: "idle" | "pending" | "created" | "failed";
  number?: string;
  code?: string;
}

export interface ChatState {
  phase: Phase;
  intake: Intake | null;
  /** Set once a session was established; a later one is a reconnect. */
  started: boolean;
  /** Sessions opened for this chat (more than one after a reconnect). */
  sessions: number;
  position: number | null;
  specialistsOnline: number | null;
  /** `no_specialist`'s reason while waiting: the offer to write a request instead. */
  offer: string | null;
  /** The server's request draft (`no_specialist`, `ended`). */
  draft: RequestDraft | null;
  specialist: string | null;
  specialistTyping: boolean;
  lines: Line[];
  /** What to tell the user on top of the phase: back in the queue after a drop, or after a specialist left. */
  notice: "rejoined" | "requeued" | null;
  /** The server said the chat is unavailable right now; we are retrying. */
  unavailable: boolean;
  ended: EndReason | null;
  request: RequestState;
  fieldErrors: Partial<Record<IntakeField, FieldProblem>>;
  /** Connections lost or refused since the last session was established. */
  failures: number;
  /** Lines exchanged in the current server session (what `create_request` would carry). */
  sessionLines: number;
  /** The specialist suggested turning the chat into a request; only the user's own click files it. */
  requestOffered: boolean;
  /** The topic is outside its hours: when it opens, and the answer a request filed now is promised. */
  outside: { topic: string; opensAt: string | null; due: string | null } | null;
}

type Sent = { kind: "message"; id: number } | { kind: "request" };

const TYPING_EVERY_MS = 2_000;
const TYPING_SHOWN_MS = 5_000;
const CLOSE_POLICY = 1008;
const CLOSE_TOO_BIG = 1009;
export const MAX_MESSAGE_CHARS = 2000;
export const MAX_NAME_CHARS = 100;
export const MAX_QUESTION_CHARS = 500;

function initial(intake: Intake | null = null): ChatState {
  return {
    phase: "form",
    intake,
    started: false,
    sessions: 0,
    position: null,
    specialistsOnline: null,
    offer: null,
    draft: null,
    specialist: null,
    specialistTyping: false,
    lines: [],
    notice: null,
    unavailable: false,
    ended: null,
    request: { state: "idle" },
    fieldErrors: {},
    failures: 0,
    sessionLines: 0,
    requestOffered: false,
    outside: null,
  };
}

function ids(items: Sent[]): Set<number> {
  return new Set(items.flatMap((item) => (item.kind === "message" ? [item.id] : [])));
}

/** Control characters other than tab and newline (a pasted terminal escape, a NUL) are not text: the server
 * refuses a frame that holds them, so they are dropped before sending. */
const NOT_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]|\r(?!\n)/g;

export function textOnly(text: string): string {
  return text.replace(NOT_TEXT, "");
}

function startFrame(intake: Intake): Frame {
  const frame: Frame = { type: "start" };
  for (const [key, value] of Object.entries(intake)) if (typeof value === "string") frame[key] = textOnly(value);
  return frame;
}

function asDraft(value: unknown): RequestDraft | null {
  if (!value || typeof value !== "object") return null;
  const raw = value as Record<string, unknown>;
  const draft: RequestDraft = {};
  for (const key of ["topic", "comment", "message", "importance"] as const) {
    if (typeof raw[key] === "string") draft[key] = raw[key] as string;
  }
  return draft;
}

export class ChatController {
  readonly state = new Store<ChatState>(initial());
  private readonly socket: FrameSocket<Sent>;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private lastTypingSent = 0;
  private nextId = 1;
  private destroyed = false;
  private readonly stopOnline: () => void;

  constructor(private readonly ctx: WidgetContext) {
    this.socket = new FrameSocket<Sent>({
      tokens: ctx.tokens,
      online: ctx.online,
      url: () => socketUrl(ctx.api.base, "/api/v1/chat/user"),
      wanted: () => {
        const phase = this.state.value.phase;
        return !this.destroyed && (phase === "connecting" || phase === "reconnecting");
      },
      onFrame: (frame) => this.onFrame(frame),
      onLost: (code) => this.onLost(code),
      onConfirmed: (items) => {
        const sent = ids(items);
        if (sent.size) this.setStatus(sent, "sent");
      },
      onUnanswered: (items) => this.failUnanswered(items),
    });
    // Lines written while the network was down go out when it is back (reconnecting is the socket's).
    this.stopOnline = ctx.online.subscribe((online) => {
      if (online && !this.destroyed && this.state.value.phase === "chatting") this.flush();
    });
  }

  // -- what the section asks for --------------------------------------------------------------

  /** Start a chat with this intake (already checked on the client; the server checks again). */
  start(intake: Intake): void {
    this.socket.close();
    this.state.set({ ...initial(intake), phase: "connecting" });
    this.socket.connectAfresh();
  }

  /** Back to the pre-chat form with the same intake (after an end, or to fix a field). */
  reset(): void {
    this.socket.close();
    this.state.set(initial(this.state.value.intake));
  }

  /** The user's "End chat": closing the socket ends the session on the server. */
  end(): void {
    this.finish("user_ended");
  }

  send(text: string): void {
    const line: Line = { id: this.nextId++, from: "me", name: "", text, at: Date.now(), status: "queued" };
    this.patch({ lines: [...this.state.value.lines, line] });
    this.transmit(line.id);
  }

  /** "Send again": the line moves to the end (that is where the specialist will see it). */
  retry(id: number): void {
    const lines = this.state.value.lines;
    const line = lines.find((l) => l.id === id);
    if (!line || (line.status !== "failed" && line.status !== "unconfirmed")) return;
    const again: Line = { ...line, id: this.nextId++, at: Date.now(), status: "queued" };
    this.patch({ lines: [...lines.filter((l) => l.id !== id), again] });
    this.transmit(again.id);
  }

  /** Our typing, at most one frame per TYPING_EVERY_MS, and only to a specialist. */
  typing(): void {
    if (this.state.value.phase !== "chatting" || !this.socket.open) return;
    const now = Date.now();
    if (now - this.lastTypingSent < TYPING_EVERY_MS) return;
    this.lastTypingSent = now;
    this.socket.send({ type: "typing" });
  }

  canCreateRequest(): boolean {
    const s = this.state.value;
    return (
      (s.phase === "chatting" || (s.phase === "waiting" && s.sessionLines > 0)) &&
      this.socket.open &&
      s.request.state !== "pending" &&
      s.request.state !== "created"
    );
  }

  /** "Turn this chat into a request": the server files the transcript as a request in the user's name. */
  createRequest(): void {
    if (!this.canCreateRequest()) return;
    // Answered by its own `request_created` (or an `error`), no ping after it.
    this.socket.send({ type: "create_request", topic: "chat" }, { kind: "request" }, { ping: false });
    this.patch({ request: { state: "pending" } });
  }

  destroy(): void {
    this.destroyed = true;
    this.socket.destroy();
    clearTimeout(this.typingTimer);
    this.stopOnline();
  }

  // -- the socket -----------------------------------------------------------------------------

  private onLost(code: number): void {
    if (this.destroyed) return;
    const s = this.state.value;
    if (s.phase === "ended" || s.phase === "form") return;
    if (this.socket.refused(code)) return this.finish("unauthorized");
    if (code === CLOSE_POLICY || code === CLOSE_TOO_BIG) return this.finish("closed");
    this.patch({
      phase: s.started ? "reconnecting" : "connecting",
      specialist: null,
      specialistTyping: false,
      position: null,
      offer: null,
      notice: null,
      failures: s.failures + 1,
    });
    this.socket.retryLater();
  }

  // -- frames from the server -----------------------------------------------------------------

  private onFrame(frame: Frame): void {
    const s = this.state.value;
    switch (frame.type) {
      case "ready":
        if (s.intake) this.socket.send(startFrame(s.intake));
        return;
      case "queued": {
        this.socket.established();
        const online = typeof frame.specialists_online === "number" ? frame.specialists_online : null;
        this.patch({
          phase: "waiting",
          started: true,
          sessions: s.sessions + 1,
          notice: s.started ? "rejoined" : null,
          position: typeof frame.position === "number" ? frame.position : null,
          specialistsOnline: online,
          offer: online === 0 ? "no_specialist_online" : null,
          unavailable: false,
          fieldErrors: {},
          failures: 0,
          sessionLines: 0,
          requestOffered: false,
          request: s.request.state === "created" ? s.request : { state: "idle" },
        });
        return;
      }
      case "position":
        if (typeof frame.position === "number") this.patch({ position: frame.position });
        return;
      case "outside_hours":
        // Not queued: no session was opened. The socket is of no further use.
        this.socket.close();
        this.patch({
          phase: "outside",
          outside: {
            topic: String(frame.topic ?? ""),
            opensAt: typeof frame.opens_at === "string" ? frame.opens_at : null,
            due: typeof frame.first_response_due === "string" ? frame.first_response_due : null,
          },
          draft: asDraft(frame.draft),
          failures: 0,
        });
        return;
      case "no_specialist":
        this.patch({ offer: typeof frame.reason === "string" ? frame.reason : "no_specialist_online", draft: asDraft(frame.draft) ?? s.draft });
        return;
      case "assigned": {
        const specialist = frame.specialist as { name?: unknown } | undefined;
        this.patch({
          phase: "chatting",
          specialist: typeof specialist?.name === "string" ? specialist.name : "",
          specialistTyping: false,
          position: null,
          offer: null,
          // After a reconnect the user should still know this specialist has not seen the earlier lines.
          notice: s.notice === "rejoined" ? "rejoined" : null,
        });
        this.flush();
        return;
      }
      case "message": {
        if (typeof frame.text !== "string") return;
        clearTimeout(this.typingTimer);
        const line: Line = {
          id: this.nextId++,
          from: "specialist",
          name: s.specialist ?? "",
          text: frame.text,
          at: Date.now(),
          status: "sent",
        };
        this.patch({ lines: [...s.lines, line], specialistTyping: false, sessionLines: s.sessionLines + 1 });
        return;
      }
      case "typing":
        if (s.phase !== "chatting") return;
        clearTimeout(this.typingTimer);
        this.typingTimer = setTimeout(() => this.patch({ specialistTyping: false }), TYPING_SHOWN_MS);
        if (!s.specialistTyping) this.patch({ specialistTyping: true });
        return;
      case "specialist_left":
        clearTimeout(this.typingTimer);
        this.patch({ phase: "waiting", specialist: null, specialistTyping: false, position: null, notice: "requeued" });
        return;
      case "ended":
        this.patch({ draft: asDraft(frame.draft) ?? s.draft });
        this.finish(frame.reason === "idle_timeout" ? "idle_timeout" : frame.reason === "specialist_ended" ? "specialist_ended" : "closed");
        return;
      case "request_offered":
        this.patch({ requestOffered: true });
        return;
      case "request_created":
        this.socket.answered((item) => item.kind === "request");
        this.patch({ request: { state: "created", number: String(frame.number ?? "") } });
        return;
      case "error":
        // Refused for the chats already open: no new session until one of them ends.
        if (frame.code === "too_many_chats") return this.finish(frame.scope === "account" ? "account_busy" : "too_many_chats");
        this.onError(String(frame.code ?? ""), typeof frame.field === "string" ? frame.field : null, String(frame.message ?? ""));
        return;
      default:
        return;
    }
  }

  private onError(code: string, field: string | null, message: string): void {
    switch (code) {
      case "invalid_intake": {
        // The start frame was refused: back to the form, the problem on its field.
        const key: IntakeField = field === "name" || field === "question" || field === "topic" ? field : "phone";
        const problem: FieldProblem = /longer/.test(message) ? "too_long" : key === "phone" ? "invalid" : "required";
        this.socket.close();
        this.state.set({ ...initial(this.state.value.intake), fieldErrors: { [key]: problem } });
        return;
      }
      case "unavailable":
        // The shared directory does not answer: try again later with a new socket.
        this.patch({ unavailable: true });
        this.socket.abandon(CLOSE_UNAVAILABLE);
        return;
      default:
        this.refused(code);
    }
  }

  /** An error answers the oldest frame still waiting for its answer. */
  private refused(code: string): void {
    const item = this.socket.rejected();
    if (!item) return;
    if (item.kind === "message") this.setStatus(new Set([item.id]), "failed");
    else if (item.kind === "request") this.patch({ request: { state: "failed", code } });
  }

  /** The socket is gone: what was sent but not confirmed may or may not have arrived. */
  private failUnanswered(items: Sent[]): void {
    const unconfirmed = ids(items);
    if (unconfirmed.size) this.setStatus(unconfirmed, "unconfirmed");
    if (items.some((item) => item.kind === "request")) this.patch({ request: { state: "failed", code: "connection" } });
  }

  // -- our lines ------------------------------------------------------------------------------

  /** Send a queued line if a specialist is there and the socket is open; else it stays queued. */
  private transmit(id: number): void {
    const s = this.state.value;
    const line = s.lines.find((l) => l.id === id);
    if (!line || line.status !== "queued") return;
    if (s.phase !== "chatting" || !this.ctx.online.value) return;
    if (!this.socket.send({ type: "message", text: textOnly(line.text) }, { kind: "message", id })) return;
    this.setStatus(new Set([id]), "sending");
    this.patch({ sessionLines: this.state.value.sessionLines + 1 });
  }

  private flush(): void {
    for (const line of this.state.value.lines) if (line.status === "queued") this.transmit(line.id);
  }

  private setStatus(ids: Set<number>, status: LineStatus): void {
    this.patch({ lines: this.state.value.lines.map((l) => (ids.has(l.id) ? { ...l, status } : l)) });
  }

  private finish(reason: EndReason): void {
    this.socket.close();
    clearTimeout(this.typingTimer);
    const s = this.state.value;
    this.state.set({
      ...s,
      phase: "ended",
      ended: reason,
      specialistTyping: false,
      position: null,
      offer: null,
      notice: null,
      lines: s.lines.map((l) => (l.status === "queued" ? { ...l, status: "failed" } : l.status === "sending" ? { ...l, status: "unconfirmed" } : l)),
      request: s.request.state === "pending" ? { state: "failed", code: "connection" } : s.request,
    });
  }

  private patch(change: Partial<ChatState>): void {
    this.state.set({ ...this.state.value, ...change });
  }
}

/** What "Create a request instead" pre-fills: the server's draft, or the chat as we saw it. */
export function requestDraft(s: ChatState, labels: { question: string; me: string; support: string }): RequestDraft {
  const question = s.intake?.question ?? "";
  const unsent = s.lines.some((l) => l.from === "me" && l.status !== "sent");
  let message = s.draft?.message || question;
  // The server's draft knows only the current session's delivered lines; ours knows them all.
  if (s.lines.length && (!s.draft?.message || s.sessions > 1 || unsent)) {
    message = [
      `${labels.question}: ${question}`,
      ...s.lines.map((l) => `${l.from === "me" ? labels.me : labels.support}: ${l.text}`),
    ].join("\n");
  }
  return {
    topic: s.draft?.topic ?? "chat",
    comment: s.draft?.comment || question,
    message,
    importance: s.draft?.importance ?? "normal",
  };
}

/**
 * The specialist's chat desk: one WebSocket to `/api/v1/chat/agent` per signed-in console (protocol
 * in services/chat/chat/entrypoints/ws.py), its presence, the waiting queue and the chats held.
 *
 * Nothing of a chat is stored: names, phones, questions and lines live in these stores only, and go
 * when the specialist signs out or closes the page. When the socket drops we reconnect with back-off;
 * within the server's grace period it gives the chats back (`chat_assigned` again, lines kept here).
 *
 * The socket itself (auth, pings, what waits for an answer, reconnecting) is the widget's FrameSocket;
 * every command waits for its answer there (a `ping` follows it).
 */
import { CLOSE_UNAVAILABLE, FrameSocket, socketUrl, type Frame } from "../../widget/core/frames";
import { Store } from "../../widget/core/store";
import type { ConsoleContext } from "../context";

export type Link = "idle" | "connecting" | "online" | "reconnecting" | "replaced" | "unauthorized";
export type LineStatus = "sending" | "sent" | "failed";
export type ChatEnd = "user_left" | "specialist_ended" | "lost";

export interface Presence {
  status: "available" | "away";
  capacity: number;
  /** Chats given by the server as they come; off: only those taken by hand. */
  auto: boolean;
  /** The support teams this specialist answers for: their topics' chats come here first. */
  teams: string[];
}

export interface QueueEntry {
  session: string;
  /** Epoch milliseconds. */
  since: number;
  accountId: string;
  name: string;
  question: string;
  position: number;
}

export interface Line {
  id: number;
  from: "user" | "me";
  text: string;
  at: number;
  status: LineStatus;
}

export interface RequestOffer {
  state: "idle" | "sending" | "offered" | "created" | "failed";
  number?: string;
  code?: string;
}

export interface DeskChat {
  session: string;
  name: string;
  phone: string;
  question: string;
  accountId: string;
  lines: Line[];
  unread: number;
  userTyping: boolean;
  ended: ChatEnd | null;
  request: RequestOffer;
  /** An error about this chat (a refused end, a line too long). */
  problem: string | null;
}

/** Something the specialist should hear about (a live region reads it). */
export interface Announcement {
  key: string;
  params: Record<string, string | number>;
  seq: number;
}

type Command =
  | { kind: "message"; session: string; id: number }
  | { kind: "take"; session: string }
  | { kind: "offer"; session: string }
  | { kind: "end"; session: string }
  | { kind: "presence" };

export const MIN_CAPACITY = 1;
export const MAX_CAPACITY = 10;
export const MAX_MESSAGE_CHARS = 2000;
const MAX_LINES = 500;
const TYPING_EVERY_MS = 2_000;
const TYPING_SHOWN_MS = 5_000;
const CLOSE_REPLACED = 4409;

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** `waiting_since` as epoch ms: ISO text, or epoch seconds (the server's clock) or milliseconds. */
export function toEpochMs(value: unknown): number {
  if (typeof value === "number" && Number.isFinite(value)) return value < 1e12 ? value * 1000 : value;
  if (typeof value === "string") {
    const parsed = Date.parse(value);
    if (!Number.isNaN(parsed)) return parsed;
  }
  return Date.now();
}

export class Desk {
  readonly link = new Store<Link>("idle");
  readonly presence = new Store<Presence>({ status: "away", capacity: 2, auto: true, teams: [] });
  readonly queue = new Store<QueueEntry[]>([]);
  /** False until the server has sent a queue (older servers never do). */
  readonly queueKnown = new Store(false);
  readonly waitingCount = new Store(0);
  readonly chats = new Store<DeskChat[]>([]);
  readonly selected = new Store<string | null>(null);
  /** Sessions the specialist asked to take and has not got yet. */
  readonly taking = new Store<ReadonlySet<string>>(new Set());
  /** A desk-level problem (a refused take, presence not saved): an error code. */
  readonly problem = new Store<string | null>(null);
  readonly announcement = new Store<Announcement | null>(null);
  /** Sessions that joined the queue since the last snapshot (for the sound). */
  readonly arrivals = new Store(0);
  /** Whether the chats view is on screen (an incoming line there is read, not unread). */
  readonly watching = new Store(false);

  private readonly socket: FrameSocket<Command>;
  private typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private lastTyping = new Map<string, number>();
  private seen = new Set<string>();
  private snapshots = 0;
  private nextId = 1;
  private announceSeq = 0;
  private running = false;
  /** What the specialist chose; sent again after every reconnect. */
  private wanted: Presence | null = null;

  constructor(ctx: ConsoleContext) {
    this.socket = new FrameSocket<Command>({
      tokens: ctx.tokens,
      online: ctx.online,
      url: () => socketUrl(ctx.api.base, "/api/v1/chat/agent"),
      wanted: () => this.running,
      onFrame: (frame) => this.onFrame(frame),
      onLost: (code) => this.onLost(code),
      onConfirmed: (items) => {
        for (const item of items) if (item.kind === "message") this.setLine(item.session, item.id, "sent");
      },
      onUnanswered: (items) => this.failUnanswered(items),
    });
  }

  // -- lifecycle ------------------------------------------------------------------------------

  start(): void {
    if (this.running) return;
    this.running = true;
    this.link.set("connecting");
    this.socket.connectAfresh();
  }

  /** Signed out: away, the socket closed, and every chat forgotten. */
  stop(): void {
    this.running = false;
    this.send({ type: "away" }, null);
    this.socket.close();
    for (const timer of this.typingTimers.values()) clearTimeout(timer);
    this.typingTimers.clear();
    this.wanted = null;
    this.seen.clear();
    this.snapshots = 0;
    this.link.set("idle");
    this.presence.set({ status: "away", capacity: 2, auto: true, teams: [] });
    this.queue.set([]);
    this.queueKnown.set(false);
    this.waitingCount.set(0);
    this.chats.set([]);
    this.selected.set(null);
    this.taking.set(new Set());
    this.problem.set(null);
    this.announcement.set(null);
  }

  destroy(): void {
    this.stop();
    this.socket.destroy();
  }

  /** After "opened in another tab": take the desk back here. */
  reconnect(): void {
    if (!this.running) return;
    this.link.set("connecting");
    this.socket.connectAfresh();
  }

  // -- what the specialist does ---------------------------------------------------------------

  setPresence(change: Partial<Presence>): void {
    const next: Presence = { ...this.presence.value, ...change };
    next.capacity = Math.min(MAX_CAPACITY, Math.max(MIN_CAPACITY, Math.round(next.capacity)));
    this.wanted = next;
    this.presence.set(next);
    this.problem.set(null);
    this.sendPresence();
  }

  take(session: string): void {
    this.problem.set(null);
    if (!this.send({ type: "take", session }, { kind: "take", session })) {
      this.problem.set("connection");
      return;
    }
    this.taking.set(new Set([...this.taking.value, session]));
  }

  select(session: string | null): void {
    this.selected.set(session);
    if (session) this.patchChat(session, { unread: 0 });
  }

  sendLine(session: string, text: string): void {
    const chat = this.chat(session);
    if (!chat || chat.ended) return;
    const line: Line = { id: this.nextId++, from: "me", text, at: Date.now(), status: "sending" };
    this.patchChat(session, { lines: [...chat.lines, line].slice(-MAX_LINES), problem: null });
    this.transmit(session, line);
  }

  /** "Send again": the line moves to the end, where the user will see it. */
  retry(session: string, id: number): void {
    const chat = this.chat(session);
    const line = chat?.lines.find((l) => l.id === id);
    if (!chat || !line || line.status !== "failed" || chat.ended) return;
    const again: Line = { ...line, id: this.nextId++, at: Date.now(), status: "sending" };
    this.patchChat(session, { lines: [...chat.lines.filter((l) => l.id !== id), again] });
    this.transmit(session, again);
  }

  /** Our typing, at most one frame per TYPING_EVERY_MS per chat. */
  typing(session: string): void {
    const chat = this.chat(session);
    if (!chat || chat.ended) return;
    const now = Date.now();
    if (now - (this.lastTyping.get(session) ?? 0) < TYPING_EVERY_MS) return;
    this.lastTyping.set(session, now);
    this.send({ type: "typing", session }, null);
  }

  end(session: string): void {
    const chat = this.chat(session);
    if (!chat) return;
    if (chat.ended) return this.dismiss(session);
    if (!this.send({ type: "end", session }, { kind: "end", session })) this.patchChat(session, { problem: "connection" });
  }

  /** Forget an ended chat. */
  dismiss(session: string): void {
    this.chats.set(this.chats.value.filter((c) => c.session !== session));
    if (this.selected.value === session) this.selected.set(this.chats.value[0]?.session ?? null);
  }

  offerRequest(session: string): void {
    const chat = this.chat(session);
    if (!chat || chat.ended || chat.request.state === "created") return;
    if (!this.send({ type: "offer_request", session }, { kind: "offer", session })) {
      this.patchChat(session, { request: { state: "failed", code: "connection" } });
      return;
    }
    this.patchChat(session, { request: { state: "sending" } });
  }

  // -- the socket -----------------------------------------------------------------------------

  private onLost(code: number): void {
    this.setTypingOff();
    this.taking.set(new Set());
    if (!this.running) return;
    if (code === CLOSE_REPLACED) {
      this.link.set("replaced");
      return;
    }
    if (this.socket.refused(code)) {
      this.link.set("unauthorized");
      return;
    }
    this.link.set("reconnecting");
    this.socket.retryLater();
  }

  /** Send a frame while online; a command waits for its answer (a ping follows it). */
  private send(frame: Record<string, unknown>, command: Command | null): boolean {
    if (this.link.value !== "online") return false;
    return this.socket.send(frame, command ?? undefined);
  }

  private sendPresence(): void {
    const wanted = this.wanted;
    if (!wanted) return;
    const frame =
      wanted.status === "available"
        ? { type: "available", capacity: wanted.capacity, auto: wanted.auto, teams: wanted.teams }
        : { type: "away" };
    if (!this.send(frame, { kind: "presence" }) && this.link.value === "online") this.problem.set("connection");
  }

  // -- frames from the server -----------------------------------------------------------------

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case "ready":
        this.socket.established();
        this.link.set("online");
        this.sendPresence();
        return;
      case "status":
        return this.onStatus(frame);
      case "queue":
        return this.onQueue(frame.entries);
      case "chat_assigned":
        return this.onAssigned(frame);
      case "message":
        return this.onMessage(str(frame.session), str(frame.text));
      case "typing":
        return this.onTyping(str(frame.session));
      case "user_left":
        return this.onEnded(str(frame.session), "user_left");
      case "chat_ended":
        this.answered("end", str(frame.session));
        return this.onEnded(str(frame.session), "specialist_ended");
      case "request_offered":
        this.answered("offer", str(frame.session));
        if (this.chat(str(frame.session))?.request.state !== "created") this.patchChat(str(frame.session), { request: { state: "offered" } });
        return;
      case "request_created": {
        const session = str(frame.session);
        const chat = this.chat(session);
        if (!chat) return;
        this.patchChat(session, { request: { state: "created", number: str(frame.number) } });
        this.announce("desk.announce.request", { number: str(frame.number), name: chat.name });
        return;
      }
      case "error":
        return this.onError(str(frame.code), str(frame.session));
      default:
        return;
    }
  }

  private onStatus(frame: Frame): void {
    const status = frame.status === "available" ? "available" : "away";
    // While away the server keeps the last capacity and mode it was given: what the specialist has
    // chosen since then is what the next "Online" sends, so that is what the controls show.
    const wanted = this.wanted;
    const served = typeof frame.capacity === "number" ? Math.min(MAX_CAPACITY, Math.max(MIN_CAPACITY, frame.capacity)) : this.presence.value.capacity;
    const capacity = wanted && status === "away" ? wanted.capacity : served;
    const auto = wanted && (status === "away" || typeof frame.auto !== "boolean") ? wanted.auto : typeof frame.auto === "boolean" ? frame.auto : this.presence.value.auto;
    const servedTeams = Array.isArray(frame.teams) ? frame.teams.filter((x): x is string => typeof x === "string") : null;
    const teams = wanted && (status === "away" || servedTeams === null) ? wanted.teams : (servedTeams ?? this.presence.value.teams);
    this.presence.set({ status, capacity, auto, teams });
    if (Array.isArray(frame.sessions)) {
      const held = new Set(frame.sessions.filter((s): s is string => typeof s === "string"));
      // Chats we had and the server no longer gives us: the grace period passed, the user is queued again.
      for (const chat of this.chats.value) if (!chat.ended && !held.has(chat.session)) this.onEnded(chat.session, "lost");
    }
  }

  private onQueue(raw: unknown): void {
    if (!Array.isArray(raw)) return;
    const entries: QueueEntry[] = [];
    for (const item of raw) {
      if (!item || typeof item !== "object") continue;
      const e = item as Record<string, unknown>;
      const session = str(e.session);
      if (!session) continue;
      entries.push({
        session,
        since: toEpochMs(e.waiting_since),
        accountId: str(e.account_id),
        name: str(e.name),
        question: str(e.question),
        position: typeof e.position === "number" ? e.position : entries.length + 1,
      });
    }
    entries.sort((a, b) => a.position - b.position);
    const fresh = entries.filter((e) => !this.seen.has(e.session));
    for (const e of entries) this.seen.add(e.session);
    const first = this.snapshots++ === 0;
    this.queue.set(entries);
    this.queueKnown.set(true);
    this.waitingCount.set(entries.length);
    const waiting = new Set(entries.map((e) => e.session));
    const taking = [...this.taking.value].filter((s) => waiting.has(s));
    if (taking.length !== this.taking.value.size) this.taking.set(new Set(taking));
    if (fresh.length && !first) {
      this.arrivals.set(this.arrivals.value + fresh.length);
      const one = fresh[0] as QueueEntry;
      this.announce("desk.announce.waiting", { count: entries.length, name: one.name || "—" });
    }
  }

  private onAssigned(frame: Frame): void {
    const session = str(frame.session);
    if (!session) return;
    this.answered("take", session);
    const wasTaking = this.taking.value.has(session);
    if (wasTaking) this.taking.set(new Set([...this.taking.value].filter((s) => s !== session)));
    this.queue.set(this.queue.value.filter((e) => e.session !== session));
    this.waitingCount.set(this.queue.value.length);
    const existing = this.chat(session);
    const card = {
      name: str(frame.name),
      phone: str(frame.phone),
      question: str(frame.question),
      accountId: str(frame.account_id),
    };
    if (existing) {
      // Given back after a reconnect: the lines we kept stay.
      this.patchChat(session, { ...card, ended: null });
      return;
    }
    const chat: DeskChat = { session, ...card, lines: [], unread: 0, userTyping: false, ended: null, request: { state: "idle" }, problem: null };
    this.chats.set([...this.chats.value, chat]);
    if (wasTaking || !this.selected.value) this.select(session);
    this.announce("desk.announce.assigned", { name: card.name || "—" });
  }

  private onMessage(session: string, text: string): void {
    const chat = this.chat(session);
    if (!chat || !text) return;
    this.clearTyping(session);
    const line: Line = { id: this.nextId++, from: "user", text, at: Date.now(), status: "sent" };
    const seen = this.watching.value && this.selected.value === session && !document.hidden;
    this.patchChat(session, { lines: [...chat.lines, line].slice(-MAX_LINES), userTyping: false, unread: seen ? 0 : chat.unread + 1 });
    if (this.selected.value !== session || !this.watching.value) this.announce("desk.announce.message", { name: chat.name || "—" });
  }

  private onTyping(session: string): void {
    const chat = this.chat(session);
    if (!chat || chat.ended) return;
    this.clearTyping(session);
    this.typingTimers.set(
      session,
      setTimeout(() => this.patchChat(session, { userTyping: false }), TYPING_SHOWN_MS),
    );
    if (!chat.userTyping) this.patchChat(session, { userTyping: true });
  }

  private onEnded(session: string, how: ChatEnd): void {
    const chat = this.chat(session);
    if (!chat) return;
    this.clearTyping(session);
    if (chat.ended === "user_left" || chat.ended === "specialist_ended") return;
    const lines = chat.lines.map((l) => (l.status === "sending" ? { ...l, status: "failed" as const } : l));
    this.patchChat(session, { ended: how, userTyping: false, lines, request: chat.request.state === "sending" ? { state: "idle" } : chat.request });
    if (how !== "specialist_ended") this.announce(`desk.announce.${how}`, { name: chat.name || "—" });
  }

  private onError(code: string, session: string): void {
    if (code === "unavailable") {
      this.socket.abandon(CLOSE_UNAVAILABLE);
      return;
    }
    const item = this.socket.rejected();
    if (!item) {
      this.problem.set(code || "error");
      return;
    }
    switch (item.kind) {
      case "message":
        this.setLine(item.session, item.id, "failed");
        this.patchChat(item.session, { problem: code });
        return;
      case "take":
        this.taking.set(new Set([...this.taking.value].filter((s) => s !== item.session)));
        this.problem.set(code);
        if (code === "already_taken" || code === "not_waiting") {
          this.queue.set(this.queue.value.filter((e) => e.session !== item.session));
          this.waitingCount.set(this.queue.value.length);
        }
        return;
      case "offer":
        this.patchChat(item.session, { request: { state: "failed", code } });
        return;
      case "end":
        if (code === "not_assigned") this.onEnded(item.session, "lost");
        else this.patchChat(item.session, { problem: code });
        return;
      case "presence":
        this.problem.set(code);
        return;
      default:
        this.problem.set(code || "error");
        void session;
    }
  }

  /** An answer came: every message sent before it got through; stop at the answered command. */
  private answered(kind: Command["kind"], session: string): void {
    this.socket.answered((c) => c.kind === kind && (!("session" in c) || c.session === session));
  }

  private failUnanswered(items: Command[]): void {
    for (const item of items) {
      if (item.kind === "message") this.setLine(item.session, item.id, "failed");
      if (item.kind === "offer" && this.chat(item.session)?.request.state === "sending") {
        this.patchChat(item.session, { request: { state: "failed", code: "connection" } });
      }
    }
  }

  // -- our lines ------------------------------------------------------------------------------

  private transmit(session: string, line: Line): void {
    if (!this.send({ type: "message", session, text: line.text }, { kind: "message", session, id: line.id })) {
      this.setLine(session, line.id, "failed");
    }
  }

  private setLine(session: string, id: number, status: LineStatus): void {
    const chat = this.chat(session);
    if (!chat) return;
    this.patchChat(session, { lines: chat.lines.map((l) => (l.id === id ? { ...l, status } : l)) });
  }

  private clearTyping(session: string): void {
    clearTimeout(this.typingTimers.get(session));
    this.typingTimers.delete(session);
  }

  private setTypingOff(): void {
    for (const timer of this.typingTimers.values()) clearTimeout(timer);
    this.typingTimers.clear();
    if (this.chats.value.some((c) => c.userTyping)) this.chats.set(this.chats.value.map((c) => ({ ...c, userTyping: false })));
  }

  private announce(key: string, params: Record<string, string | number>): void {
    this.announcement.set({ key, params, seq: ++this.announceSeq });
  }

  chat(session: string): DeskChat | undefined {
    return this.chats.value.find((c) => c.session === session);
  }

  private patchChat(session: string, change: Partial<DeskChat>): void {
    if (!this.chat(session)) return;
    this.chats.set(this.chats.value.map((c) => (c.session === session ? { ...c, ...change } : c)));
  }
}

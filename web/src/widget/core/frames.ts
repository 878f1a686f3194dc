/**
 * One chat WebSocket (`/api/v1/chat/user` or `/api/v1/chat/agent`, protocol in
 * services/chat/chat/entrypoints/ws.py) as both ends use it: an `auth` first frame with the token
 * from the TokenSource, JSON frames, ping/pong liveness, reconnecting with back-off, a fresh token
 * after `unauthorized`. What the frames mean stays with the owner, through the hooks.
 *
 * The server never acknowledges a frame, but it handles one connection's frames in order and answers
 * a bad one with an `error`. So a frame that needs an answer is followed by a `ping`: its `pong`
 * confirms everything sent before it, and an `error` belongs to the oldest frame still unanswered.
 */
import { Backoff, type Store } from "./store";
import type { TokenSource } from "./token";

export interface Frame {
  type?: unknown;
  [key: string]: unknown;
}

/** Something sent that waits for its answer; `C` is the owner's own kinds of frame. */
export type Unanswered<C> = C | { kind: "ping" };

export interface FrameSocketHooks<C extends { kind: string }> {
  /** The WebSocket address (see `socketUrl`). */
  url(): string;
  /** Whether a socket is wanted now: connecting and retrying stop when it is not. */
  wanted(): boolean;
  /** A frame from the server (`ready` after the token was accepted; never `pong`, nor an error the close follows). */
  onFrame(frame: Frame): void;
  /** The socket closed without our asking (or was dropped as dead): decide whether to `retryLater`. */
  onLost(code: number): void;
  /** An answer came: these were sent before it and got through. */
  onConfirmed(items: C[]): void;
  /** The socket is gone: these may not have arrived. */
  onUnanswered(items: C[]): void;
}

export interface FrameSocketOptions<C extends { kind: string }> extends FrameSocketHooks<C> {
  tokens: TokenSource;
  online: Store<boolean>;
}

const PING_EVERY_MS = 25_000;
/** No pong for this long: the socket is dead even if the browser has not noticed (create_request may
 * hold the server's answer for up to ~10 s while the request is written). */
const PONG_TIMEOUT_MS = 20_000;
const MAX_AUTH_RETRIES = 2;
const CLOSE_NORMAL = 1000;
const CLOSE_ABNORMAL = 1006;
export const CLOSE_UNAVAILABLE = 1013;
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;
/** Errors the server closes the socket after: the close decides. */
const CLOSE_FOLLOWS = new Set(["unauthorized", "forbidden", "internal_error"]);

/** `path` on the API's host, as a `ws:` or `wss:` address. */
export function socketUrl(base: string, path: string): string {
  const url = new URL(path, base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

export class FrameSocket<C extends { kind: string }> {
  private ws: WebSocket | null = null;
  private backoff = new Backoff(1000, 30_000);
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private unanswered: Unanswered<C>[] = [];
  private authRetries = 0;
  private freshToken = false;
  private attempt = 0;
  private readonly stopOnline: () => void;

  constructor(private readonly options: FrameSocketOptions<C>) {
    this.stopOnline = options.online.subscribe((online) => {
      if (this.ws) return;
      if (!online) {
        this.clearRetry(); // no point retrying offline; we try again the moment it is back
      } else if (options.wanted()) {
        this.backoff.reset();
        void this.connect();
      }
    });
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Open a socket unless one is there, the network is down or none is wanted. */
  async connect(): Promise<void> {
    this.clearRetry();
    const { options } = this;
    if (!options.wanted() || this.ws || !options.online.value) return;
    const attempt = ++this.attempt;
    let token: string;
    try {
      token = this.freshToken ? await options.tokens.refresh() : await options.tokens.get();
      this.freshToken = false;
    } catch {
      if (attempt === this.attempt) this.retryLater();
      return;
    }
    // Closed, no longer wanted or another attempt started while the token was on its way.
    if (attempt !== this.attempt || !options.wanted() || this.ws) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(options.url());
    } catch {
      this.retryLater();
      return;
    }
    this.ws = ws;
    this.unanswered = [];
    ws.onopen = () => {
      if (ws === this.ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "auth", token }));
    };
    ws.onmessage = (event: MessageEvent) => {
      if (ws !== this.ws || typeof event.data !== "string") return;
      let frame: Frame;
      try {
        frame = JSON.parse(event.data) as Frame;
      } catch {
        return;
      }
      if (frame && typeof frame === "object") this.onFrame(frame);
    };
    ws.onclose = (event: CloseEvent) => this.onClose(ws, event.code);
  }

  /** Connect as if for the first time: no back-off, no token refused yet. */
  connectAfresh(): void {
    this.backoff.reset();
    this.authRetries = 0;
    this.freshToken = false;
    void this.connect();
  }

  /** Close on purpose: no reconnect; what was unanswered fails. */
  close(): void {
    const ws = this.ws;
    this.clearRetry();
    this.drop();
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(CLOSE_NORMAL);
  }

  destroy(): void {
    this.close();
    this.stopOnline();
  }

  /** Drop a socket we no longer trust and go the way of an unexpected close (`onLost(code)`). */
  abandon(code: number): void {
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(CLOSE_NORMAL);
    this.onClose(ws, code);
  }

  /** The session is established: back-off starts over and pings keep the socket honest. */
  established(): void {
    this.backoff.reset();
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
  }

  /**
   * After a close: true when the server refused our token for good (forbidden, or unauthorized
   * again after fresh tokens); after an unauthorized the next attempt asks for a fresh token.
   */
  refused(code: number): boolean {
    if (code === CLOSE_FORBIDDEN) return true;
    if (code !== CLOSE_UNAUTHORIZED) return false;
    if (this.authRetries >= MAX_AUTH_RETRIES) return true;
    this.authRetries += 1;
    this.freshToken = true;
    return false;
  }

  /** Try again after the back-off (if still wanted and online). */
  retryLater(): void {
    this.clearRetry();
    if (!this.options.wanted() || !this.options.online.value) return;
    this.retryTimer = setTimeout(() => void this.connect(), this.backoff.next());
  }

  /**
   * Send a frame if the socket is open. With `awaiting` it waits for its answer: a `ping` follows,
   * unless the server answers it with a frame of its own that the owner passes to `answered`.
   */
  send(frame: Record<string, unknown>, awaiting?: C, { ping = true } = {}): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    if (awaiting) {
      this.unanswered.push(awaiting);
      if (ping) this.ping();
    }
    return true;
  }

  /** An answer came for the oldest unanswered frame that `match`es: it and all sent before it got through. */
  answered(match: (item: C) => boolean): void {
    this.settle(this.unanswered.findIndex((item) => item.kind !== "ping" && match(item as C)));
  }

  /** An `error` came: it answers the oldest frame still unanswered (undefined: none was). */
  rejected(): Unanswered<C> | undefined {
    return this.unanswered.shift();
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case "ready":
        this.authRetries = 0;
        break;
      case "pong":
        clearTimeout(this.pongTimer);
        this.pongTimer = undefined;
        this.settle(this.unanswered.findIndex((item) => item.kind === "ping"));
        return;
      case "error":
        if (CLOSE_FOLLOWS.has(String(frame.code ?? ""))) return;
        break;
    }
    this.options.onFrame(frame);
  }

  private onClose(ws: WebSocket, code: number): void {
    if (ws !== this.ws) return;
    this.drop();
    this.options.onLost(code);
  }

  /** Forget the socket: timers stopped, what was unanswered failed. */
  private drop(): void {
    this.ws = null;
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = this.pongTimer = undefined;
    const items = this.unanswered.filter((item): item is C => item.kind !== "ping");
    this.unanswered = [];
    if (items.length) this.options.onUnanswered(items);
  }

  private ping(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ type: "ping" }));
    this.unanswered.push({ kind: "ping" });
    this.pongTimer ??= setTimeout(() => {
      this.pongTimer = undefined;
      if (ws === this.ws) this.abandon(CLOSE_ABNORMAL);
    }, PONG_TIMEOUT_MS);
  }

  private settle(index: number): void {
    if (index < 0) return;
    const done = this.unanswered.splice(0, index + 1).filter((item): item is C => item.kind !== "ping");
    if (done.length) this.options.onConfirmed(done);
  }

  private clearRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}

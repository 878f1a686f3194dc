/**
 * Support's live feed of ticket events: `GET /api/v1/tickets/stream` (SSE) read with fetch(), since
 * EventSource cannot send the Authorization header. The `event:` / `id:` / `data:` lines are parsed
 * here; a reconnect sends `Last-Event-ID` so nothing in between is lost. A server without the stream
 * (404, or 405/422 from the ticket route) is polled instead: every listener is told to reload every
 * few seconds.
 */
import type { TokenSource } from "../../widget/core/token";
import type { Api } from "../../widget/core/api";
import { Backoff, Store } from "../../widget/core/store";

export interface TicketEvent {
  event_id?: string;
  type: string;
  ticket_id?: string;
  number?: string;
  account_id?: string;
  version?: number;
  occurred_at?: string;
  actor_kind?: string;
}

/** `live`: the stream is open; `polling`: no stream on this server; `connecting`: (re)connecting. */
export type LiveMode = "connecting" | "live" | "polling";

const POLL_MS = 5000;
const NO_STREAM = new Set([404, 405, 422]);

export class LiveTickets {
  readonly mode = new Store<LiveMode>("connecting");
  /** The newest version seen of each ticket, from events (and from lists that report one). */
  readonly versions = new Store<ReadonlyMap<string, number>>(new Map());
  private listeners = new Set<(event: TicketEvent | null) => void>();
  private controller = new AbortController();
  private lastId: string | null = null;

  constructor(
    private readonly api: Api,
    private readonly tokens: TokenSource,
  ) {}

  /** `listener(event)` for every ticket event; `listener(null)`: reload everything (a reconnect, a poll). */
  subscribe(listener: (event: TicketEvent | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  saw(ticketId: string, version: number): void {
    if ((this.versions.value.get(ticketId) ?? 0) >= version) return;
    const next = new Map(this.versions.value);
    next.set(ticketId, version);
    this.versions.set(next);
  }

  start(): void {
    void this.run(this.controller.signal);
  }

  stop(): void {
    this.controller.abort();
  }

  private emit(event: TicketEvent | null): void {
    if (event?.ticket_id && typeof event.version === "number") this.saw(event.ticket_id, event.version);
    for (const listener of [...this.listeners]) listener(event);
  }

  private async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(1000, 15_000);
    let refreshed = false;
    while (!signal.aborted) {
      try {
        const headers: Record<string, string> = { Accept: "text/event-stream", Authorization: `Bearer ${await this.tokens.get()}` };
        if (this.lastId) headers["Last-Event-ID"] = this.lastId;
        const response = await fetch(this.api.url("/api/v1/tickets/stream"), { headers, signal, cache: "no-store" });
        if (NO_STREAM.has(response.status)) {
          await response.body?.cancel();
          await this.poll(signal);
          return;
        }
        if (response.status === 401 && !refreshed) {
          refreshed = true;
          await this.tokens.refresh();
          continue;
        }
        if (!response.ok || !response.body) throw new Error(`stream ${response.status}`);
        refreshed = false;
        backoff.reset();
        this.mode.set("live");
        this.emit(null); // whatever happened while (re)connecting
        await this.read(response.body, signal);
      } catch {
        if (signal.aborted) return;
      }
      this.mode.set("connecting");
      await sleep(backoff.next(), signal);
    }
  }

  private async read(body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    signal.addEventListener("abort", () => void reader.cancel().catch(() => undefined));
    let buffer = "";
    let type = "";
    let data: string[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "") {
          if (data.length || type) this.dispatch(type || "message", data.join("\n"));
          type = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue; // a heartbeat comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") type = text;
        else if (field === "data") data.push(text);
        else if (field === "id" && !text.includes("\0")) this.lastId = text;
      }
    }
  }

  private dispatch(type: string, raw: string): void {
    if (!type.startsWith("ticket.")) {
      this.emit(null); // `reset` and anything unknown: reload
      return;
    }
    let parsed: Partial<TicketEvent> = {};
    try {
      parsed = JSON.parse(raw) as Partial<TicketEvent>;
    } catch {
      /* an event without its data still means: something changed */
    }
    this.emit({ ...parsed, type });
  }

  private async poll(signal: AbortSignal): Promise<void> {
    this.mode.set("polling");
    while (!signal.aborted) {
      await sleep(POLL_MS, signal);
      if (!signal.aborted && document.visibilityState !== "hidden") this.emit(null);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

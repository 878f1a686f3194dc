/**
 * Support's popups for this user: the active set, kept live over Server-Sent Events in every tab.
 * The stream resumes with Last-Event-ID after a drop (new stream token, back-off with jitter); a
 * `reset` from the server, or the first connection, reloads the active list.
 */
import type { Api } from "./api";
import { Backoff, Store } from "./store";

export type PopupStatus = "raised" | "delivered" | "snoozed" | "due" | "opened" | "deleted";

export interface Popup {
  popup_id: string;
  account_id: string;
  user_id: string | null;
  kind: "ticket_reply" | "message";
  status: PopupStatus;
  title: string;
  text: string;
  ticket_id: string | null;
  ticket_number: string | null;
  raised_at: string;
  snoozed_until: string | null;
  version: number;
}

export type Connection = "connecting" | "live" | "reconnecting" | "offline";

const ACTIVE: ReadonlySet<PopupStatus> = new Set(["raised", "delivered", "due"]);
const EVENT_TYPES = ["popup.raised", "popup.delivered", "popup.snoozed", "popup.due_again", "popup.opened", "popup.deleted"];

interface StreamToken {
  stream_path: string;
}

export function isActive(popup: Popup, now = Date.now()): boolean {
  if (ACTIVE.has(popup.status)) return true;
  return popup.status === "snoozed" && popup.snoozed_until !== null && Date.parse(popup.snoozed_until) <= now;
}

export class PopupCenter {
  /** Every popup seen, by id, at its newest version. */
  readonly all = new Store<ReadonlyMap<string, Popup>>(new Map());
  /** The ones to show now, oldest first. */
  readonly active = new Store<readonly Popup[]>([]);
  readonly connection = new Store<Connection>("connecting");

  private source: EventSource | null = null;
  private lastEventId: string | null = null;
  private backoff = new Backoff();
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private wakeTimer: ReturnType<typeof setTimeout> | undefined;
  private buffering: Popup[] | null = null;
  private stopped = false;

  constructor(private readonly api: Api) {
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
  }

  start(): void {
    this.stopped = false;
    if (!navigator.onLine) this.connection.set("offline");
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.source?.close();
    this.source = null;
    clearTimeout(this.retryTimer);
    clearTimeout(this.wakeTimer);
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
  }

  /** Apply a popup's newer state (from the stream, a list, or our own command's answer). */
  apply(popup: Popup): void {
    if (this.buffering) this.buffering.push(popup);
    const known = this.all.value.get(popup.popup_id);
    if (known && known.version >= popup.version) return;
    const next = new Map(this.all.value);
    next.set(popup.popup_id, popup);
    this.all.set(next);
    this.recompute();
  }

  async snooze(popup: Popup, until: Date): Promise<void> {
    this.apply(await this.api.post<Popup>(`/api/v1/popups/${popup.popup_id}/snooze`, { json: { until: until.toISOString() } }));
  }

  async open(popup: Popup): Promise<{ ticket_id: string | null; ticket_number: string | null } | null> {
    const answer = await this.api.post<{ popup: Popup; navigate_to: { ticket_id: string | null; ticket_number: string | null } | null }>(
      `/api/v1/popups/${popup.popup_id}/open`,
    );
    this.apply(answer.popup);
    return answer.navigate_to;
  }

  async remove(popup: Popup): Promise<void> {
    this.apply(await this.api.post<Popup>(`/api/v1/popups/${popup.popup_id}/delete`));
  }

  async delivered(popup: Popup): Promise<void> {
    if (popup.status !== "raised") return;
    this.apply(await this.api.post<Popup>(`/api/v1/popups/${popup.popup_id}/delivered`));
  }

  private recompute(): void {
    const now = Date.now();
    const items = [...this.all.value.values()];
    this.active.set(items.filter((p) => isActive(p, now)).sort((a, b) => a.raised_at.localeCompare(b.raised_at)));
    // A snoozed popup comes back by itself when its time comes, even if the tab missed the event.
    clearTimeout(this.wakeTimer);
    const next = items
      .filter((p) => p.status === "snoozed" && p.snoozed_until && Date.parse(p.snoozed_until) > now)
      .map((p) => Date.parse(p.snoozed_until as string))
      .sort((a, b) => a - b)[0];
    if (next !== undefined) this.wakeTimer = setTimeout(() => this.recompute(), Math.min(next - now + 50, 2 ** 31 - 1));
  }

  private async reload(): Promise<void> {
    this.buffering = [];
    try {
      const list = await this.api.get<{ items: Popup[] }>("/api/v1/popups");
      const buffered = this.buffering;
      this.buffering = null;
      const next = new Map<string, Popup>();
      for (const [id, popup] of this.all.value) if (!isActive(popup)) next.set(id, popup);
      for (const popup of list.items) next.set(popup.popup_id, popup);
      for (const popup of buffered) {
        const known = next.get(popup.popup_id);
        if (!known || known.version < popup.version) next.set(popup.popup_id, popup);
      }
      this.all.set(next);
      this.recompute();
    } finally {
      this.buffering = null;
    }
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.source?.close();
    let path: string;
    try {
      path = (await this.api.post<StreamToken>("/api/v1/popups/stream-token")).stream_path;
    } catch {
      this.retry();
      return;
    }
    if (this.stopped) return;
    const url = new URL(path, this.api.base);
    if (this.lastEventId) url.searchParams.set("last_event_id", this.lastEventId);
    const source = new EventSource(url.toString());
    this.source = source;
    const resumed = this.lastEventId !== null;
    source.addEventListener("ready", (event) => {
      this.lastEventId = (event as MessageEvent).lastEventId || this.lastEventId;
      this.backoff.reset();
      this.connection.set("live");
      if (!resumed) void this.reload().catch(() => undefined);
    });
    source.addEventListener("reset", (event) => {
      this.lastEventId = (event as MessageEvent).lastEventId || this.lastEventId;
      void this.reload().catch(() => undefined);
    });
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (event) => {
        const message = event as MessageEvent<string>;
        if (message.lastEventId) this.lastEventId = message.lastEventId;
        try {
          const envelope = JSON.parse(message.data) as { data?: { popup?: Popup } };
          if (envelope.data?.popup) this.apply(envelope.data.popup);
        } catch {
          /* a malformed event is skipped; the next reload corrects the list */
        }
      });
    }
    source.onerror = () => {
      // The browser's own retry would reuse an expired stream token: close and reconnect ourselves.
      source.close();
      if (this.source === source) this.retry();
    };
  }

  private retry(): void {
    if (this.stopped) return;
    this.connection.set(navigator.onLine ? "reconnecting" : "offline");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), this.backoff.next());
  }

  private onOnline = (): void => {
    this.backoff.reset();
    this.connection.set("reconnecting");
    void this.connect();
  };

  private onOffline = (): void => {
    this.connection.set("offline");
  };
}

/** One entry of a request's timeline as GET /api/v1/tickets/{id} gives it (services/tickets/tickets/entrypoints/http_history.py TimelineItem), for the widget's history and the console alike. */
export interface TimelineItem {
  event_id: string;
  version: number;
  type: string;
  occurred_at: string;
  actor: { kind: string; id: string; name: string };
  /** Internal notes: shown to support only. */
  internal: boolean;
  data: Record<string, unknown>;
}

/** A field of `data` as text ("" when absent or not a string). */
export const str = (value: unknown): string => (typeof value === "string" ? value : "");

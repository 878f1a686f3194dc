/**
 * The tickets API as the support console reads and changes it: types, the inbox's filters as a
 * query, the lifecycle table for when the server does not say, and support's changes with If-Match.
 */
import type { Api, Query } from "../../widget/core/api";
import type { TimelineItem } from "../../widget/core/timeline";

export const STATUSES = ["new", "in_progress", "waiting_for_user", "resolved", "closed"] as const;
export const IMPORTANCES = ["low", "normal", "high", "critical"] as const;
export const PRIORITIES = ["p1", "p2", "p3", "p4"] as const;
export type Status = (typeof STATUSES)[number];

/** services/tickets/tickets/domain/values.py ALLOWED_TRANSITIONS, for a server that sends no `allowed_statuses`. */
const TRANSITIONS: Record<Status, readonly Status[]> = {
  new: ["in_progress", "waiting_for_user", "resolved", "closed"],
  in_progress: ["waiting_for_user", "resolved", "closed"],
  waiting_for_user: ["in_progress", "resolved", "closed"],
  resolved: ["in_progress", "closed"],
  closed: [],
};

export interface TicketSummary {
  ticket_id: string;
  number: string;
  account_id: string;
  topic: string;
  status: Status;
  importance: string;
  comment: string;
  created_at: string;
  updated_at: string;
  version: number;
  priority?: string | null;
  assignee?: { id: string; name?: string | null } | null;
}

export interface TicketDetail extends TicketSummary {
  allowed_statuses?: Status[];
  timeline: TimelineItem[];
}

export interface TicketPage {
  items: TicketSummary[];
  next_cursor: string | null;
}

export interface Counts {
  by_status: Record<Status, number>;
  total: number;
}

export interface Accepted {
  id: string;
  number: string;
  version: number;
}

export function allowedStatuses(ticket: TicketDetail): Status[] {
  return ticket.allowed_statuses ?? [...TRANSITIONS[ticket.status]];
}

export type AssigneeFilter = "" | "me" | "unassigned" | "someone";

export interface Filters {
  status: Status | "";
  topic: string;
  account: string;
  assignee: AssigneeFilter;
  assigneeId: string;
  importance: string;
  priority: string;
  /** "": newest update first; "due": earliest first-answer due first (support's promise). */
  sort?: "" | "due";
}

export const NO_FILTERS: Filters = { status: "", topic: "", account: "", assignee: "", assigneeId: "", importance: "", priority: "", sort: "" };

/** The list's query for `filters` (the counts take the same without `status`). */
export function filterQuery(filters: Filters, me: string, withStatus = true): Query {
  const assignee = filters.assignee === "me" ? me : filters.assignee === "someone" ? filters.assigneeId.trim() : "";
  return {
    status: withStatus && filters.status ? [filters.status] : undefined,
    topic: filters.topic ? [filters.topic] : undefined,
    account_id: filters.account.trim(),
    assignee,
    unassigned: filters.assignee === "unassigned" ? true : undefined,
    importance: filters.importance ? [filters.importance] : undefined,
    priority: filters.priority ? [filters.priority] : undefined,
    sort: withStatus && filters.sort === "due" ? "due" : undefined,
  };
}

export const ticketPath = (id: string, rest = ""): string => `/api/v1/tickets/${encodeURIComponent(id)}${rest}`;

export type Change =
  | { kind: "status"; status: Status; reason?: string }
  | { kind: "topic"; topic: string }
  | { kind: "priority"; priority: string }
  | { kind: "assignee"; toSelf: boolean }
  | { kind: "note"; text: string };

/** One of support's changes, based on `version` — the one the specialist saw (a stale one is a 412). */
export function sendChange(api: Api, ticketId: string, version: number, change: Change): Promise<Accepted> {
  const headers = { "If-Match": `"${version}"` };
  switch (change.kind) {
    case "status":
      return api.post(ticketPath(ticketId, "/status"), { headers, json: { status: change.status, reason: change.reason || undefined } });
    case "topic":
      return api.post(ticketPath(ticketId, "/topic"), { headers, json: { topic: change.topic } });
    case "priority":
      return api.post(ticketPath(ticketId, "/priority"), { headers, json: { priority: change.priority } });
    case "assignee":
      return api.post(ticketPath(ticketId, "/assignee"), { headers, json: change.toSelf ? { to_self: true } : {} });
    case "note":
      return api.post(ticketPath(ticketId, "/notes"), { headers, json: { text: change.text } });
  }
}

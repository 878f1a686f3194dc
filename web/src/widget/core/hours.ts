/**
 * Support's contacts and hours as the server computes them (`GET /api/v1/support/directory`, no token
 * needed) and one way to show a moment: in the user's own zone and in Moscow time, through `Intl`.
 */
import type { Api } from "./api";
import { userTimeZone } from "./i18n";

export const MOSCOW = "Europe/Moscow";

export interface Moment {
  utc: string;
  moscow: string;
  local: string;
}

export interface TopicHours {
  id: string;
  name: string;
  team: string;
  email: string;
  always_open: boolean;
  open_now: boolean;
  opens_at: Moment | null;
  closes_at: Moment | null;
}

export interface SupportDirectory {
  version: number;
  time_zone: string;
  topics: TopicHours[];
  phones: { country: string; number: string; note: string }[];
  emails: { email: string; subject: string }[];
}

export function loadDirectory(api: Api, lang: string, signal?: AbortSignal): Promise<SupportDirectory> {
  const query = new URLSearchParams({ lang, tz: userTimeZone() });
  return api.get<SupportDirectory>(`/api/v1/support/directory?${query}`, { signal });
}

/** "Mon, 30 Mar, 08:00" in `timeZone` (the user's own when not given). */
export function formatMoment(lang: string, iso: string, timeZone?: string): string {
  return new Intl.DateTimeFormat(lang, {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    timeZone: timeZone ?? userTimeZone(),
  }).format(new Date(iso));
}

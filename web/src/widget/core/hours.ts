/**
 * Support's contacts and hours as the server computes them (`GET /api/v1/support/directory`, no token
 * needed) and one way to show a moment: in the user's own zone and, when its clock shows another time,
 * in the zone of the topic's schedule too, named in the user's language by `Intl`.
 */
import type { Api } from "./api";
import { userTimeZone, type Translate } from "./i18n";

export interface Moment {
  utc: string;
  local: string;
}

export interface TopicHours {
  id: string;
  name: string;
  team: string;
  email: string;
  calendar: string;
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
  directory: { calendars: { id: string; time_zone: string }[] };
}

export function loadDirectory(api: Api, lang: string, signal?: AbortSignal): Promise<SupportDirectory> {
  const query = new URLSearchParams({ lang, tz: userTimeZone() });
  return api.get<SupportDirectory>(`/api/v1/support/directory?${query}`, { signal });
}

/** The IANA zone of the schedule `topic` (an id) is answered by, if the directory has it. */
export function scheduleZone(data: SupportDirectory, topic: string): string | undefined {
  const calendar = data.topics.find((t) => t.id === topic)?.calendar;
  return data.directory.calendars.find((c) => c.id === calendar)?.time_zone;
}

const MOMENT: Intl.DateTimeFormatOptions = {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
};

/** "Mon, 30 Mar, 08:00" in `timeZone` (the user's own when not given). */
export function formatMoment(lang: string, iso: string, timeZone?: string): string {
  return new Intl.DateTimeFormat(lang, { ...MOMENT, timeZone: timeZone ?? userTimeZone() }).format(new Date(iso));
}

/** "08:00" in `timeZone` (the user's own when not given). */
function formatTime(lang: string, iso: string, timeZone?: string): string {
  const time: Intl.DateTimeFormatOptions = { hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(lang, { ...time, timeZone: timeZone ?? userTimeZone() }).format(new Date(iso));
}

/** The calendar day ("2026-03-30") `at` falls on in `timeZone` (the user's own when not given). */
function calendarDay(at: Date, timeZone?: string): string {
  const day: Intl.DateTimeFormatOptions = { year: "numeric", month: "2-digit", day: "2-digit" };
  return new Intl.DateTimeFormat("en-CA", { ...day, timeZone: timeZone ?? userTimeZone() }).format(at);
}

/** The zone's name in `lang` ("Eastern European Time", "за східноєвропейським часом"), from `Intl`. */
export function zoneName(lang: string, timeZone: string, at: Date = new Date()): string {
  const parts = new Intl.DateTimeFormat(lang, { timeZone, timeZoneName: "longGeneric" }).formatToParts(at);
  return parts.find((p) => p.type === "timeZoneName")?.value ?? timeZone;
}

/** The text `key` of a moment: `{local}`, the user's time; when the schedule's zone (`scheduleTz`)
 * shows another wall time, the text `key.zone` with `{there}`, the schedule's time, and `{zone}`, its
 * zone's name. A day is said once: not at all when the moment is today in the user's zone ("until
 * 17:00"), and not again for the schedule's time when it falls on the same day there ("Tue, 8 Dec,
 * 08:00 (your time), 09:00 (Eastern European Time)"). */
export function sayWhen(t: Translate, key: string, lang: string, iso: string, scheduleTz?: string, now: Date = new Date()): string {
  const at = new Date(iso);
  const today = calendarDay(at) === calendarDay(now);
  const local = today ? formatTime(lang, iso) : formatMoment(lang, iso);
  if (!scheduleTz || formatTime(lang, iso, scheduleTz) === formatTime(lang, iso)) return t(key, { local });
  const sameDay = calendarDay(at, scheduleTz) === calendarDay(at);
  const there = sameDay ? formatTime(lang, iso, scheduleTz) : formatMoment(lang, iso, scheduleTz);
  return t(`${key}.zone`, { local, there, zone: zoneName(lang, scheduleTz, at) });
}

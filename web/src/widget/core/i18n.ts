/**
 * One message catalogue per language (uk, ru, en, pl), split by part of the widget so each chunk
 * carries its own strings. Placeholders are `{name}`; plural forms are `key.one|few|many|other`,
 * chosen by Intl.PluralRules. Dates, times and numbers go through Intl, never by hand.
 */
export const LANGS = ["uk", "ru", "en", "pl"] as const;
export type Lang = (typeof LANGS)[number];
export type Messages = Record<string, string>;
export type Catalog = Record<Lang, Messages>;

const registry: Catalog = { uk: {}, ru: {}, en: {}, pl: {} };

export function register(catalog: Catalog): void {
  for (const lang of LANGS) Object.assign(registry[lang], catalog[lang]);
}

/** `uk-UA`, `UK`, `ua` → `uk`; anything else that is not ours → null. */
export function normalise(tag: string | null | undefined): Lang | null {
  const base = (tag ?? "").trim().toLowerCase().split(/[-_]/)[0] ?? "";
  if (base === "ua") return "uk";
  return (LANGS as readonly string[]).includes(base) ? (base as Lang) : null;
}

export type Params = Record<string, string | number>;

export function translate(lang: Lang, key: string, params: Params = {}): string {
  let text = registry[lang][key] ?? registry.en[key] ?? key;
  if (typeof params.count === "number") {
    const form = new Intl.PluralRules(lang).select(params.count);
    text = registry[lang][`${key}.${form}`] ?? registry[lang][`${key}.other`] ?? registry.en[`${key}.${form}`] ?? text;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    if (value === undefined) return whole;
    return typeof value === "number" ? new Intl.NumberFormat(lang).format(value) : value;
  });
}

export type Translate = (key: string, params?: Params) => string;

export function translator(lang: Lang): Translate {
  return (key, params) => translate(lang, key, params);
}

export function userTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function formatDateTime(lang: Lang, iso: string | Date): string {
  const date = typeof iso === "string" ? new Date(iso) : iso;
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

export function formatDate(lang: Lang, iso: string | Date): string {
  const date = typeof iso === "string" ? new Date(iso) : iso;
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium" }).format(date);
}

/** "69 bytes", "1.5 kB": whole bytes are spelled out (the short form has no plural: "69 byte"). */
export function formatBytes(lang: Lang, bytes: number): string {
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return new Intl.NumberFormat(lang, {
    style: "unit",
    unit: units[unit],
    unitDisplay: unit === 0 ? "long" : "short",
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(value);
}

/** A day in the user's own time zone as `YYYY-MM-DD` (what the date filters send, with `tz`). */
export function localDay(date: Date, timeZone = userTimeZone()): string {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
    .formatToParts(date)
    .reduce<Record<string, string>>((acc, part) => ({ ...acc, [part.type]: part.value }), {});
  return `${parts.year}-${parts.month}-${parts.day}`;
}

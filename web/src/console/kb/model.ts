/** The knowledge-base API's shapes as the editor uses them, and its 422 details mapped to fields. */
import { ApiError, type Api } from "../../widget/core/api";
import type { Lang, Translate } from "../../widget/core/i18n";
import type { KbArticle, Variant } from "../../widget/core/kb";

/** The languages an article may be written in (shared/contracts/kb.py). */
export const KB_LANGS: readonly Lang[] = ["uk", "ru", "en", "pl"];
/** Each language named in itself (marked with `lang` wherever it is shown). */
export const LANG_NAMES: Record<string, string> = { uk: "Українська", ru: "Русский", en: "English", pl: "Polski" };

export interface Article extends KbArticle {
  slug: string;
  tags: string[];
  translations: string[];
  version: number;
  feedback: { helpful: number; not_helpful: number };
}

export interface Summary {
  id: string;
  lang: string;
  section: string;
  title: string;
  variants: Variant[];
}

export interface Hit extends Summary {
  title_highlighted: string;
  snippet: string;
}

export interface Written {
  id: string;
  version: number;
  changed: boolean;
  indexed: boolean;
}

/** What the editor's form holds: lists as the text the editor typed. */
export interface Draft extends Pick<Article, "id" | "lang" | "section" | "title" | "body" | "slug" | "url"> {
  tags: string;
  translations: string;
}

export const FIELDS = ["id", "lang", "section", "title", "body", "url", "tags", "translations"] as const;
export type Field = (typeof FIELDS)[number];
export type FieldErrors = Partial<Record<Field | "form", string>>;

export function path(id: string): string {
  return `/api/v1/kb/articles/${encodeURIComponent(id)}`;
}

export function loadArticle(api: Api, id: string, signal?: AbortSignal): Promise<Article> {
  return api.get<Article>(path(id), { signal });
}

export function emptyDraft(lang: string): Draft {
  return { id: "", lang, section: "bookings", title: "", body: "", slug: "", url: "", tags: "", translations: "" };
}

export function draftOf(article: Article): Draft {
  return {
    id: article.id,
    lang: article.lang,
    section: article.section,
    title: article.title,
    body: article.body,
    slug: article.slug,
    url: article.url,
    tags: article.tags.join(", "),
    translations: article.translations.join("\n"),
  };
}

/** A new language version of `source`: same section, linked to the whole group, first missing language. */
export function translationDraft(source: Article, lang?: string): Draft {
  const taken = new Set([source.lang, ...source.variants.map((v) => v.lang)]);
  const free = lang ?? KB_LANGS.find((l) => !taken.has(l)) ?? "en";
  const group = [source.id, ...source.variants.map((v) => v.id)];
  return { ...emptyDraft(free), section: source.section, tags: source.tags.join(", "), translations: group.join("\n") };
}

function list(text: string, separator: RegExp): string[] {
  return text
    .split(separator)
    .map((item) => item.trim())
    .filter(Boolean);
}

/** The PUT body (ArticleUpdateIn); POST adds the id. */
export function payload(draft: Draft): Record<string, unknown> {
  return {
    lang: draft.lang,
    section: draft.section,
    title: draft.title,
    body: draft.body,
    slug: draft.slug,
    url: draft.url.trim(),
    tags: list(draft.tags, /,/),
    translations: list(draft.translations, /\n/),
  };
}

/** The service's limits (shared/contracts/kb.py, kb_search.domain.article), checked before a save. */
export const LIMITS = { id: 500, title: 300, body: 200_000, url: 2000, tags: 50, translations: 20 } as const;

interface Detail {
  loc?: (string | number)[];
  msg?: string;
  type?: string;
}

/** A problem the service names (pydantic's type and message, or the article rule's wording) in the
 * console's language; what it does not recognise is said in general words, never in English. */
function message(t: Translate, msg: string, type: string): string {
  if (type === "missing" || type === "string_too_short" || /required|must not be empty/.test(msg)) return t("kb.error.required");
  if (type === "enum" || type === "literal_error" || /is not one of/.test(msg)) return t("kb.error.choice");
  if (type === "unknown_section" || /no live section|no such section/.test(msg)) return t("kb.error.section");
  const long = /(?:longer than|at most) (\d+) character/i.exec(msg);
  if (long) return t("kb.error.long", { max: Number(long[1]) });
  const many = /(?:more than|at most) (\d+) item/i.exec(msg);
  if (many) return t("kb.error.many", { max: Number(many[1]) });
  if (/http or https/.test(msg)) return t("kb.error.url");
  if (/control character|spaces/.test(msg)) return t("kb.error.characters");
  return t("kb.error.invalid");
}

/**
 * A 422's details on the fields they name: pydantic's (`loc: ["body", "title"]`, a list item's
 * `["body", "tags", 3]`) and the article rules' (`loc: ["body", "url"]`, or `loc: ["body"]` with
 * `msg: "title: must not be empty"`). Anything else goes to `form`.
 */
export function fieldErrors(t: Translate, error: ApiError): FieldErrors {
  const out: FieldErrors = {};
  const details = Array.isArray(error.details) ? (error.details as Detail[]) : [];
  for (const detail of details) {
    const loc = detail.loc ?? [];
    let msg = detail.msg ?? "";
    let field = loc[0] === "body" && typeof loc[1] === "string" ? loc[1] : "";
    const prefixed = /^(\w+):\s*(.*)$/.exec(msg);
    if (!field && prefixed) {
      field = prefixed[1] ?? "";
      msg = prefixed[2] ?? msg;
    }
    const text = message(t, msg, detail.type ?? "");
    if ((FIELDS as readonly string[]).includes(field)) out[field as Field] ??= text;
    else out.form = out.form ? `${out.form} ${text}` : text;
  }
  if (!details.length) out.form = error.message;
  return out;
}

function count(text: string, separator: RegExp): number {
  return list(text, separator).length;
}

/** What can be told before asking the service: required fields and lengths (the id only when
 * creating: an edit keeps it). Empty when the draft may be sent. */
export function checkDraft(t: Translate, draft: Draft, creating: boolean): FieldErrors {
  const out: FieldErrors = {};
  const long = (name: "id" | "title" | "body" | "url"): void => {
    if (draft[name].trim().length > LIMITS[name]) out[name] = t("kb.error.long", { max: LIMITS[name] });
  };
  if (creating && !draft.id.trim()) out.id = t("kb.error.required");
  if (creating) long("id");
  if (!draft.title.trim()) out.title = t("kb.error.required");
  long("title");
  long("body");
  long("url");
  if (count(draft.tags, /,/) > LIMITS.tags) out.tags = t("kb.error.many", { max: LIMITS.tags });
  if (count(draft.translations, /\n/) > LIMITS.translations) {
    out.translations = t("kb.error.many", { max: LIMITS.translations });
  }
  return out;
}

export function isConflict(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 412 || error.status === 409);
}

/** Where the editor is inside the Knowledge base view. */
export type Page =
  | { kind: "list" }
  | { kind: "article"; id: string }
  | { kind: "edit"; id: string }
  | { kind: "new"; draft?: Draft; of?: string }
  | { kind: "versions"; id: string };

/** Go to a page, optionally with a notice (what just happened) shown on arrival. */
export type Go = (page: Page, notice?: string) => void;

/** The list's search and filters, kept while an article is open. */
export interface ListState {
  query: string;
  section: string;
  lang: string;
}

/** Small pieces every section uses: error notices, server highlights, status and topic labels. */
import type { ComponentChildren, JSX } from "preact";
import { ApiError } from "../core/api";
import { LANGS, type Lang, type Translate } from "../core/i18n";
import { useT } from "./hooks";

const ENTITIES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };

function decode(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (entity) => ENTITIES[entity] ?? entity);
}

/**
 * The server's highlight markup (HTML-escaped text with <mark> around matches) rendered without
 * innerHTML: only <mark> becomes an element, everything else stays text.
 */
export function Highlighted({ html }: { html: string }): JSX.Element {
  const parts = html.split(/(<mark>|<\/mark>)/);
  const out: ComponentChildren[] = [];
  let marked = false;
  parts.forEach((part, index) => {
    if (part === "<mark>") marked = true;
    else if (part === "</mark>") marked = false;
    else if (part) out.push(marked ? <mark key={index}>{decode(part)}</mark> : decode(part));
  });
  return <>{out}</>;
}

/** What went wrong, in the user's language, for any error a call can throw. */
export function errorText(t: Translate, error: unknown): string {
  if (error instanceof ApiError) {
    if (error.network) return t("error.network");
    const known = `error.${error.status}`;
    const text = t(known);
    return text === known ? t("error.generic") : text;
  }
  return t("error.generic");
}

export function ErrorNotice({ error, onRetry }: { error: unknown; onRetry?: () => void }): JSX.Element | null {
  const { t } = useT();
  if (!error) return null;
  return (
    <div class="notice error" role="alert">
      <span>{errorText(t, error)}</span>
      {onRetry && (
        <button type="button" class="link" onClick={onRetry}>
          {t("common.retry")}
        </button>
      )}
    </div>
  );
}

export function Spinner({ label }: { label: string }): JSX.Element {
  return (
    <div class="spinner" role="status">
      <span class="dot" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

/** A topic's name: the support directory's (`name`, as the server sent it in the caller's language),
 * else the catalogue's, else the id. */
export function topicLabel(t: Translate, id: string, name?: string): string {
  if (name) return name;
  const key = `topic.${id}`;
  const text = t(key);
  return text === key ? id : text;
}

export function statusLabel(t: Translate, status: string): string {
  return t(`status.${status}`);
}

const LANGUAGE_NAMES: Record<Lang, string> = { uk: "Українська", ru: "Русский", en: "English", pl: "Polski" };

/** The language switch (each language named in itself), labelled for screen readers. */
export function LanguageSelect({ value, label, onChange }: { value: Lang; label: string; onChange: (lang: Lang) => void }): JSX.Element {
  return (
    <label class="lang">
      <span class="sr-only">{label}</span>
      <select value={value} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value as Lang)}>
        {LANGS.map((code) => (
          <option key={code} value={code} lang={code}>
            {LANGUAGE_NAMES[code]}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The ids a field's `aria-describedby` names: its hint and its error, where there are. */
export function describedBy(id: string, hint?: string, error?: string): string | undefined {
  return [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
}

/** A field's hint and error under the field, as `describedBy` names them. */
export function FieldNotes({ id, hint, error }: { id: string; hint?: string | undefined; error?: string | undefined }): JSX.Element {
  return (
    <>
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </>
  );
}

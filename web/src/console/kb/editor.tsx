/**
 * Create or edit one language version: the form, a live preview beside the Markdown, each refused
 * field's message under it (required fields and lengths checked before sending, the server's 422
 * details on the fields they name), and a clear conflict (412) when someone saved first.
 */
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../../widget/core/api";
import { Markdown } from "../../widget/panel/markdown";
import { ErrorNotice, FieldNotes, Spinner, describedBy } from "../../widget/panel/ui";
import { useConsole, useLatest, useT } from "../hooks";
import {
  KB_LANGS,
  LANG_NAMES,
  LIMITS,
  checkDraft,
  draftOf,
  emptyDraft,
  fieldErrors,
  isConflict,
  loadArticle,
  path,
  payload,
  type Draft,
  type Field,
  type FieldErrors,
  type Go,
  type Written,
} from "./model";
import { useSections } from "./sections";

interface FieldProps {
  name: Field;
  label: string;
  hint?: string;
  error?: string;
  children: (attrs: Record<string, unknown>) => ComponentChildren;
}

function FieldBox({ name, label, hint, error, children }: FieldProps): JSX.Element {
  const id = `kb-f-${name}`;
  return (
    <div class={`field kb-field-${name}`}>
      <label for={id}>{label}</label>
      {children({ id, name, "aria-invalid": error ? "true" : undefined, "aria-describedby": describedBy(id, hint, error) })}
      <FieldNotes id={id} hint={hint} error={error} />
    </div>
  );
}

interface FormProps {
  initial: Draft;
  /** The version loaded for editing (sent as If-Match); none when creating. */
  version?: number;
  heading: string;
  go: Go;
  onCancel: () => void;
  onReload?: () => void;
}

function ArticleForm({ initial, version, heading, go, onCancel, onReload }: FormProps): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const editing = version !== undefined;
  const [draft, setDraft] = useState(initial);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [conflict, setConflict] = useState(false);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  const sections = useSections();

  useEffect(() => {
    const target = form.current?.querySelector<HTMLElement>('[aria-invalid="true"], .kb-alert');
    target?.focus();
  }, [errors, conflict]);

  const set =
    (name: keyof Draft) =>
    (e: Event): void => {
      const value = (e.currentTarget as HTMLInputElement).value;
      setDraft((d) => ({ ...d, [name]: value }));
      if (name in errors) setErrors((old) => ({ ...old, [name]: undefined }));
    };

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (busy) return;
    setConflict(false);
    setFailure(null);
    const refused = checkDraft(t, draft, !editing);
    if (Object.keys(refused).length) {
      setErrors({ ...refused, form: t("kb.error.form") });
      return;
    }
    setBusy(true);
    setErrors({});
    try {
      const written = editing
        ? await ctx.api.send<Written>("PUT", path(initial.id), { json: payload(draft), headers: { "If-Match": String(version) } })
        : await ctx.api.post<Written>("/api/v1/kb/articles", { json: { id: draft.id.trim(), ...payload(draft) } });
      const params = { title: draft.title.trim(), version: written.version };
      const notice = !written.changed ? t("kb.saved.unchanged") : editing ? t("kb.saved.updated", params) : t("kb.saved.created", params);
      go({ kind: "article", id: written.id }, notice);
    } catch (error) {
      setBusy(false);
      if (error instanceof ApiError && error.status === 422) {
        const found = fieldErrors(t, error);
        setErrors({ ...found, form: found.form ? `${t("kb.error.form")} ${found.form}` : t("kb.error.form") });
      } else if (editing && isConflict(error)) setConflict(true);
      else if (!editing && error instanceof ApiError && error.status === 409) setErrors({ id: t("kb.error.exists") });
      else setFailure(error);
    }
  };

  const input = (name: "id" | "title" | "url" | "tags", extra: Record<string, unknown> = {}) =>
    (attrs: Record<string, unknown>) => <input type="text" value={draft[name]} onInput={set(name)} {...attrs} {...extra} />;

  return (
    <form ref={form} class="kb-editor" aria-labelledby="kb-page-title" noValidate onSubmit={(e) => void submit(e)}>
      <h2 id="kb-page-title" tabIndex={-1}>
        {heading}
      </h2>
      {conflict && (
        <div class="notice error kb-alert" role="alert" tabIndex={-1}>
          <span>{t("kb.conflict")}</span>
          {onReload && (
            <button type="button" class="button secondary small" onClick={onReload}>
              {t("kb.conflict.reload")}
            </button>
          )}
        </div>
      )}
      {errors.form && (
        <div class="notice error" role="alert">
          {errors.form}
        </div>
      )}
      <ErrorNotice error={failure} />
      <div class="kb-grid">
        <FieldBox name="id" label={t("kb.field.id")} hint={t("kb.field.id.hint")} error={errors.id}>
          {input("id", { readOnly: editing, "aria-required": "true", spellcheck: false, autoComplete: "off", inputMode: "url" })}
        </FieldBox>
        <FieldBox name="lang" label={t("kb.field.lang")} error={errors.lang}>
          {(attrs) => (
            <select value={draft.lang} onChange={set("lang")} {...attrs}>
              {KB_LANGS.map((lang) => (
                <option key={lang} value={lang} lang={lang}>
                  {LANG_NAMES[lang]}
                </option>
              ))}
            </select>
          )}
        </FieldBox>
        <FieldBox name="section" label={t("kb.field.section")} error={errors.section}>
          {(attrs) => (
            <select value={draft.section} onChange={set("section")} {...attrs}>
              {sections.live.map(({ section }) => (
                <option key={section} value={section}>
                  {sections.name(section)}
                </option>
              ))}
              {!sections.live.some((s) => s.section === draft.section) && <option value={draft.section}>{sections.name(draft.section)}</option>}
            </select>
          )}
        </FieldBox>
        <FieldBox name="title" label={t("kb.field.title")} error={errors.title}>
          {input("title", { "aria-required": "true", maxLength: LIMITS.title, lang: draft.lang })}
        </FieldBox>
        <FieldBox name="tags" label={t("kb.field.tags")} hint={t("kb.field.tags.hint")} error={errors.tags}>
          {input("tags", { lang: draft.lang })}
        </FieldBox>
        <FieldBox name="url" label={t("kb.field.url")} error={errors.url}>
          {input("url", { inputMode: "url", spellcheck: false })}
        </FieldBox>
        <FieldBox name="translations" label={t("kb.field.translations")} hint={t("kb.field.translations.hint")} error={errors.translations}>
          {(attrs) => <textarea rows={2} spellcheck={false} value={draft.translations} onInput={set("translations")} {...attrs} />}
        </FieldBox>
      </div>
      <div class="kb-split">
        <FieldBox name="body" label={t("kb.field.body")} hint={t("kb.field.body.hint")} error={errors.body}>
          {(attrs) => <textarea rows={18} lang={draft.lang} value={draft.body} onInput={set("body")} {...attrs} />}
        </FieldBox>
        <section class="kb-preview" aria-labelledby="kb-preview-title">
          <h3 id="kb-preview-title">{t("kb.preview")}</h3>
          <div class="card" lang={draft.lang}>
            {draft.title.trim() && <p class="kb-preview-title">{draft.title}</p>}
            {draft.body.trim() ? <Markdown source={draft.body} /> : <p class="hint">{t("kb.preview.empty")}</p>}
          </div>
        </section>
      </div>
      <div class="row">
        <button type="submit" class="button" disabled={busy}>
          {busy ? t("kb.saving") : editing ? t("kb.save") : t("kb.publish")}
        </button>
        <button type="button" class="button secondary" onClick={onCancel}>
          {t("kb.cancel")}
        </button>
      </div>
    </form>
  );
}

export function NewArticle({ draft, of, go }: { draft?: Draft; of?: string; go: Go }): JSX.Element {
  const { t, lang } = useT();
  const heading = of ? t("kb.editor.translation", { title: of }) : t("kb.editor.new");
  return <ArticleForm initial={draft ?? emptyDraft(lang)} heading={heading} go={go} onCancel={() => go({ kind: "list" })} />;
}

export function EditArticle({ id, go }: { id: string; go: Go }): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const { data, error, loading, reload } = useLatest(id, (signal) => loadArticle(ctx.api, id, signal));
  if (error) return <ErrorNotice error={error} onRetry={reload} />;
  if (!data || loading) return <Spinner label={t("common.loading")} />;
  return (
    <ArticleForm
      key={`${data.id}@${data.version}`}
      initial={draftOf(data)}
      version={data.version}
      heading={t("kb.editor.edit", { title: data.title })}
      go={go}
      onCancel={() => go({ kind: "article", id: data.id })}
      onReload={reload}
    />
  );
}

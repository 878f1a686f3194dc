/** One article as the Help menu shows it, with what an editor can do to it; retiring asks first. */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { Markdown } from "../../widget/panel/markdown";
import { ErrorNotice, Spinner } from "../../widget/panel/ui";
import { useConsole, useLatest, useT } from "../hooks";
import { useSections } from "./sections";
import { LANG_NAMES, isConflict, loadArticle, path, translationDraft, type Article, type Go } from "./model";

function Retire({ article, go, reload }: { article: Article; go: Go; reload: () => void }): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const question = useRef<HTMLParagraphElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const cancelled = useRef(false);
  useEffect(() => {
    if (asking) question.current?.focus();
    else if (cancelled.current) opener.current?.focus();
  }, [asking]);

  const retire = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await ctx.api.send("DELETE", path(article.id), { headers: { "If-Match": String(article.version) } });
      go({ kind: "list" }, t("kb.retire.done", { title: article.title }));
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };

  if (!asking) {
    return (
      <button ref={opener} type="button" class="button danger" onClick={() => setAsking(true)}>
        {t("kb.retire")}
      </button>
    );
  }
  return (
    <div class="kb-confirm" role="group" aria-labelledby="kb-retire-q">
      <p id="kb-retire-q" ref={question} tabIndex={-1}>
        {t("kb.retire.question")}
      </p>
      {error !== null && isConflict(error) ? (
        <div class="notice error" role="alert">
          <span>{t("kb.conflict")}</span>
          <button type="button" class="link" onClick={reload}>
            {t("kb.conflict.reload")}
          </button>
        </div>
      ) : (
        <ErrorNotice error={error} />
      )}
      <div class="row">
        <button type="button" class="button danger" disabled={busy} onClick={() => void retire()}>
          {t("kb.retire.confirm")}
        </button>
        <button
          type="button"
          class="button secondary"
          onClick={() => {
            cancelled.current = true;
            setAsking(false);
            setError(null);
          }}
        >
          {t("kb.cancel")}
        </button>
      </div>
    </div>
  );
}

export function ArticlePage({ id, go }: { id: string; go: Go }): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const sections = useSections();
  const { data, error, reload } = useLatest(id, (signal) => loadArticle(ctx.api, id, signal));
  if (error) return <ErrorNotice error={error} onRetry={reload} />;
  if (!data) return <Spinner label={t("common.loading")} />;
  return (
    <article class="kb-article" aria-labelledby="kb-page-title">
      <h2 id="kb-page-title" tabIndex={-1} lang={data.lang}>
        {data.title}
      </h2>
      <dl class="kb-meta">
        <dt>{t("kb.meta.id")}</dt>
        <dd class="kb-id">{data.id}</dd>
        <dt>{t("kb.field.lang")}</dt>
        <dd lang={data.lang}>{LANG_NAMES[data.lang] ?? data.lang}</dd>
        <dt>{t("kb.field.section")}</dt>
        <dd>{sections.name(data.section)}</dd>
        <dt>{t("kb.meta.version")}</dt>
        <dd>{data.version}</dd>
        {data.tags.length > 0 && (
          <>
            <dt>{t("kb.meta.tags")}</dt>
            <dd>{data.tags.join(", ")}</dd>
          </>
        )}
        {data.url && (
          <>
            <dt>{t("kb.meta.url")}</dt>
            <dd>
              <a href={data.url} target="_blank" rel="noopener noreferrer">
                {data.url}
              </a>
            </dd>
          </>
        )}
        <dt>{t("kb.meta.answers")}</dt>
        <dd>{t("kb.meta.feedback", { yes: data.feedback.helpful, no: data.feedback.not_helpful })}</dd>
      </dl>
      <div class="row kb-actions">
        <button type="button" class="button" onClick={() => go({ kind: "edit", id: data.id })}>
          {t("kb.edit")}
        </button>
        <button type="button" class="button secondary" onClick={() => go({ kind: "versions", id: data.id })}>
          {t("kb.versions")}
        </button>
        <button type="button" class="button secondary" onClick={() => go({ kind: "new", draft: translationDraft(data), of: data.title })}>
          {t("kb.translate")}
        </button>
        <span class="grow" />
        <Retire article={data} go={go} reload={reload} />
      </div>
      <div class="card" lang={data.lang}>
        <Markdown source={data.body} />
      </div>
      <h3>{t("kb.variants")}</h3>
      {data.variants.length ? (
        <ul class="kb-items">
          {data.variants.map((v) => (
            <li key={v.id}>
              <button type="button" class="link" lang={v.lang} onClick={() => go({ kind: "article", id: v.id })}>
                {v.title}
              </button>{" "}
              <span class="hint" lang={v.lang}>
                ({LANG_NAMES[v.lang] ?? v.lang})
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <p class="hint">{t("kb.variants.none")}</p>
      )}
    </article>
  );
}

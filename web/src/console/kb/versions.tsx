/** The language versions of one article side by side (uk, ru, en, pl), a missing one a click away. */
import type { JSX } from "preact";
import { Markdown } from "../../widget/panel/markdown";
import { ErrorNotice, Spinner } from "../../widget/panel/ui";
import { useConsole, useLatest, useT } from "../hooks";
import { KB_LANGS, LANG_NAMES, loadArticle, translationDraft, type Article, type Go } from "./model";

async function loadGroup(api: Parameters<typeof loadArticle>[0], id: string, signal: AbortSignal): Promise<Article[]> {
  const first = await loadArticle(api, id, signal);
  const others = await Promise.all(first.variants.map((v) => loadArticle(api, v.id, signal)));
  return [first, ...others];
}

export function Versions({ id, go }: { id: string; go: Go }): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const { data, error, reload } = useLatest(id, (signal) => loadGroup(ctx.api, id, signal));
  if (error) return <ErrorNotice error={error} onRetry={reload} />;
  if (!data) return <Spinner label={t("common.loading")} />;
  const source = data[0] as Article;
  return (
    <div class="kb-versions">
      <h2 id="kb-page-title" tabIndex={-1}>
        {t("kb.versions.title", { title: source.title })}
      </h2>
      <div class="kb-version-columns">
        {KB_LANGS.map((lang) => {
          const version = data.find((a) => a.lang === lang);
          const headingId = `kb-version-${lang}`;
          return (
            <section key={lang} class="kb-version card" aria-labelledby={headingId}>
              <h3 id={headingId} lang={lang}>
                {LANG_NAMES[lang]}
              </h3>
              {version ? (
                <div>
                  <p class="kb-version-title" lang={lang}>
                    {version.title}
                  </p>
                  <p class="hint">
                    {t("kb.meta.version")}: {version.version}
                  </p>
                  <div lang={lang}>
                    <Markdown source={version.body} />
                  </div>
                  <div class="row">
                    <button type="button" class="button secondary small" onClick={() => go({ kind: "edit", id: version.id })}>
                      {t("kb.edit")} <span class="sr-only">({LANG_NAMES[lang]})</span>
                    </button>
                    <button type="button" class="button secondary small" onClick={() => go({ kind: "article", id: version.id })}>
                      {t("kb.open")} <span class="sr-only">({LANG_NAMES[lang]})</span>
                    </button>
                  </div>
                </div>
              ) : (
                <>
                  <p class="hint">{t("kb.versions.missing")}</p>
                  <button
                    type="button"
                    class="button secondary small"
                    onClick={() => go({ kind: "new", draft: translationDraft(source, lang), of: source.title })}
                  >
                    {t("kb.translate")} <span class="sr-only">({LANG_NAMES[lang]})</span>
                  </button>
                </>
              )}
            </section>
          );
        })}
      </div>
    </div>
  );
}

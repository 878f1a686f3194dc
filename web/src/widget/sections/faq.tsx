/**
 * FAQ: search with suggestions while typing (debounced; an older answer never replaces a newer
 * one), full results with the server's highlights, browsing by section with counts, the article
 * with "was this helpful?" and a link to the full wiki article.
 */
import { createContext, type JSX } from "preact";
import { useContext, useState } from "preact/hooks";
import { register } from "../core/i18n";
import type { KbArticle } from "../core/kb";
import { faqStrings } from "../i18n/faq";
import { useDebounced, useId, useLatest, useT, useWidget } from "../panel/hooks";
import { Markdown } from "../panel/markdown";
import { ErrorNotice, Highlighted, Spinner } from "../panel/ui";

register(faqStrings);

interface Hit {
  id: string;
  lang: string;
  section: string;
  title: string;
  title_highlighted: string;
  snippet: string;
  url: string;
}

interface SearchAnswer {
  total: number;
  hits: Hit[];
  facets: Record<string, number>;
  corrections: Record<string, string>;
}

type Article = KbArticle;

interface SectionInfo {
  section: string;
  names?: Record<string, string>;
  total: number;
  by_language: Record<string, number>;
}

type SectionsState = ReturnType<typeof useLatest<{ sections: SectionInfo[] }>>;

/** A section's name: the server's (sections are data editors name) in the user's language, else the
 * catalogue's for the original sections, else its id. */
const SectionName = createContext<(id: string) => string>((id) => id);

function useSectionName(): (id: string) => string {
  return useContext(SectionName);
}

type View =
  | { kind: "home" }
  | { kind: "results"; query: string; section?: string }
  | { kind: "section"; section: string }
  | { kind: "article"; id: string; back: View };

const LANG_NAMES: Record<string, string> = { uk: "Українська", ru: "Русский", en: "English", pl: "Polski" };

function Suggestions({ query, onPick }: { query: string; onPick: (hit: Hit) => void }): JSX.Element | null {
  const ctx = useWidget();
  const { t, lang } = useT();
  const settled = useDebounced(query.trim(), 180);
  const { data } = useLatest(`${settled}|${lang}`, (signal) =>
    settled.length < 2
      ? Promise.resolve({ suggestions: [] as Hit[] })
      : ctx.api.get<{ suggestions: Hit[] }>("/api/v1/kb/suggest", { query: { q: settled, lang, limit: 5 }, signal }),
  );
  const items = query.trim().length >= 2 ? (data?.suggestions ?? []) : [];
  if (!items.length) return null;
  return (
    <div class="suggestions">
      <h3 class="sr-only" id="hd-faq-suggestions">{t("faq.suggestions")}</h3>
      <ul aria-labelledby="hd-faq-suggestions">
        {items.map((hit) => (
          <li key={hit.id}>
            <button type="button" class="suggestion" onClick={() => onPick(hit)}>
              <Highlighted html={hit.title_highlighted} />
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Results({ view, go }: { view: Extract<View, { kind: "results" }>; go: (v: View) => void }): JSX.Element {
  const ctx = useWidget();
  const { t, lang } = useT();
  const sectionName = useSectionName();
  const { data, error, loading, reload } = useLatest(`${view.query}|${view.section ?? ""}|${lang}`, (signal) =>
    ctx.api.get<SearchAnswer>("/api/v1/kb/search", {
      query: { q: view.query, lang, section: view.section, limit: 20 },
      signal,
    }),
  );
  if (error) return <ErrorNotice error={error} onRetry={reload} />;
  if (!data) return <Spinner label={t("common.loading")} />;
  const corrections = Object.values(data.corrections);
  const facets = Object.entries(data.facets).filter(([, n]) => n > 0);
  return (
    <div aria-busy={loading}>
      <h3>{t("faq.results")}</h3>
      <p role="status" class="hint">
        {t("faq.results.count", { count: data.total })}
        {corrections.length ? ` · ${t("faq.corrected", { words: corrections.join(", ") })}` : ""}
      </p>
      {facets.length > 1 && (
        <div class="chips" role="group" aria-label={t("faq.sections")}>
          <button type="button" class="chip" aria-pressed={!view.section} onClick={() => go({ kind: "results", query: view.query })}>
            {t("faq.section.all")}
          </button>
          {facets.map(([section, count]) => (
            <button
              type="button"
              key={section}
              class="chip"
              aria-pressed={view.section === section}
              onClick={() => go({ kind: "results", query: view.query, section })}
            >
              {sectionName(section)} ({count})
            </button>
          ))}
        </div>
      )}
      {data.hits.length === 0 ? (
        <div class="notice info">
          <span>{t("faq.nothing")}</span>
          <button type="button" class="link" onClick={() => ctx.route.set({ section: "request", draft: { comment: view.query } })}>
            {t("faq.nothing.request")}
          </button>
        </div>
      ) : (
        <ul class="hits">
          {data.hits.map((hit) => (
            <li key={hit.id} class="hit" lang={hit.lang}>
              <button type="button" class="hit-title link" onClick={() => go({ kind: "article", id: hit.id, back: view })}>
                <Highlighted html={hit.title_highlighted} />
              </button>
              <p class="snippet">
                <Highlighted html={hit.snippet} />
              </p>
              <span class="hint">{sectionName(hit.section)}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Sections({ state, go }: { state: SectionsState; go: (v: View) => void }): JSX.Element {
  const { t, lang } = useT();
  const sectionName = useSectionName();
  const { data, error, reload } = state;
  if (error) return <ErrorNotice error={error} onRetry={reload} />;
  if (!data) return <Spinner label={t("common.loading")} />;
  return (
    <nav aria-labelledby="hd-faq-sections">
      <h3 id="hd-faq-sections">{t("faq.sections")}</h3>
      <ul class="sections">
        {data.sections
          .filter((s) => s.total > 0)
          .map((s) => {
            const count = s.by_language[lang] ?? s.total;
            return (
              <li key={s.section}>
                <button type="button" class="section-link" onClick={() => go({ kind: "section", section: s.section })}>
                  <span>{sectionName(s.section)}</span>
                  <span class="count">{t("faq.section.count", { count })}</span>
                </button>
              </li>
            );
          })}
      </ul>
    </nav>
  );
}

function SectionArticles({ section, go }: { section: string; go: (v: View) => void }): JSX.Element {
  const ctx = useWidget();
  const { t, lang } = useT();
  const sectionName = useSectionName();
  const { data, error, reload } = useLatest(`${section}|${lang}`, (signal) =>
    ctx.api.get<{ total: number; items: Article[] }>("/api/v1/kb/articles", { query: { section, lang, limit: 100 }, signal }),
  );
  return (
    <div>
      <button type="button" class="link back" onClick={() => go({ kind: "home" })}>
        ← {t("faq.back.sections")}
      </button>
      <h3>{sectionName(section)}</h3>
      <ErrorNotice error={error} onRetry={reload} />
      {!data && !error && <Spinner label={t("common.loading")} />}
      {data && (
        <ul class="hits">
          {data.items.map((a) => (
            <li key={a.id} class="hit" lang={a.lang}>
              <button type="button" class="hit-title link" onClick={() => go({ kind: "article", id: a.id, back: { kind: "section", section } })}>
                {a.title}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Feedback({ article }: { article: Article }): JSX.Element {
  const ctx = useWidget();
  const { t } = useT();
  const [sent, setSent] = useState<boolean | null>(null);
  const [error, setError] = useState<unknown>(null);
  const send = async (helpful: boolean): Promise<void> => {
    setError(null);
    try {
      await ctx.api.post(`/api/v1/kb/articles/${encodeURIComponent(article.id)}/feedback`, {
        json: { helpful },
        headers: { "Idempotency-Key": `${article.id}:${ctx.tokens.claims().sub ?? ""}:${helpful}` },
      });
      setSent(helpful);
    } catch (e) {
      setError(e);
    }
  };
  if (sent !== null) {
    return (
      <div class="notice success" role="status">
        <span>{t("faq.helpful.thanks")}</span>
        {!sent && <span>{t("faq.helpful.more")}</span>}
      </div>
    );
  }
  return (
    <div class="feedback" role="group" aria-labelledby="hd-faq-helpful">
      <span id="hd-faq-helpful">{t("faq.helpful.question")}</span>
      <button type="button" class="button secondary" onClick={() => void send(true)}>
        {t("faq.helpful.yes")}
      </button>
      <button type="button" class="button secondary" onClick={() => void send(false)}>
        {t("faq.helpful.no")}
      </button>
      <ErrorNotice error={error} />
    </div>
  );
}

function ArticleView({ id, back, go }: { id: string; back: View; go: (v: View) => void }): JSX.Element {
  const ctx = useWidget();
  const { t } = useT();
  const sectionName = useSectionName();
  const { data, error, reload } = useLatest(id, (signal) =>
    ctx.api.get<Article>(`/api/v1/kb/articles/${encodeURIComponent(id)}`, { signal }),
  );
  return (
    <article class="article" lang={data?.lang}>
      <button type="button" class="link back" onClick={() => go(back)}>
        ←{" "}
        {back.kind === "results"
          ? t("faq.back.results")
          : back.kind === "section"
            ? sectionName(back.section)
            : t("faq.back.sections")}
      </button>
      <ErrorNotice error={error} onRetry={reload} />
      {!data && !error && <Spinner label={t("common.loading")} />}
      {data && (
        <>
          <h3>{data.title}</h3>
          <Markdown source={data.body} />
          {data.variants.length > 0 && (
            <p class="variants">
              {t("faq.variants")}{" "}
              {data.variants.map((v) => (
                <button type="button" key={v.id} class="link" lang={v.lang} onClick={() => go({ kind: "article", id: v.id, back })}>
                  {LANG_NAMES[v.lang] ?? v.lang}
                </button>
              ))}
            </p>
          )}
          {data.url && (
            <p>
              <a href={data.url} target="_blank" rel="noopener noreferrer">
                {t("faq.wiki")} <span class="sr-only">{t("faq.wiki.new")}</span>
              </a>
            </p>
          )}
          <Feedback article={data} />
        </>
      )}
    </article>
  );
}

export function FaqSection(): JSX.Element {
  const ctx = useWidget();
  const { t, lang } = useT();
  const sections = useLatest("sections", (signal) =>
    ctx.api.get<{ sections: SectionInfo[] }>("/api/v1/kb/sections", { signal }),
  );
  const named = new Map((sections.data?.sections ?? []).map((s) => [s.section, s.names]));
  const sectionName = (id: string): string => {
    const fromServer = named.get(id)?.[lang];
    if (fromServer) return fromServer;
    const key = `section.${id}`;
    const fromCatalogue = t(key);
    return fromCatalogue === key ? id : fromCatalogue;
  };
  const inputId = useId("hd-faq-q");
  const [text, setText] = useState("");
  const [view, setView] = useState<View>({ kind: "home" });
  const submit = (event: Event): void => {
    event.preventDefault();
    const query = text.trim();
    setView(query ? { kind: "results", query } : { kind: "home" });
  };
  const typing = text.trim() !== (view.kind === "results" ? view.query : "");
  return (
    <SectionName.Provider value={sectionName}>
      <div class="faq">
        <form role="search" class="search" onSubmit={submit}>
          <label for={inputId}>{t("faq.search.label")}</label>
          <div class="row">
            <input
              id={inputId}
              type="search"
              class="grow"
              autoComplete="off"
              maxLength={500}
              placeholder={t("faq.search.placeholder")}
              value={text}
              onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
            />
            <button type="submit" class="button">
              {t("faq.search.submit")}
            </button>
          </div>
          {typing && view.kind !== "article" && (
            <Suggestions query={text} onPick={(hit) => setView({ kind: "article", id: hit.id, back: { kind: "results", query: text.trim() } })} />
          )}
        </form>
        {view.kind === "home" && <Sections state={sections} go={setView} />}
        {view.kind === "results" && <Results view={view} go={setView} />}
        {view.kind === "section" && <SectionArticles section={view.section} go={setView} />}
        {view.kind === "article" && <ArticleView id={view.id} back={view.back} go={setView} />}
      </div>
    </SectionName.Provider>
  );
}

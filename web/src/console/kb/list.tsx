/** Articles by section (with counts) or by search (with the server's highlights). */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { ErrorNotice, Highlighted, Spinner } from "../../widget/panel/ui";
import { useConsole, useLatest, useT } from "../hooks";
import { useSections } from "./sections";
import { KB_LANGS, LANG_NAMES, type Go, type Hit, type ListState, type Summary } from "./model";

function Sections({ state, set }: { state: ListState; set: (s: ListState) => void }): JSX.Element {
  const { t } = useT();
  const { data, live, name, error, reload } = useSections();
  return (
    <nav class="kb-sections" aria-labelledby="kb-sections-title">
      <h2 id="kb-sections-title">{t("kb.sections")}</h2>
      <ErrorNotice error={error} onRetry={reload} />
      {!data && !error && <Spinner label={t("common.loading")} />}
      <ul>
        {data &&
          live.map((s) => {
          const count = state.lang ? (s.by_language[state.lang] ?? 0) : s.total;
          return (
            <li key={s.section}>
              <button
                type="button"
                class="kb-section"
                aria-pressed={!state.query && state.section === s.section}
                onClick={() => set({ ...state, query: "", section: s.section })}
              >
                <span>{name(s.section)}</span>
                <span class="count">{t("kb.count", { count })}</span>
              </button>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

function ArticleLink({ item, go, children }: { item: Summary; go: Go; children: JSX.Element | string }): JSX.Element {
  return (
    <button type="button" class="link kb-title" lang={item.lang} onClick={() => go({ kind: "article", id: item.id })}>
      {children}
    </button>
  );
}

function Languages({ item }: { item: Summary }): JSX.Element {
  const langs = [item.lang, ...item.variants.map((v) => v.lang)].sort((a, b) => KB_LANGS.indexOf(a as never) - KB_LANGS.indexOf(b as never));
  return (
    <span class="kb-langs">
      {langs.map((lang) => (
        <abbr key={lang} lang={lang} title={LANG_NAMES[lang] ?? lang}>
          {lang}
        </abbr>
      ))}
    </span>
  );
}

function Results({ state, go }: { state: ListState; go: Go }): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const { name } = useSections();
  const { data, error, loading, reload } = useLatest(`${state.query}|${state.lang}`, (signal) =>
    ctx.api.get<{ total: number; hits: Hit[] }>("/api/v1/kb/search", { query: { q: state.query, lang: state.lang, limit: 50 }, signal }),
  );
  if (error) return <ErrorNotice error={error} onRetry={reload} />;
  if (!data) return <Spinner label={t("common.loading")} />;
  return (
    <section aria-labelledby="kb-results-title" aria-busy={loading}>
      <h2 id="kb-results-title">{t("kb.results")}</h2>
      <p role="status" class="hint">
        {data.total ? t("kb.results.count", { count: data.total }) : t("kb.nothing")}
      </p>
      <ul class="kb-items">
        {data.hits.map((hit) => (
          <li key={hit.id}>
            <ArticleLink item={hit} go={go}>
              <Highlighted html={hit.title_highlighted} />
            </ArticleLink>
            <p class="kb-snippet" lang={hit.lang}>
              <Highlighted html={hit.snippet} />
            </p>
            <span class="hint">
              {name(hit.section)} <Languages item={hit} />
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function SectionList({ state, go }: { state: ListState; go: Go }): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const { name } = useSections();
  const { data, error, reload } = useLatest(`${state.section}|${state.lang}`, (signal) =>
    ctx.api.get<{ total: number; items: Summary[] }>("/api/v1/kb/articles", {
      query: { section: state.section, lang: state.lang, limit: 100 },
      signal,
    }),
  );
  if (error) return <ErrorNotice error={error} onRetry={reload} />;
  if (!data) return <Spinner label={t("common.loading")} />;
  return (
    <section aria-labelledby="kb-section-title">
      <h2 id="kb-section-title">{name(state.section)}</h2>
      <p class="hint">{data.total ? t("kb.count", { count: data.total }) : t("kb.section.empty")}</p>
      <ul class="kb-items">
        {data.items.map((item) => (
          <li key={item.id}>
            <ArticleLink item={item} go={go}>
              {item.title}
            </ArticleLink>{" "}
            <Languages item={item} />
          </li>
        ))}
      </ul>
    </section>
  );
}

export function KbList({ state, set, go }: { state: ListState; set: (s: ListState) => void; go: Go }): JSX.Element {
  const { t } = useT();
  const [text, setText] = useState(state.query);
  return (
    <div class="kb-list">
      <div class="kb-toolbar">
        <form
          role="search"
          class="row grow"
          onSubmit={(e) => {
            e.preventDefault();
            set({ ...state, query: text.trim() });
          }}
        >
          <label for="kb-q" class="sr-only">
            {t("kb.search.label")}
          </label>
          <input id="kb-q" type="search" class="grow" value={text} maxLength={500} placeholder={t("kb.search.label")} onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)} />
          <button type="submit" class="button">
            {t("kb.search.submit")}
          </button>
          {state.query && (
            <button
              type="button"
              class="button secondary"
              onClick={() => {
                setText("");
                set({ ...state, query: "" });
              }}
            >
              {t("kb.search.clear")}
            </button>
          )}
        </form>
        <div class="kb-lang">
          <label for="kb-lang">{t("kb.lang")}</label>
          <select id="kb-lang" value={state.lang} onChange={(e) => set({ ...state, lang: (e.currentTarget as HTMLSelectElement).value })}>
            <option value="">{t("kb.lang.any")}</option>
            {KB_LANGS.map((lang) => (
              <option key={lang} value={lang} lang={lang}>
                {LANG_NAMES[lang]}
              </option>
            ))}
          </select>
        </div>
        <button type="button" class="button" onClick={() => go({ kind: "new" })}>
          {t("kb.new")}
        </button>
      </div>
      <div class="kb-columns">
        <Sections state={state} set={set} />
        <div class="kb-pane">
          {state.query ? (
            <Results state={state} go={go} />
          ) : state.section ? (
            <SectionList state={state} go={go} />
          ) : (
            <p class="hint">{t("kb.pick")}</p>
          )}
        </div>
      </div>
    </div>
  );
}

/**
 * The knowledge base for editors (role `editor` or `agent`): browse and search, open, create, edit
 * with the version loaded (If-Match), retire, and one article's language versions side by side.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { register } from "../../widget/core/i18n";
import { faqStrings } from "../../widget/i18n/faq";
import { useT } from "../hooks";
import { kbStrings } from "../i18n/kb";
import { ArticlePage } from "../kb/article";
import { EditArticle, NewArticle } from "../kb/editor";
import { KbList } from "../kb/list";
import type { ListState, Page } from "../kb/model";
import { Versions } from "../kb/versions";

register(faqStrings);
register(kbStrings);

export function KbView(): JSX.Element {
  const { t } = useT();
  const [page, setPage] = useState<Page>({ kind: "list" });
  const [notice, setNotice] = useState<string | null>(null);
  const [list, setList] = useState<ListState>({ query: "", section: "", lang: "" });
  const root = useRef<HTMLDivElement>(null);
  const moved = useRef(false);

  const go = (next: Page, message?: string): void => {
    moved.current = true;
    setNotice(message ?? null);
    setPage(next);
  };

  // After a move inside the view, focus goes to the new page's heading (keyboard and screen-reader users).
  useEffect(() => {
    if (!moved.current) return;
    moved.current = false;
    const el = root.current;
    const target = el?.querySelector<HTMLElement>("#kb-page-title") ?? el?.querySelector<HTMLElement>("#kb-title");
    target?.focus();
  }, [page]);

  return (
    <div class="kb" ref={root}>
      <div class="row kb-head">
        <h1 id="kb-title" tabIndex={-1}>
          {t("kb.title")}
        </h1>
        {page.kind !== "list" && (
          <button type="button" class="link" onClick={() => go({ kind: "list" })}>
            ← {t("kb.back")}
          </button>
        )}
      </div>
      {notice && (
        <div class="notice success" role="status">
          <span>{notice}</span>
        </div>
      )}
      {page.kind === "list" && <KbList state={list} set={setList} go={go} />}
      {page.kind === "article" && <ArticlePage key={page.id} id={page.id} go={go} />}
      {page.kind === "edit" && <EditArticle key={page.id} id={page.id} go={go} />}
      {page.kind === "new" && <NewArticle key={page.draft?.translations ?? "new"} draft={page.draft} of={page.of} go={go} />}
      {page.kind === "versions" && <Versions key={page.id} id={page.id} go={go} />}
    </div>
  );
}

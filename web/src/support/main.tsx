/**
 * The public "Contacts and hours" page at /support/: no sign-in, four languages (`?lang=`, else the
 * browser's), each topic's hours in the visitor's own time and in its schedule's zone. The same view as the
 * Help panel's, over the same public JSON (`GET /api/v1/support/directory`).
 */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { JSX } from "preact";
import type { SupportDirectory } from "../widget/core/hours";
import { LANGS, register, type Lang } from "../widget/core/i18n";
import { Store } from "../widget/core/store";
import { hoursStrings } from "../widget/i18n/hours";
import { panelStrings } from "../widget/i18n/panel";
import { LangCtx, useStore, useT } from "../widget/panel/hooks";
import { LanguageSelect } from "../widget/panel/ui";
import { ContactsView } from "../widget/sections/contacts";

register(hoursStrings);
register(panelStrings);

function firstLanguage(): Lang {
  const asked = new URLSearchParams(location.search).get("lang");
  const wanted = [asked, ...navigator.languages.map((l) => l.slice(0, 2))];
  return (wanted.find((l): l is Lang => LANGS.includes(l as Lang)) ?? "uk") as Lang;
}

function Page({ lang }: { lang: Store<Lang> }): JSX.Element {
  const { t } = useT();
  const current = useStore(lang);
  const [data, setData] = useState<SupportDirectory | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    document.documentElement.lang = current;
    document.title = t("hours.title");
    const query = new URLSearchParams({ lang: current, tz: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" });
    const controller = new AbortController();
    fetch(`/api/v1/support/directory?${query}`, { signal: controller.signal })
      .then((r) => (r.ok ? (r.json() as Promise<SupportDirectory>) : Promise.reject(new Error(String(r.status)))))
      .then((d) => {
        if (controller.signal.aborted) return; // another language was asked for meanwhile
        setData(d);
        setFailed(false);
      })
      .catch(() => setFailed(!controller.signal.aborted));
    return () => controller.abort();
  }, [current]);
  return (
    <main class="support-page">
      <LanguageSelect value={current} label={t("panel.language")} onChange={(code) => lang.set(code)} />
      {failed && <p role="alert">{t("hours.unavailable")}</p>}
      {data && <ContactsView data={data} heading={<h1>{t("hours.title")}</h1>} />}
    </main>
  );
}

const lang = new Store<Lang>(firstLanguage());
const root = document.getElementById("app");
if (root) {
  render(
    <LangCtx.Provider value={lang}>
      <Page lang={lang} />
    </LangCtx.Provider>,
    root,
  );
}

/**
 * The support console: where specialists take chats, answer requests, message hotels and keep the
 * knowledge base. One page at /console/ on the same origin as the APIs and the Help widget.
 */
import type { JSX } from "preact";
import { render } from "preact";
import { register } from "../widget/core/i18n";
import { common } from "../widget/i18n/common";
import { LangCtx } from "../widget/panel/hooks";
import { LanguageSelect } from "../widget/panel/ui";
import { ConsoleContext, VIEWS, type View } from "./context";
import { ConsoleCtx, useConsole, useStore, useT } from "./hooks";
import { shellStrings } from "./i18n/shell";
import { SignIn } from "./signin";
import { ChatsView, PresenceControl, useDesk } from "./views/chats";
import { KbView } from "./views/kb";
import { MessageView } from "./views/message";
import { RequestsView } from "./views/requests";

register(common);
register(shellStrings);

const BODIES: Record<View, () => JSX.Element> = { chats: ChatsView, requests: RequestsView, message: MessageView, kb: KbView };

function Header(): JSX.Element {
  const ctx = useConsole();
  const { t, lang } = useT();
  const agent = useStore(ctx.agent);
  return (
    <header class="topbar">
      <span class="brand">{t("console.title")}</span>
      {agent?.role === "agent" && <PresenceControl />}
      <span class="grow" />
      <LanguageSelect value={lang} label={t("console.language")} onChange={(code) => ctx.lang.set(code)} />
      {agent && (
        <>
          <span class="who">{t("console.signed_in", { name: agent.name })}</span>
          <button type="button" class="button secondary small" onClick={() => ctx.signOut()}>
            {t("console.sign_out")}
          </button>
        </>
      )}
    </header>
  );
}

/** What a signed-in person may open: specialists everything, knowledge-base editors the knowledge base. */
function viewsFor(role: "agent" | "editor"): readonly View[] {
  return role === "agent" ? VIEWS : ["kb"];
}

function Nav({ current, views }: { current: View; views: readonly View[] }): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const desk = useDesk();
  const waiting = useStore(desk.waitingCount);
  return (
    <nav class="nav" aria-label={t("console.nav")}>
      <ul>
        {views.map((view) => (
          <li key={view}>
            <a
              href={`#/${view}`}
              aria-current={view === current ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                ctx.go({ view });
              }}
            >
              {t(`console.view.${view}`)}
              {view === "chats" && waiting > 0 && <span class="count"> ({waiting})</span>}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function Console(): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const agent = useStore(ctx.agent);
  const route = useStore(ctx.route);
  const online = useStore(ctx.online);
  if (!agent) {
    return (
      <>
        <Header />
        <SignIn />
      </>
    );
  }
  const views = viewsFor(agent.role);
  const current = views.includes(route.view) ? route.view : (views[0] as View);
  const Body = BODIES[current];
  return (
    <>
      <Header />
      {!online && (
        <p class="banner" role="status">
          {t("console.offline")}
        </p>
      )}
      <div class="layout">
        <Nav current={current} views={views} />
        <main class="main" aria-label={t(`console.view.${current}`)}>
          <Body />
        </main>
      </div>
    </>
  );
}

const ctx = new ConsoleContext();
const app = document.getElementById("app");
if (app) {
  render(
    <ConsoleCtx.Provider value={ctx}>
      <LangCtx.Provider value={ctx.lang}>
        <Console />
      </LangCtx.Provider>
    </ConsoleCtx.Provider>,
    app,
  );
}

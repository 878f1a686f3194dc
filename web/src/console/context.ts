/**
 * One console session: the specialist's token (in memory only — never in web storage), the APIs,
 * the language and where the specialist is. The place lives in the URL's hash (`#/requests/<id>`)
 * so the browser's back button works; nothing of a chat or a token goes there.
 */
import { Api } from "../widget/core/api";
import { normalise, type Lang } from "../widget/core/i18n";
import { Store } from "../widget/core/store";
import { TokenSource, type TokenProvider } from "../widget/core/token";

export type View = "chats" | "requests" | "message" | "kb";
export const VIEWS: readonly View[] = ["chats", "requests", "message", "kb"];

export interface Route {
  view: View;
  /** requests: the request open on the right. */
  ticketId?: string;
  /** message: the hotel account (and user) to write to, e.g. from a request. */
  accountId?: string;
  userId?: string;
}

export interface Agent {
  sub: string;
  name: string;
  role: "agent" | "editor";
}

export function parseHash(hash: string): Route {
  const [view, first, second] = hash.replace(/^#\/?/, "").split("/");
  if (!view || !(VIEWS as readonly string[]).includes(view)) return { view: "requests" };
  const route: Route = { view: view as View };
  if (view === "requests" && first) route.ticketId = decodeURIComponent(first);
  if (view === "message" && first) route.accountId = decodeURIComponent(first);
  if (view === "message" && first && second) route.userId = decodeURIComponent(second);
  return route;
}

/** `#/requests/<id>`, `#/message/<account>[/<user>]`, else `#/<view>`: reload and back keep the place. */
export function toHash(route: Route): string {
  const part = (value: string): string => `/${encodeURIComponent(value)}`;
  if (route.view === "requests" && route.ticketId) return `#/requests${part(route.ticketId)}`;
  if (route.view === "message" && route.accountId) {
    return `#/message${part(route.accountId)}${route.userId ? part(route.userId) : ""}`;
  }
  return `#/${route.view}`;
}

export class ConsoleContext {
  readonly tokens = new TokenSource();
  readonly api = new Api(location.origin, this.tokens);
  readonly lang = new Store<Lang>(normalise(document.documentElement.lang) ?? normalise(navigator.language) ?? "uk");
  readonly route = new Store<Route>(parseHash(location.hash));
  readonly agent = new Store<Agent | null>(null);
  readonly online = new Store(navigator.onLine);

  constructor() {
    window.addEventListener("hashchange", () => this.route.set(parseHash(location.hash)));
    window.addEventListener("online", () => this.online.set(true));
    window.addEventListener("offline", () => this.online.set(false));
    this.lang.subscribe((lang) => {
      document.documentElement.lang = lang;
    });
    document.documentElement.lang = this.lang.value;
  }

  go(route: Route): void {
    const hash = toHash(route);
    this.route.set(route);
    if (location.hash !== hash) history.pushState(null, "", hash);
  }

  /** Signs in with a token source: the demo sign-in, or a JWT from the company's identity provider. */
  async signIn(provider: TokenProvider): Promise<void> {
    this.tokens.setProvider(provider);
    await this.tokens.refresh();
    const claims = this.tokens.claims() as { sub?: string; name?: string; role?: string };
    if (claims.role !== "agent" && claims.role !== "editor") {
      this.tokens.setProvider(null);
      throw new Error("role");
    }
    // The token is checked by the server before anything is shown.
    await this.api.get("/api/v1/request-form");
    this.agent.set({ sub: claims.sub ?? "", name: claims.name || claims.sub || "", role: claims.role });
  }

  signOut(): void {
    this.tokens.setProvider(null);
    this.agent.set(null);
  }
}

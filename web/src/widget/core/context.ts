/** What every part of one widget instance shares: the APIs, the token, the language, the route. */
import { Api } from "./api";
import type { Lang } from "./i18n";
import { PopupCenter } from "./popups";
import { Store } from "./store";
import { TokenSource } from "./token";

export type Section = "faq" | "chat" | "request" | "history" | "contacts";

/** What a new request form can start with (from a chat nobody could take, or an FAQ search). */
export interface RequestDraft {
  topic?: string;
  comment?: string;
  message?: string;
  importance?: string;
}

export interface Route {
  section: Section;
  /** history: the request to show. */
  ticketId?: string;
  /** request: the form's starting values. */
  draft?: RequestDraft;
  /** history: show support's messages (popups) rather than requests. */
  messages?: boolean;
}

export class WidgetContext {
  readonly tokens = new TokenSource();
  readonly api: Api;
  readonly popups: PopupCenter;
  readonly lang: Store<Lang>;
  readonly route = new Store<Route>({ section: "faq" });
  readonly isOpen = new Store(false);
  readonly online = new Store(navigator.onLine);
  /** Set by the launcher: where focus goes back when the panel closes. */
  launcher: HTMLButtonElement | null = null;

  constructor(
    readonly host: HTMLElement,
    readonly root: ShadowRoot,
    base: string,
    lang: Lang,
  ) {
    this.api = new Api(base, this.tokens);
    this.popups = new PopupCenter(this.api);
    this.lang = new Store(lang);
    window.addEventListener("online", () => this.online.set(true));
    window.addEventListener("offline", () => this.online.set(false));
  }

  open(route?: Route): void {
    if (route) this.route.set(route);
    this.isOpen.set(true);
  }

  close(): void {
    this.isOpen.set(false);
    this.launcher?.focus();
  }

  /** Styles for this shadow root, without inline <style> (works under a strict CSP). */
  adopt(css: string): void {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    this.root.adoptedStyleSheets = [...this.root.adoptedStyleSheets, sheet];
  }
}

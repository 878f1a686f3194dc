/**
 * `<otelms-help>`: the Help button for the top-right corner of an OtelMS screen. This file is all a
 * host page loads up front; the panel and the popup dialog are chunks loaded on first need.
 *
 *   <otelms-help></otelms-help>
 *   <script type="module" src="/widget/otelms-help.js"></script>
 *   document.querySelector("otelms-help").tokenProvider = async () => fetchShortLivedJwt();
 *
 * Attributes: `lang` (else the page's <html lang>), `api-base` (else this script's origin).
 */
import { WidgetContext, type Route } from "./core/context";
import { normalise, register, translate, type Lang } from "./core/i18n";
import type { TokenProvider } from "./core/token";
import launcherCss from "./launcher.css";

register({
  uk: { "launcher.label": "Допомога", "launcher.unread.one": "{count} нове повідомлення від підтримки", "launcher.unread.few": "{count} нові повідомлення від підтримки", "launcher.unread.many": "{count} нових повідомлень від підтримки", "launcher.unread.other": "{count} нового повідомлення від підтримки" },
  ru: { "launcher.label": "Помощь", "launcher.unread.one": "{count} новое сообщение от поддержки", "launcher.unread.few": "{count} новых сообщения от поддержки", "launcher.unread.many": "{count} новых сообщений от поддержки", "launcher.unread.other": "{count} нового сообщения от поддержки" },
  en: { "launcher.label": "Help", "launcher.unread.one": "{count} new message from support", "launcher.unread.other": "{count} new messages from support" },
  pl: { "launcher.label": "Pomoc", "launcher.unread.one": "{count} nowa wiadomość od wsparcia", "launcher.unread.few": "{count} nowe wiadomości od wsparcia", "launcher.unread.many": "{count} nowych wiadomości od wsparcia", "launcher.unread.other": "{count} nowej wiadomości od wsparcia" },
});

const SCRIPT_ORIGIN = new URL(import.meta.url).origin;

export class OtelmsHelp extends HTMLElement {
  private ctx: WidgetContext | null = null;
  private button!: HTMLButtonElement;
  private label!: HTMLSpanElement;
  private badge!: HTMLSpanElement;
  private unread!: HTMLSpanElement;
  private panelLoading: Promise<unknown> | null = null;
  private popupsLoading: Promise<unknown> | null = null;
  private observer: MutationObserver | null = null;
  private pendingProvider: TokenProvider | null = null;

  static get observedAttributes(): string[] {
    return ["lang"];
  }

  /** The host page's callback for a short-lived JWT; called again before it expires. */
  set tokenProvider(provider: TokenProvider | null) {
    this.pendingProvider = provider;
    if (this.ctx) this.ctx.tokens.setProvider(provider);
    if (provider && this.ctx) this.ctx.popups.start();
  }

  get context(): WidgetContext | null {
    return this.ctx;
  }

  connectedCallback(): void {
    if (this.ctx) return;
    const root = this.shadowRoot ?? this.attachShadow({ mode: "open" });
    const ctx = new WidgetContext(this, root, this.getAttribute("api-base") || SCRIPT_ORIGIN, this.detectLang());
    this.ctx = ctx;
    ctx.adopt(launcherCss);

    this.button = document.createElement("button");
    this.button.type = "button";
    this.button.className = "launcher";
    this.button.setAttribute("aria-haspopup", "dialog");
    this.button.setAttribute("aria-expanded", "false");
    this.button.setAttribute("part", "launcher");
    const icon = document.createElement("span");
    icon.className = "icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "?";
    this.label = document.createElement("span");
    this.badge = document.createElement("span");
    this.badge.className = "badge";
    this.badge.hidden = true;
    this.badge.setAttribute("aria-hidden", "true");
    // The name comes from the content (the label, then the unread count for screen readers), so
    // the visible text is always part of it.
    this.unread = document.createElement("span");
    this.unread.className = "sr-only";
    this.button.append(icon, this.label, this.unread, this.badge);
    this.button.addEventListener("click", () => (ctx.isOpen.value ? ctx.close() : ctx.open()));
    ctx.launcher = this.button;

    const panelRoot = document.createElement("div");
    panelRoot.className = "panel-root";
    const popupRoot = document.createElement("div");
    popupRoot.className = "popup-root";
    root.append(this.button, panelRoot, popupRoot);

    ctx.lang.subscribe(() => this.render());
    ctx.popups.active.subscribe((active) => {
      this.render();
      if (active.length) void this.loadPopups(popupRoot);
    });
    ctx.isOpen.subscribe((open) => {
      this.button.setAttribute("aria-expanded", String(open));
      if (open) void this.loadPanel(panelRoot);
    });
    this.observer = new MutationObserver(() => {
      if (!this.hasAttribute("lang")) ctx.lang.set(this.detectLang());
    });
    this.observer.observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
    this.render();
    if (this.pendingProvider) this.tokenProvider = this.pendingProvider;
  }

  disconnectedCallback(): void {
    this.observer?.disconnect();
    this.ctx?.popups.stop();
  }

  attributeChangedCallback(): void {
    this.ctx?.lang.set(this.detectLang());
  }

  /** Open the panel, e.g. from the host's own menu: `el.open({section: "history"})`. */
  open(route?: Route): void {
    this.ctx?.open(route);
  }

  close(): void {
    this.ctx?.close();
  }

  private detectLang(): Lang {
    return normalise(this.getAttribute("lang")) ?? normalise(document.documentElement.lang) ?? normalise(navigator.language) ?? "uk";
  }

  private render(): void {
    if (!this.ctx) return;
    const lang = this.ctx.lang.value;
    const count = this.ctx.popups.active.value.length;
    this.label.textContent = translate(lang, "launcher.label");
    this.badge.hidden = count === 0;
    this.badge.textContent = count > 99 ? "99+" : String(count);
    this.unread.textContent = count ? `(${translate(lang, "launcher.unread", { count })})` : "";
  }

  private loadPanel(container: HTMLElement): Promise<unknown> {
    this.panelLoading ??= import("./panel/panel").then((m) => m.mountPanel(this.ctx as WidgetContext, container));
    return this.panelLoading;
  }

  private loadPopups(container: HTMLElement): Promise<unknown> {
    this.popupsLoading ??= import("./popups/dialog").then((m) => m.mountPopups(this.ctx as WidgetContext, container));
    return this.popupsLoading;
  }
}

if (!customElements.get("otelms-help")) customElements.define("otelms-help", OtelmsHelp);

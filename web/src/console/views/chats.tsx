/**
 * Chats: the specialist's presence in the header (Online / Away, how many chats at once, automatic
 * assignment, the sound), the waiting queue with "Take", their chats with unread counts, and one
 * conversation. The desk behind them is one per signed-in console (chat/registry.ts), so the nav's
 * count, the title and the sound keep working in the other views. Nothing of a chat is stored.
 */
import type { JSX } from "preact";
import { useEffect } from "preact/hooks";
import { register } from "../../widget/core/i18n";
import { MAX_CAPACITY, MIN_CAPACITY } from "../chat/desk";
import { deskFor, type DeskHandle } from "../chat/registry";
import { ChatList, ChatPane, QueueList, errorMessage } from "../chat/view";
import { loadDirectory } from "../../widget/core/hours";
import { useConsole, useLatest, useStore, useT } from "../hooks";
import { chatsStrings } from "../i18n/chats";

register(chatsStrings);

const CAPACITIES = Array.from({ length: MAX_CAPACITY - MIN_CAPACITY + 1 }, (_, i) => MIN_CAPACITY + i);

/** The specialist's chat desk (connection, presence, queue), shared by the header and the view. */
export function useDesk(): DeskHandle {
  return deskFor(useConsole());
}

/** The specialist's teams (from the support directory's topics): their chats are offered here first. */
function TeamsControl(): JSX.Element | null {
  const ctx = useConsole();
  const { desk } = useDesk();
  const { t, lang } = useT();
  const presence = useStore(desk.presence);
  const { data } = useLatest(`directory|${lang}`, (signal) => loadDirectory(ctx.api, lang, signal));
  const teams = [...new Set((data?.topics ?? []).map((x) => x.team))];
  if (!teams.length) return null;
  const toggle = (team: string, on: boolean): void => {
    const chosen = new Set(presence.teams);
    if (on) chosen.add(team);
    else chosen.delete(team);
    desk.setPresence({ teams: teams.filter((x) => chosen.has(x)) });
  };
  return (
    <fieldset class="inline teams">
      <legend>{t("desk.teams")}</legend>
      {teams.map((team) => (
        <label key={team} class="inline check">
          <input type="checkbox" checked={presence.teams.includes(team)} onChange={(e) => toggle(team, e.currentTarget.checked)} />
          <span>{teamLabel(t, team)}</span>
        </label>
      ))}
    </fieldset>
  );
}

function teamLabel(t: (key: string) => string, team: string): string {
  const key = `desk.team.${team}`;
  const text = t(key);
  return text === key ? team : text;
}

export function PresenceControl(): JSX.Element {
  const { desk, signals } = useDesk();
  const { t, lang } = useT();
  const presence = useStore(desk.presence);
  const link = useStore(desk.link);
  const sound = useStore(signals.sound);
  const number = new Intl.NumberFormat(lang);
  const linkText = link === "connecting" || link === "reconnecting" || link === "replaced" || link === "unauthorized" ? t(`desk.link.${link}`) : "";
  return (
    <div class="presence" role="group" aria-label={t("desk.presence")}>
      <span class={`presence-dot ${link === "online" ? presence.status : "off"}`} aria-hidden="true" />
      <label class="inline">
        <span>{t("desk.presence.status")}</span>
        <select value={presence.status} onChange={(e) => desk.setPresence({ status: e.currentTarget.value === "available" ? "available" : "away" })}>
          <option value="available">{t("desk.presence.available")}</option>
          <option value="away">{t("desk.presence.away")}</option>
        </select>
      </label>
      <label class="inline">
        <span>{t("desk.presence.capacity")}</span>
        <select value={String(presence.capacity)} onChange={(e) => desk.setPresence({ capacity: Number(e.currentTarget.value) })}>
          {CAPACITIES.map((n) => (
            <option key={n} value={String(n)}>
              {number.format(n)}
            </option>
          ))}
        </select>
      </label>
      <label class="inline check">
        <input type="checkbox" checked={presence.auto} onChange={(e) => desk.setPresence({ auto: e.currentTarget.checked })} />
        <span>{t("desk.presence.auto")}</span>
      </label>
      <TeamsControl />
      <label class="inline check">
        <input type="checkbox" checked={sound} onChange={(e) => signals.sound.set(e.currentTarget.checked)} />
        <span>{t("desk.sound")}</span>
      </label>
      <span class="presence-link" role="status">
        {linkText}
      </span>
    </div>
  );
}

export function ChatsView(): JSX.Element {
  const { desk } = useDesk();
  const { t } = useT();
  const chats = useStore(desk.chats);
  const selected = useStore(desk.selected);
  const problem = useStore(desk.problem);
  const link = useStore(desk.link);
  const announcement = useStore(desk.announcement);
  const chat = chats.find((c) => c.session === selected);

  // What is on screen is read: the selected chat's unread count clears while the view is shown.
  useEffect(() => {
    const look = (): void => {
      desk.watching.set(!document.hidden);
      if (!document.hidden && desk.selected.value) desk.select(desk.selected.value);
    };
    look();
    document.addEventListener("visibilitychange", look);
    return () => {
      document.removeEventListener("visibilitychange", look);
      desk.watching.set(false);
    };
  }, [desk]);

  return (
    <div class="desk">
      <h1>{t("console.view.chats")}</h1>
      <p class="hint desk-privacy">{t("desk.privacy")}</p>
      {link === "replaced" && (
        <div class="notice info">
          <span>{t("desk.link.replaced")}</span>
          <button type="button" class="link" onClick={() => desk.reconnect()}>
            {t("desk.link.reconnect")}
          </button>
        </div>
      )}
      <div role="alert" class="desk-alert">
        {problem && (
          <div class="notice error">
            <span>{errorMessage(t, problem)}</span>
            <button type="button" class="link" onClick={() => desk.problem.set(null)}>
              {t("common.close")}
            </button>
          </div>
        )}
      </div>
      <div class="desk-grid">
        <div class="desk-side">
          <QueueList desk={desk} />
          <ChatList desk={desk} />
        </div>
        {chat ? (
          <ChatPane desk={desk} chat={chat} />
        ) : (
          <section class="card desk-pane empty">
            <p class="hint">{t("desk.chat.none")}</p>
          </section>
        )}
      </div>
      <p class="sr-only" role="status" aria-live="polite">
        {announcement ? t(announcement.key, announcement.params) : ""}
      </p>
    </div>
  );
}

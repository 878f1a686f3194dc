/**
 * One timeline entry as the widget's history and the console's request both show it. The two word
 * the same events for different readers, so each names its catalogue and its classes; the events
 * only support sees (notes, priority, assignee) and the attachments stay with the console's view.
 */
import type { ComponentChildren, JSX } from "preact";
import { formatDateTime, type Lang, type Translate } from "../core/i18n";
import { str, type TimelineItem } from "../core/timeline";
import { topicLabel } from "./ui";

/** Whose timeline: `keys` prefixes the messages (`history.event.created`), `cls` the classes (`hist-item`). */
export interface TimelineLook {
  keys: "history" | "requests";
  cls: "hist" | "req";
  /** The class of a request's first comment (each view sets it off in its own way). */
  commentClass: string;
  status: (t: Translate, status: string) => string;
}

export interface EntryParts {
  kind: string;
  title: string;
  body: ComponentChildren;
}

/** Created, replied, status and topic: the events both timelines show alike; null for the rest. */
export function sharedEntry(t: Translate, item: TimelineItem, look: TimelineLook): EntryParts | null {
  const d = item.data;
  const text = `${look.cls}-text`;
  switch (item.type) {
    case "ticket.created":
      return {
        kind: "message",
        title: t(`${look.keys}.event.created`),
        body: (
          <>
            {str(d.comment) && <p class={look.commentClass}>{str(d.comment)}</p>}
            <p class={text}>{str(d.message)}</p>
          </>
        ),
      };
    case "ticket.replied":
      return {
        kind: d.author_role === "agent" ? "support" : "message",
        title: d.author_role === "agent" ? t(`${look.keys}.event.support_replied`) : t(`${look.keys}.event.user_replied`),
        body: str(d.text) ? <p class={text}>{str(d.text)}</p> : null,
      };
    case "ticket.status_changed": {
      let body: ComponentChildren = null;
      if (d.reason === "user_replied") body = <p class="hint">{t(`${look.keys}.event.reason.user_replied`)}</p>;
      else if (str(d.reason)) body = <p class={text}>{str(d.reason)}</p>;
      return { kind: "event", title: t(`${look.keys}.event.status`, { old: look.status(t, str(d.old)), new: look.status(t, str(d.new)) }), body };
    }
    case "ticket.topic_changed":
      return { kind: "event", title: t(`${look.keys}.event.topic`, { old: topicLabel(t, str(d.old)), new: topicLabel(t, str(d.new)) }), body: null };
    default:
      return null;
  }
}

/** The entry's frame: who and when, then `flag` (if any), the title, the body and `children`. */
export function EntryFrame({
  look,
  lang,
  item,
  actor,
  parts,
  flag,
  children,
}: {
  look: TimelineLook;
  lang: Lang;
  item: TimelineItem;
  actor: string;
  parts: EntryParts;
  flag?: ComponentChildren;
  children?: ComponentChildren;
}): JSX.Element {
  return (
    <li class={`${look.cls}-item ${look.cls}-${parts.kind}`}>
      <div class={`${look.cls}-item-head`}>
        <span class={`${look.cls}-actor`}>{actor}</span>
        <time dateTime={item.occurred_at}>{formatDateTime(lang, item.occurred_at)}</time>
      </div>
      {flag}
      <p class={`${look.cls}-item-title`}>{parts.title}</p>
      {parts.body}
      {children}
    </li>
  );
}

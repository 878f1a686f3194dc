/**
 * A small Markdown subset (headings, paragraphs, lists, **bold**, *italic*, `code`) turned into
 * elements whose every piece of text is inserted as text: an article can never inject markup.
 */
import type { ComponentChildren, JSX } from "preact";

function inline(text: string): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  const pattern = /(\*\*[^*]+\*\*|`[^`]+`|\*[^*\s][^*]*\*)/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const index = match.index ?? 0;
    if (index > last) out.push(text.slice(last, index));
    const token = match[0];
    if (token.startsWith("**")) out.push(<strong>{token.slice(2, -2)}</strong>);
    else if (token.startsWith("`")) out.push(<code>{token.slice(1, -1)}</code>);
    else out.push(<em>{token.slice(1, -1)}</em>);
    last = index + token.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function Markdown({ source }: { source: string }): JSX.Element {
  const blocks: JSX.Element[] = [];
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  let paragraph: string[] = [];
  let list: { ordered: boolean; items: string[] } | null = null;
  const flush = (): void => {
    if (paragraph.length) blocks.push(<p>{inline(paragraph.join(" "))}</p>);
    paragraph = [];
    if (list) {
      const items = list.items.map((item) => <li>{inline(item)}</li>);
      blocks.push(list.ordered ? <ol>{items}</ol> : <ul>{items}</ul>);
    }
    list = null;
  };
  for (const raw of lines) {
    const line = raw.trim();
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    const bullet = /^[-*+]\s+(.*)$/.exec(line);
    const numbered = /^\d+[.)]\s+(.*)$/.exec(line);
    if (!line) flush();
    else if (heading) {
      flush();
      blocks.push(<h4>{inline(heading[2] ?? "")}</h4>);
    } else if (bullet || numbered) {
      const ordered = Boolean(numbered);
      if (paragraph.length || (list && list.ordered !== ordered)) flush();
      list ??= { ordered, items: [] };
      list.items.push((bullet ?? numbered)?.[1] ?? "");
    } else {
      if (list) flush();
      paragraph.push(line);
    }
  }
  flush();
  return <div class="article-body">{blocks}</div>;
}

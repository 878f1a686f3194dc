import type { JSX } from "preact";

export function MessageView(): JSX.Element {
  return <p>…</p>;
}

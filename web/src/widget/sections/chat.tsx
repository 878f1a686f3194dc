import type { JSX } from "preact";

export function ChatSection(): JSX.Element {
  return <p>…</p>;
}

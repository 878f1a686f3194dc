import type { JSX } from "preact";

export function RequestsView(): JSX.Element {
  return <p>…</p>;
}

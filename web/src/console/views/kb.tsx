import type { JSX } from "preact";

export function KbView(): JSX.Element {
  return <p>…</p>;
}

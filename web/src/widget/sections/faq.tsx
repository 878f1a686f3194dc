import type { JSX } from "preact";

export function FaqSection(): JSX.Element {
  return <p>…</p>;
}

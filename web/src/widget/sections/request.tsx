import type { JSX } from "preact";

export function RequestSection(): JSX.Element {
  return <p>…</p>;
}

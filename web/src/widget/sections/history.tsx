import type { JSX } from "preact";

export function HistorySection(): JSX.Element {
  return <p>…</p>;
}

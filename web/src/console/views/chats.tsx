import type { JSX } from "preact";
import { Store } from "../../widget/core/store";

const none = { waitingCount: new Store(0) };

/** The specialist's chat desk (connection, presence, queue), shared by the header and the view. */
export function useDesk(): { waitingCount: Store<number> } {
  return none;
}

export function PresenceControl(): JSX.Element | null {
  return null;
}

export function ChatsView(): JSX.Element {
  return <p>…</p>;
}

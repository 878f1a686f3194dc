/**
 * Requests: the inbox of every account's requests and, beside it (below on narrow screens), the
 * request open in the URL (`#/requests/<id>`). Both follow the live ticket stream.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { register } from "../../widget/core/i18n";
import { useConsole, useStore } from "../hooks";
import { requestsStrings } from "../i18n/requests";
import { RequestDetail } from "../requests/detail";
import { Inbox } from "../requests/inbox";
import { LiveTickets } from "../requests/live";

register(requestsStrings);

export function RequestsView(): JSX.Element {
  const ctx = useConsole();
  const route = useStore(ctx.route);
  const [live] = useState(() => new LiveTickets(ctx.api, ctx.tokens));
  useEffect(() => {
    live.start();
    return () => live.stop();
  }, [live]);
  const openId = route.view === "requests" ? route.ticketId : undefined;
  return (
    <div class={openId ? "req-layout req-with-detail" : "req-layout"}>
      <Inbox live={live} openId={openId} />
      {openId && <RequestDetail ticketId={openId} live={live} onClose={() => ctx.go({ view: "requests" })} />}
    </div>
  );
}

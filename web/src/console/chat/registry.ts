/**
 * One desk per console page and signed-in specialist: created the first time the header, the nav or
 * the Chats view asks for it, started when a specialist signs in and stopped (everything forgotten)
 * when they sign out, so it keeps running while the specialist works in another view.
 */
import type { Store } from "../../widget/core/store";
import type { ConsoleContext } from "../context";
import { Desk } from "./desk";
import { Signals } from "./signals";

export interface DeskHandle {
  desk: Desk;
  signals: Signals;
  waitingCount: Store<number>;
}

const desks = new WeakMap<ConsoleContext, DeskHandle>();

export function deskFor(ctx: ConsoleContext): DeskHandle {
  let handle = desks.get(ctx);
  if (handle) return handle;
  const desk = new Desk(ctx);
  const signals = new Signals(ctx, desk);
  handle = { desk, signals, waitingCount: desk.waitingCount };
  desks.set(ctx, handle);
  // Chats are for support specialists (role agent); a knowledge-base editor never connects.
  const follow = (specialist: boolean): void => {
    if (specialist) desk.start();
    else desk.stop();
  };
  ctx.agent.subscribe((agent) => follow(agent?.role === "agent"));
  follow(ctx.agent.value?.role === "agent");
  return handle;
}

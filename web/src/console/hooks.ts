/** Preact glue for the console; the generic hooks are the widget's own. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { translator, type Lang, type Translate } from "../widget/core/i18n";
import { useStore } from "../widget/panel/hooks";
import type { ConsoleContext } from "./context";

export { useDebounced, useId, useLatest, useStore } from "../widget/panel/hooks";

export const ConsoleCtx = createContext<ConsoleContext | null>(null);

export function useConsole(): ConsoleContext {
  const ctx = useContext(ConsoleCtx);
  if (!ctx) throw new Error("console context missing");
  return ctx;
}

export function useT(): { t: Translate; lang: Lang } {
  const ctx = useConsole();
  const lang = useStore(ctx.lang);
  return { t: translator(lang), lang };
}

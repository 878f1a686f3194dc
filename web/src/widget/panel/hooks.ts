/** Preact glue for the widget's stores and context; every section uses these and nothing global. */
import { createContext } from "preact";
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import type { WidgetContext } from "../core/context";
import { translator, type Lang, type Translate } from "../core/i18n";
import type { Store } from "../core/store";

export const Ctx = createContext<WidgetContext | null>(null);
/** The language store, for components shared with the console (which has no WidgetContext). */
export const LangCtx = createContext<Store<Lang> | null>(null);

export function useWidget(): WidgetContext {
  const ctx = useContext(Ctx);
  if (!ctx) throw new Error("widget context missing");
  return ctx;
}

export function useStore<T>(store: Store<T>): T {
  const [value, setValue] = useState(store.value);
  useEffect(() => {
    setValue(store.value);
    return store.subscribe(setValue);
  }, [store]);
  return value;
}

/** The current language and its translate function. */
export function useT(): { t: Translate; lang: Lang } {
  const store = useContext(LangCtx) ?? useContext(Ctx)?.lang;
  if (!store) throw new Error("no language in context");
  const lang = useStore(store);
  return { t: translator(lang), lang };
}

/** `value` once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/**
 * Runs `load` whenever `key` changes; an answer to an older key never overwrites a newer one
 * (each run gets its own AbortSignal and a sequence check).
 */
export function useLatest<T>(
  key: string,
  load: (signal: AbortSignal) => Promise<T>,
): { data: T | undefined; error: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const seq = useRef(0);
  const [bump, setBump] = useState(0);
  useEffect(() => {
    const mine = ++seq.current;
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true, error: null }));
    load(controller.signal).then(
      (data) => {
        if (mine === seq.current) setState({ data, error: null, loading: false });
      },
      (error: unknown) => {
        if (mine === seq.current && !(error instanceof DOMException && error.name === "AbortError")) {
          setState((s) => ({ ...s, error, loading: false }));
        }
      },
    );
    return () => controller.abort();
  }, [key, bump]);
  return { ...state, reload: () => setBump((n) => n + 1) };
}

/** A stable id for label/aria wiring, unique within the shadow root. */
let counter = 0;
export function useId(prefix: string): string {
  const ref = useRef<string | undefined>(undefined);
  ref.current ??= `${prefix}-${++counter}`;
  return ref.current;
}

/** Pieces both history views share: the request-form policy, a paged list loader, the date range. */
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { WidgetContext } from "../../core/context";
import { localDay } from "../../core/i18n";
import { useId, useStore, useT } from "../../panel/hooks";

export interface RequestForm {
  topics: { id: string; name: string }[];
  max_file_bytes: number;
  allowed_types: string[];
  allowed_extensions: string[];
  message_max: number;
}

const forms = new WeakMap<WidgetContext, Map<string, Promise<RequestForm>>>();

/** GET /api/v1/request-form once per widget and language (topic names are in the widget's language);
 * a failure is forgotten, so a retry asks again. */
export function requestForm(ctx: WidgetContext): Promise<RequestForm> {
  const lang = ctx.lang.value;
  const byLang = forms.get(ctx) ?? new Map<string, Promise<RequestForm>>();
  forms.set(ctx, byLang);
  let known = byLang.get(lang);
  if (!known) {
    known = ctx.api.get<RequestForm>(`/api/v1/request-form?lang=${lang}`);
    known.catch(() => byLang.delete(lang));
    byLang.set(lang, known);
  }
  return known;
}

export function useRequestForm(ctx: WidgetContext): { form: RequestForm | null; error: unknown; retry: () => void } {
  const [state, setState] = useState<{ form: RequestForm | null; error: unknown }>({ form: null, error: null });
  const [bump, setBump] = useState(0);
  const lang = useStore(ctx.lang);
  useEffect(() => {
    let live = true;
    requestForm(ctx).then(
      (form) => live && setState({ form, error: null }),
      (error: unknown) => live && setState({ form: null, error }),
    );
    return () => {
      live = false;
    };
  }, [bump, lang]);
  return { ...state, retry: () => setBump((n) => n + 1) };
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Paged<T> {
  items: T[];
  loading: boolean;
  error: unknown;
  hasMore: boolean;
  loadingMore: boolean;
  moreError: unknown;
  reload: () => void;
  more: () => void;
}

/**
 * A list read page by page ("Show more"). `key` null: nothing to load (the filters are invalid).
 * An answer for an older key, or an older reload, never lands in the list.
 */
export function usePaged<T>(key: string | null, load: (cursor: string | null, signal: AbortSignal) => Promise<Page<T>>): Paged<T> {
  const [state, setState] = useState({
    items: [] as T[],
    next: null as string | null,
    loading: key !== null,
    error: null as unknown,
    loadingMore: false,
    moreError: null as unknown,
  });
  const seq = useRef(0);
  const controller = useRef<AbortController | null>(null);
  const [bump, setBump] = useState(0);
  const aborted = (error: unknown): boolean => error instanceof DOMException && error.name === "AbortError";

  useEffect(() => {
    const mine = ++seq.current;
    controller.current?.abort();
    if (key === null) {
      setState({ items: [], next: null, loading: false, error: null, loadingMore: false, moreError: null });
      return;
    }
    const own = new AbortController();
    controller.current = own;
    setState((s) => ({ ...s, loading: true, error: null, moreError: null, loadingMore: false }));
    load(null, own.signal).then(
      (page) => {
        if (mine === seq.current) setState({ items: page.items, next: page.next_cursor, loading: false, error: null, loadingMore: false, moreError: null });
      },
      (error: unknown) => {
        if (mine === seq.current && !aborted(error)) setState((s) => ({ ...s, items: [], next: null, loading: false, error }));
      },
    );
    return () => own.abort();
  }, [key, bump]);

  const more = (): void => {
    if (!state.next || state.loadingMore || state.loading) return;
    const mine = seq.current;
    const signal = controller.current?.signal ?? new AbortController().signal;
    setState((s) => ({ ...s, loadingMore: true, moreError: null }));
    load(state.next, signal).then(
      (page) => {
        if (mine === seq.current) setState((s) => ({ ...s, items: [...s.items, ...page.items], next: page.next_cursor, loadingMore: false }));
      },
      (error: unknown) => {
        if (mine === seq.current && !aborted(error)) setState((s) => ({ ...s, loadingMore: false, moreError: error }));
      },
    );
  };

  return {
    items: state.items,
    loading: state.loading,
    error: state.error,
    hasMore: state.next !== null,
    loadingMore: state.loadingMore,
    moreError: state.moreError,
    reload: () => setBump((n) => n + 1),
    more,
  };
}

export interface Range {
  from: string;
  to: string;
}

export function rangeValid(range: Range): boolean {
  return !range.from || !range.to || range.from <= range.to;
}

/** Two calendars, "From" and "To" (days in the user's own time zone, sent with `tz`). */
export function DateRange({ value, onChange, legend }: { value: Range; onChange: (next: Range) => void; legend: string }): JSX.Element {
  const { t } = useT();
  const id = useId("hd-range");
  const today = localDay(new Date());
  const invalid = !rangeValid(value);
  return (
    <fieldset class="hist-range">
      <legend>{legend}</legend>
      <div class="hist-range-fields">
        <div class="field">
          <label for={`${id}-from`}>{t("history.filter.from")}</label>
          <input
            id={`${id}-from`}
            type="date"
            value={value.from}
            max={value.to || today}
            aria-invalid={invalid}
            aria-describedby={invalid ? `${id}-error` : undefined}
            onChange={(e) => onChange({ ...value, from: (e.currentTarget as HTMLInputElement).value })}
          />
        </div>
        <div class="field">
          <label for={`${id}-to`}>{t("history.filter.to")}</label>
          <input
            id={`${id}-to`}
            type="date"
            value={value.to}
            min={value.from || undefined}
            max={today}
            aria-invalid={invalid}
            aria-describedby={invalid ? `${id}-error` : undefined}
            onChange={(e) => onChange({ ...value, to: (e.currentTarget as HTMLInputElement).value })}
          />
        </div>
      </div>
      {invalid && (
        <p class="field-error" id={`${id}-error`} role="alert">
          {t("history.filter.range_invalid")}
        </p>
      )}
    </fieldset>
  );
}

export function MoreButton({ paged, label }: { paged: Paged<unknown>; label: string }): JSX.Element | null {
  const { t } = useT();
  if (!paged.hasMore && !paged.moreError) return null;
  return (
    <div class="hist-more">
      {paged.moreError ? (
        <div class="notice error" role="alert">
          <span>{t("history.more_failed")}</span>
          <button type="button" class="link" onClick={paged.more}>
            {t("common.retry")}
          </button>
        </div>
      ) : (
        <button type="button" class="button secondary" aria-disabled={paged.loadingMore} onClick={paged.more}>
          {paged.loadingMore ? t("history.loading_more") : label}
        </button>
      )}
    </div>
  );
}

/** One filter as a drop-down: "all" (the empty value) first, then the `children` options. */
export function FilterSelect({
  id,
  label,
  all,
  value,
  onChange,
  children,
}: {
  id: string;
  label: string;
  all: string;
  value: string;
  onChange: (next: string) => void;
  children: ComponentChildren;
}): JSX.Element {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
        <option value="">{all}</option>
        {children}
      </select>
    </div>
  );
}

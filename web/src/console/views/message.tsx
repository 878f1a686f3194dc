/**
 * A direct message from support to one user of a hotel account, or to every user of it
 * (POST /api/v1/messages); it reaches them as a popup. Pre-filled from the route when opened
 * from a request.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../../widget/core/api";
import { register } from "../../widget/core/i18n";
import { popupStrings } from "../../widget/i18n/popups";
import { ErrorNotice, FieldNotes, describedBy } from "../../widget/panel/ui";
import { useConsole, useStore, useT } from "../hooks";
import { messageStrings } from "../i18n/message";

register(popupStrings);
register(messageStrings);

type Mode = "user" | "account";
type Name = "account" | "user" | "title" | "text";
type Errors = Partial<Record<Name | "form", string>>;

const ACCOUNT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const SERVER_FIELDS: Record<string, Name> = { account_id: "account", user_id: "user", title: "title", text: "text" };

/** One key per message written, so a retried send raises one popup. */
function newKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

interface Sent {
  mode: Mode;
  account: string;
  user: string;
}

export function MessageView(): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const route = useStore(ctx.route);
  const [mode, setMode] = useState<Mode>(route.accountId && !route.userId ? "account" : "user");
  const [account, setAccount] = useState(route.accountId ?? "");
  const [user, setUser] = useState(route.userId ?? "");
  const [title, setTitle] = useState("");
  const [text, setText] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<Sent | null>(null);
  const key = useRef(newKey());
  const form = useRef<HTMLFormElement>(null);
  const done = useRef<HTMLDivElement>(null);

  // Opened (again) from a request: that request's account and user.
  useEffect(() => {
    if (!route.accountId) return;
    setAccount(route.accountId);
    setUser(route.userId ?? "");
    setMode(route.userId ? "user" : "account");
    setSent(null);
  }, [route.accountId, route.userId]);

  useEffect(() => {
    form.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [errors]);
  useEffect(() => {
    if (sent) done.current?.focus();
  }, [sent]);

  const check = (): Errors => {
    const out: Errors = {};
    if (!account.trim()) out.account = t("message.error.required");
    else if (!ACCOUNT_ID.test(account.trim())) out.account = t("message.error.account");
    if (mode === "user" && !user.trim()) out.user = t("message.error.required");
    if (!title.trim()) out.title = t("message.error.required");
    if (!text.trim()) out.text = t("message.error.required");
    return out;
  };

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (busy) return;
    setFailure(null);
    const problems = check();
    setErrors(problems);
    if (Object.keys(problems).length) return;
    setBusy(true);
    try {
      await ctx.api.post("/api/v1/messages", {
        json: { account_id: account.trim(), user_id: mode === "user" ? user.trim() : null, title: title.trim(), text: text.trim() },
        headers: { "Idempotency-Key": key.current },
      });
      key.current = newKey();
      setSent({ mode, account: account.trim(), user: user.trim() });
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        const out: Errors = { form: t("message.error.form") };
        const details = Array.isArray(error.details) ? (error.details as { loc?: unknown[]; msg?: string }[]) : [];
        for (const d of details) {
          const name = SERVER_FIELDS[String(d.loc?.[1] ?? "")];
          if (name) out[name] ??= d.msg ?? "";
        }
        if (!details.length) out.text = error.message;
        setErrors(out);
      } else setFailure(error);
    } finally {
      setBusy(false);
    }
  };

  const field = (name: Name, label: string, hint?: string) => {
    const id = `msg-${name}`;
    const error = errors[name];
    return {
      label: <label for={id}>{label}</label>,
      attrs: { id, "aria-invalid": error ? ("true" as const) : undefined, "aria-describedby": describedBy(id, hint, error), "aria-required": "true" as const },
      after: <FieldNotes id={id} hint={hint} error={error} />,
    };
  };

  if (sent) {
    return (
      <div class="msg">
        <h1>{t("message.title")}</h1>
        <div class="notice success" role="status" tabIndex={-1} ref={done}>
          <span>
            {sent.mode === "user"
              ? t("message.sent.user", { user: sent.user, account: sent.account })
              : t("message.sent.account", { account: sent.account })}
          </span>
        </div>
        <button
          type="button"
          class="button"
          onClick={() => {
            setTitle("");
            setText("");
            setSent(null);
          }}
        >
          {t("message.another")}
        </button>
      </div>
    );
  }

  const fAccount = field("account", t("message.account"));
  const fUser = field("user", t("message.user"), t("message.user.hint"));
  const fTitle = field("title", t("message.subject"));
  const fText = field("text", t("message.text"));
  /** The typed value; the field's error goes once the specialist changes it. */
  const input = (name: Name, e: Event): string => {
    if (errors[name]) setErrors((old) => ({ ...old, [name]: undefined }));
    return (e.currentTarget as HTMLInputElement).value;
  };

  return (
    <div class="msg">
      <h1>{t("message.title")}</h1>
      <p class="hint">{t("message.intro")}</p>
      <div class="msg-split">
        <form ref={form} class="card" noValidate onSubmit={(e) => void submit(e)} aria-label={t("message.title")}>
          {errors.form && (
            <div class="notice error" role="alert">
              {errors.form}
            </div>
          )}
          <ErrorNotice error={failure} />
          <fieldset class="msg-to">
            <legend>{t("message.to")}</legend>
            {(["user", "account"] as const).map((value) => (
              <label key={value} class="msg-choice">
                <input type="radio" name="msg-mode" value={value} checked={mode === value} onChange={() => setMode(value)} />
                <span>{t(`message.to.${value}`)}</span>
              </label>
            ))}
          </fieldset>
          <div class="field">
            {fAccount.label}
            <input type="text" autoComplete="off" spellcheck={false} maxLength={64} value={account} onInput={(e) => setAccount(input("account", e))} {...fAccount.attrs} />
            {fAccount.after}
          </div>
          {mode === "user" && (
            <div class="field">
              {fUser.label}
              <input type="text" autoComplete="off" spellcheck={false} maxLength={128} value={user} onInput={(e) => setUser(input("user", e))} {...fUser.attrs} />
              {fUser.after}
            </div>
          )}
          <div class="field">
            {fTitle.label}
            <input type="text" maxLength={200} value={title} onInput={(e) => setTitle(input("title", e))} {...fTitle.attrs} />
            {fTitle.after}
          </div>
          <div class="field">
            {fText.label}
            <textarea rows={7} maxLength={4000} value={text} onInput={(e) => setText(input("text", e))} {...fText.attrs} />
            {fText.after}
          </div>
          <button type="submit" class="button" disabled={busy}>
            {busy ? t("message.sending") : t("message.send")}
          </button>
        </form>
        <section class="msg-preview" aria-labelledby="msg-preview-title">
          <h2 id="msg-preview-title">{t("message.preview")}</h2>
          <div class="msg-popup">
            <p class="msg-popup-heading">{t("popups.heading.message")}</p>
            {title.trim() && <p class="msg-popup-title">{title}</p>}
            <p class="msg-popup-text">{text}</p>
            <p class="msg-popup-hint">{t("popups.hint")}</p>
          </div>
          <p class="hint">{t("message.preview.note")}</p>
        </section>
      </div>
    </div>
  );
}

/**
 * Sign-in. In production the company's identity provider hands the console a JWT (role `agent`
 * or `editor`): either in the URL fragment (`/console/#access_token=…`, read once and removed from
 * the address bar) or pasted here. The embedded demo has a one-click demo specialist.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { useConsole, useT } from "./hooks";

async function demoToken(): Promise<string> {
  const response = await fetch("/api/v1/dev/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ role: "agent", account_id: null, sub: "agent-demo", name: "Iryna Support" }),
  });
  if (!response.ok) throw new Error(String(response.status));
  return ((await response.json()) as { access_token: string }).access_token;
}

export function SignIn(): JSX.Element {
  const ctx = useConsole();
  const { t } = useT();
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState(false);

  const attempt = async (provider: () => Promise<string> | string): Promise<void> => {
    setBusy(true);
    setFailed(false);
    try {
      await ctx.signIn(provider);
    } catch {
      ctx.signOut();
      setFailed(true);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
    const given = fragment.get("access_token");
    if (given) {
      history.replaceState(null, "", location.pathname);
      void attempt(() => given);
    }
  }, []);

  return (
    <main class="signin" aria-labelledby="signin-title">
      <h1 id="signin-title">{t("signin.title")}</h1>
      <p>{t("signin.intro")}</p>
      <div class="card">
        <button type="button" class="button" disabled={busy} onClick={() => void attempt(demoToken)}>
          {t("signin.demo")}
        </button>
        <p class="hint">{t("signin.demo.hint")}</p>
      </div>
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          const value = token.trim();
          if (value) void attempt(() => value);
        }}
      >
        <label for="signin-token">{t("signin.token")}</label>
        <textarea id="signin-token" rows={3} value={token} autoComplete="off" spellcheck={false} onInput={(e) => setToken((e.currentTarget as HTMLTextAreaElement).value)} />
        <button type="submit" class="button secondary" disabled={busy || !token.trim()}>
          {t("signin.token.submit")}
        </button>
      </form>
      {busy && <p role="status">{t("signin.working")}</p>}
      {failed && (
        <p class="notice error" role="alert">
          {t("signin.failed")}
        </p>
      )}
    </main>
  );
}

/**
 * The demo host page: an OtelMS screen that signs in as the demo hotel user through the development
 * token endpoint (served only when the system runs in development) and hands the widget a callback
 * that fetches a fresh short-lived token whenever the widget asks for one.
 */
interface HelpElement extends HTMLElement {
  tokenProvider: (() => Promise<string>) | null;
}

const params = new URLSearchParams(location.search);
const DEMO = {
  role: params.get("role") ?? "user",
  account_id: params.get("account") ?? "demo-hotel",
  sub: params.get("user") ?? "demo-user",
  name: params.get("name") ?? "Demo Reception",
};

async function demoToken(): Promise<string> {
  const response = await fetch("/api/v1/dev/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(DEMO),
  });
  if (!response.ok) throw new Error(`sign-in failed: ${response.status}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function signIn(): Promise<void> {
  const status = document.getElementById("signin-status");
  const help = document.querySelector<HelpElement>("otelms-help");
  if (!help) return;
  await customElements.whenDefined("otelms-help");
  try {
    await demoToken();
    help.tokenProvider = demoToken;
    if (status) status.textContent = `Ви увійшли як ${DEMO.name} (${DEMO.account_id}). Натисніть «Допомога» вгорі праворуч.`;
  } catch (error) {
    if (status) status.textContent = `Не вдалося увійти: ${String(error)}`;
  }
}

function followLanguage(): void {
  const select = document.getElementById("page-lang") as HTMLSelectElement | null;
  const initial = params.get("lang");
  if (initial) document.documentElement.lang = initial;
  if (!select) return;
  select.value = document.documentElement.lang;
  select.addEventListener("change", () => {
    document.documentElement.lang = select.value;
  });
}

const user = document.getElementById("demo-user");
if (user) user.textContent = DEMO.name;
followLanguage();
document.getElementById("signin-again")?.addEventListener("click", () => void signIn());
void signIn();

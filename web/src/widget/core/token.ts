/**
 * The short-lived JWT the host page hands over through its callback. Kept in memory only (never in
 * localStorage); asked for again shortly before it expires, or at once after a 401.
 */
export type TokenProvider = () => Promise<string> | string;

const REFRESH_BEFORE_MS = 60_000;

function expiryOf(token: string): number | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : null;
  } catch {
    return null;
  }
}

export class TokenSource {
  private token: string | null = null;
  private expiresAt = 0;
  private pending: Promise<string> | null = null;
  private provider: TokenProvider | null = null;
  private waiting: Array<() => void> = [];

  setProvider(provider: TokenProvider | null): void {
    this.provider = provider;
    this.token = null;
    if (provider) for (const wake of this.waiting.splice(0)) wake();
  }

  get ready(): boolean {
    return this.provider !== null;
  }

  /** The current token, refreshed when it is about to expire; waits for the host's provider. */
  async get(): Promise<string> {
    if (this.token && Date.now() < this.expiresAt - REFRESH_BEFORE_MS) return this.token;
    return this.refresh();
  }

  /** A new token from the host page (after a 401, or before expiry). */
  refresh(): Promise<string> {
    if (this.pending) return this.pending;
    this.pending = (async () => {
      while (!this.provider) await new Promise<void>((wake) => this.waiting.push(wake));
      const token = await this.provider();
      this.token = token;
      this.expiresAt = expiryOf(token) ?? Date.now() + 5 * 60_000;
      return token;
    })().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /** The signed-in user's claims (for the pre-chat form), read from the token without verifying. */
  claims(): { name?: string; sub?: string; account_id?: string } {
    const payload = this.token?.split(".")[1];
    if (!payload) return {};
    try {
      return JSON.parse(decodeURIComponent(escape(atob(payload.replace(/-/g, "+").replace(/_/g, "/")))));
    } catch {
      return {};
    }
  }
}

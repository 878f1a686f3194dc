/** The services' HTTP APIs through the one origin, with the one JSON error shape turned into ApiError. */
import type { TokenSource } from "./token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
  }

  /** True when the request never reached the server (offline, DNS, reset). */
  get network(): boolean {
    return this.status === 0;
  }
}

export type Query = Record<string, string | number | boolean | string[] | null | undefined>;

export interface RequestOptions {
  query?: Query;
  json?: unknown;
  form?: FormData;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (loaded: number, total: number) => void;
}

interface ErrorBody {
  error?: { code?: string; message?: string; details?: unknown };
}

async function toError(status: number, body: string): Promise<ApiError> {
  try {
    const parsed = JSON.parse(body) as ErrorBody;
    if (parsed.error) {
      return new ApiError(status, parsed.error.code ?? "error", parsed.error.message ?? "", parsed.error.details);
    }
  } catch {
    /* not the error shape: a proxy page or an empty body */
  }
  return new ApiError(status, status === 0 ? "network" : "http_" + status, body.slice(0, 200));
}

export class Api {
  constructor(
    readonly base: string,
    private readonly tokens: TokenSource,
  ) {}

  url(path: string, query?: Query): string {
    const url = new URL(path, this.base);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === null || value === undefined || value === "") continue;
      if (Array.isArray(value)) for (const item of value) url.searchParams.append(key, item);
      else url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  async get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.send<T>("GET", path, options);
  }

  async post<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.send<T>("POST", path, options);
  }

  /** One request; a 401 asks the host page for a new token and tries once more. */
  async send<T>(method: string, path: string, options: RequestOptions, retried = false): Promise<T> {
    const token = await this.tokens.get();
    const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
    headers.Authorization = `Bearer ${token}`;
    let body: BodyInit | undefined;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.form) {
      body = options.form;
    }
    const url = this.url(path, options.query);
    const { status, text } = options.onProgress
      ? await xhr(method, url, headers, body, options)
      : await fetchText(method, url, headers, body, options.signal);
    if (status === 401 && !retried) {
      await this.tokens.refresh();
      return this.send<T>(method, path, options, true);
    }
    if (status < 200 || status >= 300) throw await toError(status, text);
    return (text ? JSON.parse(text) : null) as T;
  }

  /** A file download through the authorised endpoint, handed to the browser as a blob. */
  async download(path: string, filename: string): Promise<void> {
    const token = await this.tokens.get();
    const response = await fetch(this.url(path), { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) throw await toError(response.status, await response.text());
    const href = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = href;
    link.download = filename;
    link.rel = "noopener";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 10_000);
  }
}

async function fetchText(
  method: string,
  url: string,
  headers: Record<string, string>,
  body: BodyInit | undefined,
  signal: AbortSignal | undefined,
): Promise<{ status: number; text: string }> {
  try {
    const response = await fetch(url, { method, headers, body, signal, credentials: "same-origin" });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    return { status: 0, text: "" };
  }
}

/** XMLHttpRequest, for the one thing fetch cannot do: report upload progress. */
function xhr(
  method: string,
  url: string,
  headers: Record<string, string>,
  body: BodyInit | undefined,
  options: RequestOptions,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, url);
    for (const [key, value] of Object.entries(headers)) request.setRequestHeader(key, value);
    request.upload.onprogress = (event) => options.onProgress?.(event.loaded, event.total);
    request.onload = () => resolve({ status: request.status, text: request.responseText });
    request.onerror = () => resolve({ status: 0, text: "" });
    request.onabort = () => reject(new DOMException("aborted", "AbortError"));
    options.signal?.addEventListener("abort", () => request.abort());
    request.send((body as XMLHttpRequestBodyInit | undefined) ?? null);
  });
}

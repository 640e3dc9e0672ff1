import { getToken } from './auth-token';

/** An answer other than 2xx, with the API's error code and message when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly parameter: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

// Same origin by default (`tasklens api` serves the page); VITE_API_BASE_URL points elsewhere.
const baseUrl: string = (import.meta.env.VITE_API_BASE_URL as string | undefined) ?? '';

export type QueryParams = Record<string, string | number | null | undefined>;

export function apiUrl(path: string, params: QueryParams = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
  }
  const query = search.toString();
  return `${baseUrl}${path}${query ? `?${query}` : ''}`;
}

export async function apiGet<T>(
  path: string,
  params: QueryParams = {},
  signal?: AbortSignal,
): Promise<T> {
  return request<T>(apiUrl(path, params), { method: 'GET' }, signal);
}

/** POSTs `body` as JSON; same token and error handling as `apiGet`. */
export async function apiPost<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return request<T>(apiUrl(path), { method: 'POST', body: JSON.stringify(body), json: true }, signal);
}

async function request<T>(
  url: string,
  init: { method: 'GET' | 'POST'; body?: string; json?: boolean },
  signal?: AbortSignal,
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (init.json) headers['Content-Type'] = 'application/json';
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(url, { method: init.method, headers, body: init.body, signal });
  } catch (cause) {
    if (signal?.aborted) throw cause;
    throw new ApiError(0, 'network', 'The dashboard API cannot be reached.');
  }
  if (!response.ok) {
    let code = 'http_error';
    let message = `The API answered ${response.status} ${response.statusText}`.trim();
    let parameter: string | null = null;
    try {
      const body = (await response.json()) as { error?: string; message?: string; parameter?: string };
      if (body.error) code = body.error;
      if (body.message) message = body.message;
      if (body.parameter) parameter = body.parameter;
    } catch {
      // Not JSON (a proxy's page, for instance): keep the status line.
    }
    throw new ApiError(response.status, code, message, parameter);
  }
  return (await response.json()) as T;
}

/** The WebSocket URL of a path on the API, with the token as `?token=` (browsers cannot set headers). */
export function apiWebSocketUrl(path: string): string {
  const base = baseUrl || window.location.origin;
  const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const token = getToken();
  if (token) url.searchParams.set('token', token);
  return url.toString();
}

export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 0) return error.message;
    if (error.status === 401) return 'The API wants a token: open the page with ?token=… .';
    if (error.status === 503) return `The database is unavailable: ${error.message}`;
    return `${error.message} (${error.status})`;
  }
  return error instanceof Error ? error.message : String(error);
}

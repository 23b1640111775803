import { authHeaders, requireAuth } from './token';
import type { ApiErrorBody } from './types';

/** An /api answer that was not a success, with the API's error code (or a transport problem's). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body?: ApiErrorBody,
  ) {
    super(message);
  }
}

/** Reads the API's `{ error: { code, message } }`, or names what came instead. */
async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as ApiErrorBody;
    if (typeof body?.error?.code === 'string') return new ApiError(res.status, body.error.code, body.error.message ?? '', body);
  } catch {
    // not the API's error shape; described below
  }
  return new ApiError(res.status, `HTTP_${res.status}`, text.slice(0, 200) || res.statusText);
}

/** One authenticated request to the admin API; a 401 also asks the operator for a token. */
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers as Record<string, string> | undefined) } });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', `the gateway did not answer (${(err as Error).message})`);
  }
  if (res.ok) return res;
  const error = await errorOf(res);
  if (res.status === 401) requireAuth();
  throw error;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await apiFetch(path, { headers: { accept: 'application/json' } })).json() as Promise<T>;
}

export async function sendJson<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { ...(init.headers as Record<string, string>), 'content-type': 'application/json' };
  }
  return (await apiFetch(path, init)).json() as Promise<T>;
}

/** `/api/v1/charge-points/<id>`: identities may hold any character, so each is one encoded path segment. */
export function chargerPath(id: string, rest = ''): string {
  return `/api/v1/charge-points/${encodeURIComponent(id)}${rest}`;
}

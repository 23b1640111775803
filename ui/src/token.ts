/**
 * The admin token the operator typed. It stays in sessionStorage: it survives a reload of the tab but not the
 * tab itself, and is never written anywhere the next person at the machine would find it.
 */

const KEY = 'ocpp-gateway.admin-token';

type Listener = () => void;
const tokenListeners = new Set<Listener>();
const authListeners = new Set<Listener>();

export function currentToken(): string | undefined {
  try {
    return sessionStorage.getItem(KEY) ?? undefined;
  } catch {
    // Storage can be disabled; the page then asks again after a reload.
    return memoryToken;
  }
}

let memoryToken: string | undefined;

export function setToken(token: string | undefined): void {
  memoryToken = token;
  try {
    if (token === undefined) sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, token);
  } catch {
    // memoryToken keeps it for this page
  }
  for (const listener of tokenListeners) listener();
}

/** The Authorization header for the current token, if any. */
export function authHeaders(): Record<string, string> {
  const token = currentToken();
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/** Told when the token changes (streams waiting for one start again). */
export function onTokenChange(listener: Listener): () => void {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
}

/** Something answered 401: the page shows the token field. */
export function requireAuth(): void {
  for (const listener of authListeners) listener();
}

export function onAuthRequired(listener: Listener): () => void {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}

// The inbox calls Charla's own APIs with its session cookie, like an integrator with a key:
// LeadConnector conversations/messages/contacts, ChatCaptain inbox widgets, and /inbox/api.

let csrf = '';
export const setCsrf = (token: string) => {
  csrf = token;
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the session is gone (401): the app goes back to the sign-in screen. */
export let onSignedOut: () => void = () => {};
export const whenSignedOut = (fn: () => void) => {
  onSignedOut = fn;
};

// biome-ignore lint/suspicious/noExplicitAny: callers name the shape they read
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Version: '2021-07-28' };
  if (method !== 'GET') headers['X-Charla-CSRF'] = csrf;
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload, credentials: 'include' });
  const text = await res.text();
  let data: { error?: { message?: string }; message?: string | string[] } | undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    if (res.status === 401 && !path.endsWith('/login')) onSignedOut();
    const msg = data?.error?.message ?? data?.message ?? res.statusText;
    throw new ApiError(res.status, Array.isArray(msg) ? msg.join(', ') : String(msg));
  }
  return data as T;
}

export const qs = (params: Record<string, string | number | undefined | null | string[]>) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) for (const x of v) u.append(`${k}[]`, x);
    else u.set(k, String(v));
  }
  return u.toString();
};

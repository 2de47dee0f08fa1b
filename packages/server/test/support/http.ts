export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A small JSON client over real HTTP. */
export function client(base: string, defaults: Record<string, string> = {}) {
  return async function request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> {
    const res = await fetch(base + path, {
      method,
      headers: {
        ...defaults,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  };
}

/** Headers a LeadConnector client sends. */
export const lc = (key: string, version = '2021-07-28') => ({ authorization: `Bearer ${key}`, version });

// Shared by the inbox suites: agents with passwords, and a cookie-keeping client that signs in.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createUser } from '../../src/core/users/service.js';
import type { TestCharla } from '../support/charla.js';
import type { Reply } from '../support/http.js';

export const PASSWORD = 'correct horse battery';

export async function agent(
  t: TestCharla,
  locationIds: string[],
  name = 'Ana Agent',
): Promise<{ id: string; email: string }> {
  const email = `agent-${randomUUID().slice(0, 8)}@example.com`;
  const u = await createUser(t.charla.ctx.db, {
    email,
    name,
    role: 'agent',
    password: PASSWORD,
    locationIds,
  });
  return { id: u.id, email };
}

/** A browser-like client: keeps the session cookie, sends Origin, and the CSRF header once known. */
export function browser(t: TestCharla, origin: string = t.url) {
  let cookie = '';
  let csrf = '';
  const request = async <T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> => {
    const res = await fetch(t.url + path, {
      method,
      headers: {
        origin,
        version: '2021-07-28',
        ...(cookie ? { cookie } : {}),
        ...(csrf ? { 'x-charla-csrf': csrf } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const set = res.headers.get('set-cookie');
    if (set) cookie = set.split(';')[0]!.endsWith('=') ? '' : set.split(';')[0]!;
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  };
  return {
    request,
    get cookie() {
      return cookie;
    },
    set cookie(v: string) {
      cookie = v;
    },
    get csrf() {
      return csrf;
    },
    set csrf(v: string) {
      csrf = v;
    },
    async login(email: string, password = PASSWORD) {
      const res = await request('POST', '/inbox/api/login', { email, password });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      csrf = res.body.csrfToken;
      return res.body;
    },
  };
}

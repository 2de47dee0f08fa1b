// Shared by the public web-chat suites: channels made through the widget core, visitor sessions,
// and a JSON client that sends an Origin.
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { createWidget } from '../../src/core/widgets/service.js';
import type { TestCharla } from '../support/charla.js';
import { client, type Reply } from '../support/http.js';

export const ORIGIN = 'https://shop.example';

export interface TestChannel {
  id: string;
  locationId: string;
  token: string;
}

export async function channel(
  t: TestCharla,
  locationId: string,
  settings: Record<string, unknown> = {},
): Promise<TestChannel> {
  const w = await createWidget(t.charla.ctx.db, 'test', {
    locationId,
    name: 'Website chat',
    chatType: 'liveChat',
    settings,
  });
  return { id: w.id, locationId, token: w.publicToken };
}

export const api = (t: TestCharla, origin: string | null = ORIGIN) => client(t.url, origin ? { origin } : {});

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export const sign = (secret: string, value: string) =>
  createHmac('sha256', secret).update(value).digest('hex');

export async function session(
  t: TestCharla,
  ch: TestChannel,
  body: Record<string, unknown> = {},
): Promise<{ sessionToken: string; visitorId: string; contactId: string; identityVerified: boolean }> {
  const res = await api(t)('POST', `/web-chat/${ch.token}/sessions`, {
    visitorId: randomUUID(),
    mode: 'anonymous',
    ...body,
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.data;
}

/** A Mosend error body with this status. */
export function expectError(res: Reply, status: number, message?: RegExp, what = ''): void {
  assert.equal(res.status, status, `${what} -> ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.statusCode, status, what);
  assert.equal(typeof res.body.error, 'string', what);
  assert.equal(typeof res.body.timestamp, 'string', what);
  assert.equal(typeof res.body.path, 'string', what);
  if (message) assert.match(JSON.stringify(res.body.message), message, what);
}

/** A user who belongs to the location. */
export async function user(t: TestCharla, locationId: string): Promise<string> {
  const db = t.charla.ctx.db;
  const { rows } = await db.query<{ id: string }>(
    "INSERT INTO users (id, email, name, role) VALUES (gen_random_uuid(), $1, 'Agent', 'agent') RETURNING id",
    [`agent-${randomUUID()}@example.test`],
  );
  await db.query('INSERT INTO location_users (location_id, user_id) VALUES ($1, $2)', [
    locationId,
    rows[0]!.id,
  ]);
  return rows[0]!.id;
}

const roomy = { burst: 1_000_000, intervalMs: 60_000, daily: 1_000_000 };
/** Per-IP limits out of the way: every request of a suite comes from 127.0.0.1. */
export const RELAXED = { sessionPerIp: roomy, messagePerIp: roomy, otpPerIp: roomy, uploadPerIp: roomy };

// Shared by the conversations and messages suites: rows the API under test does not create
// (contacts, providers, users, SMTP settings) are made directly with SQL, so these suites do not
// depend on the contacts or providers APIs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';

export type Req = ReturnType<typeof client>;

let serial = 0;
const unique = () => `${Date.now().toString(36)}${(++serial).toString(36)}${randomBytes(3).toString('hex')}`;

/** A row count, for "nothing was stored" checks. */
export async function count(t: TestCharla, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await t.charla.ctx.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${sql}`,
    params,
  );
  return rows[0]!.n;
}

/** Rows a refused write must leave alone: every message and conversation of a location. */
export async function snapshot(t: TestCharla, locationId: string) {
  const db = t.charla.ctx.db;
  const conversations = await db.query('SELECT * FROM conversations WHERE location_id = $1 ORDER BY id', [
    locationId,
  ]);
  const messages = await db.query('SELECT * FROM messages WHERE location_id = $1 ORDER BY id', [locationId]);
  const jobs = await db.query(
    "SELECT id, ref, run_at FROM jobs WHERE location_id = $1 AND status = 'queued' AND run_at > now() + interval '1 minute' ORDER BY id",
    [locationId],
  );
  return { conversations: conversations.rows, messages: messages.rows, scheduledJobs: jobs.rows };
}

export interface ContactFields {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
}

/** A contact with a unique email and phone unless told otherwise. */
export async function contact(t: TestCharla, locationId: string, f: ContactFields = {}): Promise<string> {
  const u = unique();
  const n = serial;
  const { rows } = await t.charla.ctx.db.query<{ id: string }>(
    'INSERT INTO contacts (location_id, id, name, email, phone) VALUES ($1, gen_random_uuid(), $2, $3, $4) RETURNING id',
    [
      locationId,
      f.name === undefined ? `Contact ${u}` : f.name,
      f.email === undefined ? `c-${u}@example.test` : f.email,
      f.phone === undefined ? `+1555${String(n).padStart(7, '0')}` : f.phone,
    ],
  );
  return rows[0]!.id;
}

/** A conversation provider of a type (SMS, Custom, Email, Review...). */
export async function provider(
  t: TestCharla,
  locationId: string,
  type = 'SMS',
  isDefault = true,
): Promise<string> {
  const { rows } = await t.charla.ctx.db.query<{ id: string }>(
    `INSERT INTO conversation_providers (location_id, id, name, type, delivery_url, signing_secret, is_default)
     VALUES ($1, gen_random_uuid(), $2, $3, 'http://127.0.0.1:9/x', 's', $4) RETURNING id`,
    [locationId, `${type} provider ${unique()}`, type, isDefault],
  );
  return rows[0]!.id;
}

/** A key that speaks for a provider (bound before its first use: keys are cached per node). */
export async function providerKey(
  t: TestCharla,
  locationId: string,
  providerId: string,
  scopes = ['conversations/message.write', 'conversations/message.readonly'],
): Promise<string> {
  const key = await t.key(scopes, [locationId]);
  const prefix = /^ck_live_([a-z2-7]{12})\./.exec(key)?.[1];
  assert.ok(prefix, 'key format');
  const { rowCount } = await t.charla.ctx.db.query('UPDATE api_keys SET provider_id = $1 WHERE prefix = $2', [
    providerId,
    prefix,
  ]);
  assert.equal(rowCount, 1);
  return key;
}

export async function smtp(t: TestCharla, locationId: string): Promise<void> {
  await t.charla.ctx.db.query(
    "INSERT INTO location_smtp (location_id, host, port, from_address) VALUES ($1, '127.0.0.1', 2525, 'shop@x.test')",
    [locationId],
  );
}

/** A user who belongs to the location. */
export async function user(t: TestCharla, locationId: string): Promise<string> {
  const db = t.charla.ctx.db;
  const { rows } = await db.query<{ id: string }>(
    "INSERT INTO users (id, email, name, role) VALUES (gen_random_uuid(), $1, 'Agent', 'agent') RETURNING id",
    [`agent-${unique()}@example.test`],
  );
  await db.query('INSERT INTO location_users (location_id, user_id) VALUES ($1, $2)', [
    locationId,
    rows[0]!.id,
  ]);
  return rows[0]!.id;
}

/** A location of its own (so a search sees only what the test made) and an all-scopes key for it. */
export async function freshLocation(t: TestCharla): Promise<{ locationId: string; key: string; req: Req }> {
  const { rows } = await t.charla.ctx.db.query<{ id: string }>(
    "INSERT INTO locations (id, name) VALUES (gen_random_uuid(), 'Fresh') RETURNING id",
  );
  const locationId = rows[0]!.id;
  const key = await t.key(['*'], [locationId]);
  return { locationId, key, req: client(t.url, lc(key)) };
}

export function expectOk(res: { status: number; body: unknown }, status = 200): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
}

/** A 422 in LeadConnector's shape whose message array has a sentence matching `expected`. */
export function expect422(res: { status: number; body: any }, expected: RegExp, what = ''): void {
  assert.equal(res.status, 422, `${what} -> ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.statusCode, 422, what);
  assert.equal(res.body.error, 'Unprocessable Entity', what);
  assert.ok(Array.isArray(res.body.message), `${what}: message is an array`);
  assert.ok(
    res.body.message.some((m: string) => expected.test(m)),
    `${what}: ${expected} in ${JSON.stringify(res.body.message)}`,
  );
}

export function expectStatus(
  res: { status: number; body: any },
  status: number,
  message?: string | RegExp,
  what = '',
): void {
  assert.equal(res.status, status, `${what} -> ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.statusCode, status, what);
  if (typeof message === 'string') assert.equal(res.body.message, message, what);
  else if (message) assert.match(String(res.body.message), message, what);
}

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { verifyPassword } from '../../src/core/users/password.js';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';

let t: TestCharla;
/** Every scope, every location. */
let agency: ReturnType<typeof client>;
/** Only the admin scope, only location A. */
let adminA: ReturnType<typeof client>;

const as = (key: string) => client(t.url, { authorization: `Bearer ${key}` });

before(async () => {
  t = await startTestCharla();
  agency = as(t.agencyKey);
  adminA = as(await t.key(['admin'], [t.a.locationId]));
});
after(() => t.close());

async function count(table: string): Promise<number> {
  return (await t.charla.ctx.db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
}

let emails = 0;
const email = (tag = 'user') => `${tag}-${++emails}@example.test`;

async function makeUser(locationIds: string[], extra: Record<string, unknown> = {}) {
  const res = await agency('POST', '/admin/v1/users', {
    email: email(),
    name: 'Some One',
    role: 'agent',
    locationIds,
    ...extra,
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.user;
}

/** Asserts a native-API error: `{error: {code, message, details?}}`. */
function assertError(res: { status: number; body: any }, status: number, code: string) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code, JSON.stringify(res.body));
  assert.equal(typeof res.body.error.message, 'string');
}

function assertValidation(res: { status: number; body: any }, mentions: RegExp) {
  assertError(res, 422, 'validation');
  assert.ok(Array.isArray(res.body.error.details), 'details is an array');
  assert.ok(res.body.error.details.length > 0);
  assert.ok(
    res.body.error.details.some((d: string) => mentions.test(d)),
    `${mentions} in ${JSON.stringify(res.body.error.details)}`,
  );
}

describe('who may use the admin API', () => {
  const routes = (): [string, string, unknown?][] => [
    ['GET', '/admin/v1/locations'],
    ['POST', '/admin/v1/locations', { name: 'Nope' }],
    ['GET', `/admin/v1/locations/${t.a.locationId}`],
    ['PATCH', `/admin/v1/locations/${t.a.locationId}`, { name: 'Nope' }],
    ['GET', '/admin/v1/users'],
    ['POST', '/admin/v1/users', { email: email(), name: 'N', role: 'agent', locationIds: [] }],
    ['GET', '/admin/v1/keys'],
    ['POST', '/admin/v1/keys', { name: 'n', scopes: ['*'], locationIds: null }],
    ['DELETE', `/admin/v1/keys/${crypto.randomUUID()}`],
  ];

  test('no key, or a bad one, is a 401 on every route', async () => {
    for (const [method, path, body] of routes()) {
      const variants: Record<string, string>[] = [
        {},
        { authorization: 'Bearer nope' },
        { 'x-api-key': `${t.agencyKey}x` },
      ];
      for (const headers of variants) {
        const res = await client(t.url, headers)(method, path, body);
        assertError(res, 401, 'unauthenticated');
      }
    }
  });

  test('a key without the admin scope is a 403 on every route, and changes nothing', async () => {
    const widgetsOnly = as(await t.key(['chat-widget.readonly', 'chat-widget.write'], null));
    const before = await Promise.all(['locations', 'users', 'api_keys'].map(count));
    for (const [method, path, body] of routes()) {
      const res = await widgetsOnly(method, path, body);
      assertError(res, 403, 'insufficient_scope');
      assert.equal(res.body.error.message, 'The token is not authorized for this scope.');
    }
    assert.deepEqual(await Promise.all(['locations', 'users', 'api_keys'].map(count)), before);
    const location = await agency('GET', `/admin/v1/locations/${t.a.locationId}`);
    assert.notEqual(location.body.location.name, 'Nope');
  });

  test("the 'admin' scope and '*' are both enough", async () => {
    for (const key of [await t.key(['admin'], null), await t.key(['*'], null)]) {
      const res = await as(key)('GET', '/admin/v1/locations');
      assert.equal(res.status, 200);
      const ids = res.body.locations.map((l: { id: string }) => l.id);
      assert.ok(ids.includes(t.a.locationId) && ids.includes(t.b.locationId));
    }
  });
});

describe('/admin/v1/locations', () => {
  test('creates, lists, gets and updates a location', async () => {
    const made = await agency('POST', '/admin/v1/locations', { name: '  Branch North ' });
    assert.equal(made.status, 201);
    const loc = made.body.location;
    assert.match(loc.id, /^[0-9a-f-]{36}$/);
    assert.equal(loc.name, 'Branch North');
    assert.equal(loc.timezone, 'UTC');
    assert.ok(!Number.isNaN(Date.parse(loc.createdAt)) && !Number.isNaN(Date.parse(loc.updatedAt)));

    const list = await agency('GET', '/admin/v1/locations');
    assert.equal(list.status, 200);
    const ids = list.body.locations.map((l: { id: string }) => l.id);
    for (const id of [t.a.locationId, t.b.locationId, loc.id]) assert.ok(ids.includes(id));

    const got = await agency('GET', `/admin/v1/locations/${loc.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body.location, loc);

    const patched = await agency('PATCH', `/admin/v1/locations/${loc.id}`, { timezone: 'Europe/Madrid' });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.location.timezone, 'Europe/Madrid');
    assert.equal(patched.body.location.name, 'Branch North', 'PATCH keeps what it does not name');
    const renamed = await agency('PATCH', `/admin/v1/locations/${loc.id}`, { name: 'Branch South' });
    assert.equal(renamed.body.location.name, 'Branch South');
    assert.equal(renamed.body.location.timezone, 'Europe/Madrid');
    const row = (await t.charla.ctx.db.query('SELECT * FROM locations WHERE id = $1', [loc.id])).rows[0]!;
    assert.equal(row.name, 'Branch South');
    assert.equal(row.timezone, 'Europe/Madrid');
  });

  test('bad bodies are a 422 with details, and nothing is stored', async () => {
    const before = await count('locations');
    const cases: [unknown, RegExp][] = [
      [{}, /name is required/],
      [{ name: '' }, /name must be 1 to 200 characters/],
      [{ name: '   ' }, /name must be 1 to 200 characters/],
      [{ name: 'x'.repeat(201) }, /name must be shorter than or equal to 200/],
      [{ name: 42 }, /name must be string/],
      [{ name: 'Ok', timezone: 'Mars/Olympus' }, /timezone must be an IANA time zone/],
      [{ name: 'Ok', owner: 'me' }, /property owner should not exist/],
      [[], /the body must be object/],
    ];
    for (const [body, mentions] of cases) {
      assertValidation(await agency('POST', '/admin/v1/locations', body), mentions);
    }
    assert.equal(await count('locations'), before);

    const patchCases: [unknown, RegExp][] = [
      [{ timezone: 'Nowhere/Land' }, /timezone must be an IANA time zone/],
      [{ name: '' }, /name must be 1 to 200 characters/],
      [{ id: crypto.randomUUID() }, /property id should not exist/],
    ];
    const row = async () =>
      (await t.charla.ctx.db.query('SELECT * FROM locations WHERE id = $1', [t.a.locationId])).rows[0];
    const unchanged = await row();
    for (const [body, mentions] of patchCases) {
      assertValidation(await agency('PATCH', `/admin/v1/locations/${t.a.locationId}`, body), mentions);
    }
    assert.deepEqual(await row(), unchanged);
  });

  test('an unknown or malformed id is a 404', async () => {
    for (const id of [crypto.randomUUID(), 'not-an-id']) {
      assertError(await agency('GET', `/admin/v1/locations/${id}`), 404, 'not_found');
      assertError(await agency('PATCH', `/admin/v1/locations/${id}`, { name: 'x' }), 404, 'not_found');
    }
  });
});

describe('/admin/v1/users', () => {
  test('creates a user with a scrypt password hash, never returning or storing the password', async () => {
    const password = 'correct horse battery staple';
    const res = await agency('POST', '/admin/v1/users', {
      email: 'ana@example.test',
      name: 'Ana',
      role: 'admin',
      password,
      locationIds: [t.a.locationId, t.b.locationId],
    });
    assert.equal(res.status, 201);
    const u = res.body.user;
    assert.match(u.id, /^[0-9a-f-]{36}$/);
    assert.equal(u.email, 'ana@example.test');
    assert.equal(u.name, 'Ana');
    assert.equal(u.role, 'admin');
    assert.deepEqual([...u.locationIds].sort(), [t.a.locationId, t.b.locationId].sort());
    assert.ok(!Number.isNaN(Date.parse(u.createdAt)));
    const text = JSON.stringify(res.body);
    assert.ok(!text.includes(password) && !/password/i.test(text), text);

    const row = (await t.charla.ctx.db.query('SELECT * FROM users WHERE id = $1', [u.id])).rows[0]!;
    assert.ok(row.password_hash.startsWith('scrypt$'), row.password_hash);
    assert.ok(!JSON.stringify(row).includes(password));
    assert.equal(await verifyPassword(password, row.password_hash), true);
    assert.equal(await verifyPassword('wrong password!', row.password_hash), false);
    const members = await t.charla.ctx.db.query(
      'SELECT location_id FROM location_users WHERE user_id = $1 ORDER BY location_id',
      [u.id],
    );
    assert.deepEqual(
      members.rows.map((r) => r.location_id),
      [t.a.locationId, t.b.locationId].sort(),
    );

    // The same password twice makes two different hashes (salted); no password, no hash.
    const twin = await makeUser([t.a.locationId], { password });
    const none = await makeUser([t.a.locationId]);
    const hashes = await t.charla.ctx.db.query(
      'SELECT id, password_hash FROM users WHERE id = ANY($1::uuid[])',
      [[u.id, twin.id, none.id]],
    );
    const byId = Object.fromEntries(hashes.rows.map((r) => [r.id, r.password_hash]));
    assert.notEqual(byId[twin.id], byId[u.id]);
    assert.equal(byId[none.id], null);

    const list = await agency('GET', '/admin/v1/users');
    assert.equal(list.status, 200);
    const listed = list.body.users.find((x: { id: string }) => x.id === u.id);
    assert.deepEqual(listed, { ...u, locationIds: [t.a.locationId, t.b.locationId].sort() });
    assert.ok(!/password/i.test(JSON.stringify(list.body)));
  });

  test('a duplicate email is a 409, whatever its case', async () => {
    const first = await makeUser([t.a.locationId], { email: 'dup@example.test' });
    const before = await count('users');
    for (const dup of ['dup@example.test', 'DUP@Example.TEST']) {
      const res = await agency('POST', '/admin/v1/users', {
        email: dup,
        name: 'Twin',
        role: 'agent',
        locationIds: [t.b.locationId],
      });
      assertError(res, 409, 'conflict');
    }
    assert.equal(await count('users'), before);
    const memberships = await t.charla.ctx.db.query('SELECT * FROM location_users WHERE user_id = $1', [
      first.id,
    ]);
    assert.equal(memberships.rowCount, 1, 'the first user did not gain a location either');
  });

  test('bad bodies are a 422 with details, and nothing is stored', async () => {
    const before = [await count('users'), await count('location_users')];
    const ok = { email: email(), name: 'Ok', role: 'agent', locationIds: [t.a.locationId] };
    const cases: [unknown, RegExp][] = [
      [{ ...ok, email: 'not-an-email' }, /email must be an email address/],
      [{ ...ok, role: 'root' }, /role must be one of/],
      [{ ...ok, password: 'short' }, /password must be 10 to 200 characters/],
      [{ ...ok, name: '' }, /name must be 1 to 200 characters/],
      [{ email: ok.email, name: 'Ok', role: 'agent' }, /locationIds is required/],
      [{ ...ok, locationIds: ['nope'] }, /locationIds must be location ids/],
      [{ ...ok, locationIds: [crypto.randomUUID()] }, /locationIds names an unknown location/],
      [{ ...ok, locationIds: t.a.locationId }, /locationIds must be array/],
      [{ ...ok, isSuperuser: true }, /property isSuperuser should not exist/],
    ];
    for (const [body, mentions] of cases) {
      assertValidation(await agency('POST', '/admin/v1/users', body), mentions);
    }
    assert.deepEqual([await count('users'), await count('location_users')], before);
  });
});

describe('/admin/v1/keys', () => {
  const KEY = /^ck_live_([a-z2-7]{12})\.([A-Za-z0-9_-]{43})$/;

  test('a key made here works on the LeadConnector face with exactly its scopes and locations', async () => {
    const made = await agency('POST', '/admin/v1/keys', {
      name: '  Reader A ',
      scopes: ['chat-widget.readonly'],
      locationIds: [t.a.locationId],
    });
    assert.equal(made.status, 201);
    const { apiKey, key } = made.body;
    const m = KEY.exec(key);
    assert.ok(m, key);
    assert.equal(apiKey.prefix, m[1]);
    assert.match(apiKey.id, /^[0-9a-f-]{36}$/);
    assert.equal(apiKey.name, 'Reader A');
    assert.deepEqual(apiKey.scopes, ['chat-widget.readonly']);
    assert.deepEqual(apiKey.locationIds, [t.a.locationId]);
    assert.equal(apiKey.revokedAt, null);

    const reader = client(t.url, lc(key));
    const list = (loc: string) => reader('GET', `/chat-widget/list?locationId=${loc}&offset=0&limit=5`);
    assert.equal((await list(t.a.locationId)).status, 200);
    assert.equal((await list(t.b.locationId)).status, 403);
    const write = await reader('POST', '/chat-widget/', {
      version: 1,
      chatType: 'liveChat',
      name: 'no',
      locationId: t.a.locationId,
    });
    assert.equal(write.status, 401);
    assert.equal(write.body.message, 'The token is not authorized for this scope.');
    assertError(await as(key)('GET', '/admin/v1/locations'), 403, 'insufficient_scope');

    // An agency-wide writer reaches every location, and only for chat widgets.
    const writer = await agency('POST', '/admin/v1/keys', {
      name: 'Writer',
      scopes: ['chat-widget.write', 'chat-widget.readonly'],
      locationIds: null,
    });
    assert.equal(writer.status, 201);
    assert.equal(writer.body.apiKey.locationIds, null);
    const w = client(t.url, lc(writer.body.key));
    for (const loc of [t.a.locationId, t.b.locationId]) {
      const res = await w('POST', '/chat-widget/', {
        version: 1,
        chatType: 'liveChat',
        name: 'by writer',
        locationId: loc,
      });
      assert.equal(res.status, 201);
    }
    assertError(await as(writer.body.key)('GET', '/admin/v1/users'), 403, 'insufficient_scope');
  });

  test('the secret is shown once: never listed, and only its hash is stored', async () => {
    const made = await agency('POST', '/admin/v1/keys', {
      name: 'Secret keeper',
      scopes: ['*'],
      locationIds: [t.b.locationId],
    });
    assert.equal(made.status, 201);
    const secret = KEY.exec(made.body.key)![2]!;
    assert.ok(!JSON.stringify(made.body.apiKey).includes(secret), 'apiKey carries no secret');

    const list = await agency('GET', '/admin/v1/keys');
    assert.equal(list.status, 200);
    const listed = list.body.keys.find((k: { id: string }) => k.id === made.body.apiKey.id);
    assert.deepEqual(listed, made.body.apiKey);
    for (const k of list.body.keys) {
      assert.deepEqual(Object.keys(k).sort(), [
        'createdAt',
        'id',
        'lastUsedAt',
        'locationIds',
        'name',
        'prefix',
        'revokedAt',
        'scopes',
      ]);
    }
    const text = JSON.stringify(list.body);
    for (const s of [secret, t.agencyKey, t.a.key, t.b.key].map((k) => k.split('.').pop()!)) {
      assert.ok(!text.includes(s), 'a listed key carries a secret');
    }

    // No column of the stored row holds the secret, in any encoding.
    const { rows } = await t.charla.ctx.db.query('SELECT * FROM api_keys WHERE id = $1', [
      made.body.apiKey.id,
    ]);
    const row = rows[0]!;
    const forms = [
      secret,
      Buffer.from(secret).toString('hex'),
      Buffer.from(secret).toString('base64'),
      Buffer.from(secret, 'base64url').toString('hex'),
    ];
    for (const [column, value] of Object.entries(row)) {
      const shown = Buffer.isBuffer(value)
        ? [
            value.toString('hex'),
            value.toString('base64'),
            value.toString('base64url'),
            value.toString('latin1'),
          ]
        : [JSON.stringify(value)];
      for (const s of shown) {
        for (const f of forms) assert.ok(!s.includes(f), `column ${column} holds the secret`);
      }
    }
    assert.ok(Buffer.isBuffer(row.secret_hash));
    assert.equal(row.secret_hash.length, 32);
    const whole = await t.charla.ctx.db.query('SELECT row_to_json(k)::text AS j FROM api_keys k');
    for (const r of whole.rows) assert.ok(!r.j.includes(secret));
  });

  test('revoking sets revokedAt once; an unknown or malformed id is a 404', async () => {
    const made = await agency('POST', '/admin/v1/keys', { name: 'r', scopes: ['*'], locationIds: null });
    const id = made.body.apiKey.id;
    const first = await agency('DELETE', `/admin/v1/keys/${id}`);
    assert.equal(first.status, 200);
    assert.equal(first.body.apiKey.id, id);
    assert.ok(!Number.isNaN(Date.parse(first.body.apiKey.revokedAt)));
    const second = await agency('DELETE', `/admin/v1/keys/${id}`);
    assert.equal(second.status, 200);
    assert.equal(second.body.apiKey.revokedAt, first.body.apiKey.revokedAt, 'the first revocation stands');
    const listed = (await agency('GET', '/admin/v1/keys')).body.keys.find((k: { id: string }) => k.id === id);
    assert.equal(listed.revokedAt, first.body.apiKey.revokedAt);
    for (const bad of [crypto.randomUUID(), 'not-an-id']) {
      assertError(await agency('DELETE', `/admin/v1/keys/${bad}`), 404, 'not_found');
    }
  });

  test('bad bodies are a 422 with details, and no key is made', async () => {
    const before = await count('api_keys');
    const ok = { name: 'k', scopes: ['chat-widget.readonly'], locationIds: [t.a.locationId] };
    const cases: [unknown, RegExp][] = [
      [{ ...ok, scopes: [] }, /scopes/],
      [{ ...ok, scopes: ['root'] }, /scopes.0 must be one of/],
      [{ ...ok, scopes: 'admin' }, /scopes must be array/],
      [{ name: 'k', locationIds: null }, /scopes is required/],
      [{ name: 'k', scopes: ['*'] }, /locationIds is required/],
      [{ ...ok, locationIds: [] }, /locationIds/],
      [{ ...ok, locationIds: 'all' }, /locationIds/],
      [{ ...ok, locationIds: ['not-an-id'] }, /locationIds must be location ids/],
      [{ ...ok, locationIds: [crypto.randomUUID()] }, /locationIds names an unknown location/],
      [{ ...ok, name: ' ' }, /name must be 1 to 200 characters/],
      [{ ...ok, secret: 'mine' }, /property secret should not exist/],
    ];
    for (const [body, mentions] of cases) {
      assertValidation(await agency('POST', '/admin/v1/keys', body), mentions);
    }
    assert.equal(await count('api_keys'), before);
  });
});

describe("a location-limited admin key and someone else's data", () => {
  test('sees and manages only its own locations', async () => {
    const list = await adminA('GET', '/admin/v1/locations');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.locations.map((l: { id: string }) => l.id),
      [t.a.locationId],
    );
    assert.equal((await adminA('GET', `/admin/v1/locations/${t.a.locationId}`)).status, 200);
    const renamed = await adminA('PATCH', `/admin/v1/locations/${t.a.locationId}`, { name: 'Tenant A+' });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.location.name, 'Tenant A+');
  });

  test("cannot read or change another location, and B's row is untouched", async () => {
    const before = (await t.charla.ctx.db.query('SELECT * FROM locations WHERE id = $1', [t.b.locationId]))
      .rows[0];
    for (const res of [
      await adminA('GET', `/admin/v1/locations/${t.b.locationId}`),
      await adminA('PATCH', `/admin/v1/locations/${t.b.locationId}`, { name: 'pwned' }),
      await adminA('GET', `/admin/v1/locations/${crypto.randomUUID()}`),
    ]) {
      assertError(res, 403, 'location_forbidden');
      assert.equal(res.body.error.message, 'The token does not have access to this location');
    }
    const afterRow = (await t.charla.ctx.db.query('SELECT * FROM locations WHERE id = $1', [t.b.locationId]))
      .rows[0];
    assert.deepEqual(afterRow, before);
  });

  test('cannot create locations', async () => {
    const before = await count('locations');
    assertError(await adminA('POST', '/admin/v1/locations', { name: 'Mine now' }), 403, 'forbidden');
    assert.equal(await count('locations'), before);
  });

  test("lists only its locations' users, and creates users only there", async () => {
    const inA = await makeUser([t.a.locationId]);
    const inB = await makeUser([t.b.locationId]);
    const inBoth = await makeUser([t.a.locationId, t.b.locationId]);
    const list = await adminA('GET', '/admin/v1/users');
    assert.equal(list.status, 200);
    const ids = list.body.users.map((u: { id: string }) => u.id);
    assert.ok(ids.includes(inA.id));
    assert.ok(ids.includes(inBoth.id));
    assert.ok(!ids.includes(inB.id), "B's user is listed to A's key");
    assert.ok(!JSON.stringify(list.body).includes(inB.email));

    const before = await count('users');
    for (const locationIds of [[t.b.locationId], [t.a.locationId, t.b.locationId]]) {
      const res = await adminA('POST', '/admin/v1/users', {
        email: email('intruder'),
        name: 'Intruder',
        role: 'admin',
        locationIds,
      });
      assertError(res, 403, 'location_forbidden');
    }
    assert.equal(await count('users'), before);
    const ok = await adminA('POST', '/admin/v1/users', {
      email: email('local'),
      name: 'Local',
      role: 'agent',
      locationIds: [t.a.locationId],
    });
    assert.equal(ok.status, 201);
    assert.deepEqual(ok.body.user.locationIds, [t.a.locationId]);
  });

  // A location-limited key sees a shared user, but not the other tenants' location ids.
  test("a shared user's other locations are not revealed to A's key", async () => {
    const shared = await makeUser([t.a.locationId, t.b.locationId]);
    const list = await adminA('GET', '/admin/v1/users');
    const listed = list.body.users.find((u: { id: string }) => u.id === shared.id);
    assert.ok(listed, 'the shared user is listed');
    assert.deepEqual(listed.locationIds, [t.a.locationId]);
    assert.ok(!JSON.stringify(list.body).includes(t.b.locationId), "location B's id is listed to A's key");
  });

  test('cannot list, make agency-wide or foreign keys, or revoke keys', async () => {
    const before = await count('api_keys');
    assertError(await adminA('GET', '/admin/v1/keys'), 403, 'forbidden');
    assertError(
      await adminA('POST', '/admin/v1/keys', { name: 'k', scopes: ['*'], locationIds: null }),
      403,
      'forbidden',
    );
    for (const locationIds of [[t.b.locationId], [t.a.locationId, t.b.locationId]]) {
      assertError(
        await adminA('POST', '/admin/v1/keys', { name: 'k', scopes: ['*'], locationIds }),
        403,
        'location_forbidden',
      );
    }
    assert.equal(await count('api_keys'), before);

    // Tenant B's key survives A's attempt to revoke it.
    const bKeyId = (
      await t.charla.ctx.db.query('SELECT id FROM api_keys WHERE prefix = $1', [
        /^ck_live_([a-z2-7]{12})\./.exec(t.b.key)![1],
      ])
    ).rows[0]!.id;
    assertError(await adminA('DELETE', `/admin/v1/keys/${bKeyId}`), 403, 'forbidden');
    const row = (await t.charla.ctx.db.query('SELECT revoked_at FROM api_keys WHERE id = $1', [bKeyId]))
      .rows[0]!;
    assert.equal(row.revoked_at, null);
    const bStill = await client(t.url, lc(t.b.key))(
      'GET',
      `/chat-widget/list?locationId=${t.b.locationId}&offset=0&limit=1`,
    );
    assert.equal(bStill.status, 200);
  });

  test('makes keys for its own location, which reach only that location', async () => {
    const made = await adminA('POST', '/admin/v1/keys', {
      name: 'A helper',
      scopes: ['chat-widget.readonly'],
      locationIds: [t.a.locationId],
    });
    assert.equal(made.status, 201);
    assert.deepEqual(made.body.apiKey.locationIds, [t.a.locationId]);
    const helper = client(t.url, lc(made.body.key));
    const list = (loc: string) => helper('GET', `/chat-widget/list?locationId=${loc}&offset=0&limit=1`);
    assert.equal((await list(t.a.locationId)).status, 200);
    assert.equal((await list(t.b.locationId)).status, 403);
  });
});

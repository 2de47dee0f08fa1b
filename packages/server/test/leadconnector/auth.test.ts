import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestCharla, type TestCharla } from '../support/charla.js';
import { client, lc } from '../support/http.js';

let t: TestCharla;
let anon: ReturnType<typeof client>;
let asA: ReturnType<typeof client>;
/** A widget of tenant A, for the routes that need one. */
let widgetId: string;

before(async () => {
  t = await startTestCharla();
  anon = client(t.url);
  asA = client(t.url, lc(t.a.key));
  const res = await asA('POST', '/chat-widget/', {
    version: 1,
    chatType: 'liveChat',
    name: 'Auth',
    locationId: t.a.locationId,
  });
  assert.equal(res.status, 201);
  widgetId = res.body._id;
});
after(() => t.close());

const listPath = () => `/chat-widget/list?locationId=${t.a.locationId}&offset=0&limit=10`;
const unauthorized = (message: string) => ({ statusCode: 401, message, error: 'Unauthorized' });
const INVALID_TOKEN = unauthorized('Invalid token: access token is invalid');

/** Replaces the last character of a key's secret, keeping it well-formed. */
const tamper = (key: string) => key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');

describe('the Version header', () => {
  test('a missing Version is a 401, even with a valid key', async () => {
    const res = await anon('GET', listPath(), undefined, { authorization: `Bearer ${t.a.key}` });
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, unauthorized('version header was not found.'));
  });

  test('an unknown Version is a 401', async () => {
    for (const version of ['2099-01-01', 'v2', '2021-04-15,v3', 'latest']) {
      const res = await anon('GET', listPath(), undefined, lc(t.a.key, version));
      assert.equal(res.status, 401, version);
      assert.deepEqual(res.body, unauthorized('version header is invalid'), version);
    }
  });

  test('every version LeadConnector clients send is accepted, on reads and on writes', async () => {
    for (const version of ['2021-04-15', '2021-07-28', '2023-02-21', 'v3']) {
      const req = client(t.url, lc(t.a.key, version));
      const list = await req('GET', listPath());
      assert.equal(list.status, 200, version);
      assert.ok(Array.isArray(list.body.chatWidgets), version);
      const patch = await req('PATCH', `/chat-widget/data/${t.a.locationId}/${widgetId}`, {
        name: `via ${version}`,
      });
      assert.equal(patch.status, 200, version);
      assert.equal(patch.body.name, `via ${version}`);
    }
  });
});

describe('the API key', () => {
  test('a missing key is a 401', async () => {
    const res = await anon('GET', listPath(), undefined, { version: '2021-07-28' });
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, INVALID_TOKEN);
  });

  test('a malformed key or Authorization header is a 401', async () => {
    const headers: Record<string, string>[] = [
      { authorization: 'Bearer nonsense' },
      { authorization: 'Bearer' },
      { authorization: `Bearer ${t.a.key}x` },
      { authorization: `Bearer ${t.a.key} extra` },
      { authorization: t.a.key },
      { authorization: `Basic ${Buffer.from(`user:${t.a.key}`).toString('base64')}` },
      { authorization: `Bearer ${t.a.key.toUpperCase()}` },
      { 'x-api-key': 'ck_live_' },
    ];
    for (const h of headers) {
      const res = await anon('GET', listPath(), undefined, { version: '2021-07-28', ...h });
      assert.equal(res.status, 401, JSON.stringify(h));
      assert.deepEqual(res.body, INVALID_TOKEN, JSON.stringify(h));
    }
  });

  test('a well-formed key that does not exist, or a real prefix with a wrong secret, is a 401', async () => {
    const made = `ck_live_${'abcdefghijkl'}.${'x'.repeat(43)}`;
    for (const key of [made, tamper(t.a.key), tamper(t.agencyKey)]) {
      assert.notEqual(key, t.a.key);
      const res = await anon('GET', listPath(), undefined, lc(key));
      assert.equal(res.status, 401, key);
      assert.deepEqual(res.body, INVALID_TOKEN);
    }
    // The untampered key still works: it was the secret that was refused.
    assert.equal((await asA('GET', listPath())).status, 200);
  });

  test('a key revoked through the admin API is refused (within the key cache lifetime)', async () => {
    const admin = client(t.url, { authorization: `Bearer ${t.agencyKey}` });
    const made = await admin('POST', '/admin/v1/keys', {
      name: 'to revoke',
      scopes: ['*'],
      locationIds: [t.a.locationId],
    });
    assert.equal(made.status, 201);
    const req = client(t.url, lc(made.body.key));
    assert.equal((await req('GET', listPath())).status, 200);
    const revoked = await admin('DELETE', `/admin/v1/keys/${made.body.apiKey.id}`);
    assert.equal(revoked.status, 200);
    assert.ok(!Number.isNaN(Date.parse(revoked.body.apiKey.revokedAt)));
    // Other nodes may take up to the key cache's lifetime (5 s) to hear of it.
    const deadline = Date.now() + 6000;
    let res = await req('GET', listPath());
    while (res.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      res = await req('GET', listPath());
    }
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, INVALID_TOKEN);
    const adminFace = await client(t.url, { authorization: `Bearer ${made.body.key}` })(
      'GET',
      '/admin/v1/locations',
    );
    assert.equal(adminFace.status, 401);
  });

  // The revoking node must not wait for its own key.revoked event to return through the relay and
  // the bus; the relay is stopped here so the result cannot depend on that race.
  test('a key revoked through the admin API is refused at once by the node that revoked it', async () => {
    const s = await startTestCharla();
    try {
      await s.charla.ctx.relay.stop();
      const admin = client(s.url, { authorization: `Bearer ${s.agencyKey}` });
      const made = await admin('POST', '/admin/v1/keys', {
        name: 'to revoke',
        scopes: ['*'],
        locationIds: [s.a.locationId],
      });
      const req = client(s.url, lc(made.body.key));
      const path = `/chat-widget/list?locationId=${s.a.locationId}&offset=0&limit=10`;
      assert.equal((await req('GET', path)).status, 200);
      assert.equal((await admin('DELETE', `/admin/v1/keys/${made.body.apiKey.id}`)).status, 200);
      const res = await req('GET', path);
      assert.equal(res.status, 401, 'the revoked key was still accepted');
      assert.deepEqual(res.body, INVALID_TOKEN);
    } finally {
      await s.close();
    }
  });

  test('a key without the route’s scope is a 401, and the same key works where its scope allows', async () => {
    const reader = client(t.url, lc(await t.key(['chat-widget.readonly'], [t.a.locationId])));
    assert.equal((await reader('GET', listPath())).status, 200);
    assert.equal((await reader('GET', `/chat-widget/data/${t.a.locationId}/${widgetId}`)).status, 200);
    const before = (await t.charla.ctx.db.query('SELECT count(*)::int AS n FROM chat_widgets')).rows[0]!.n;
    const writes = [
      await reader('POST', '/chat-widget/', {
        version: 1,
        chatType: 'liveChat',
        name: 'x',
        locationId: t.a.locationId,
      }),
      await reader('PATCH', `/chat-widget/data/${t.a.locationId}/${widgetId}`, { name: 'x' }),
      await reader('PUT', `/chat-widget/data/${t.a.locationId}/${widgetId}`, {
        name: 'x',
        chatType: 'liveChat',
      }),
      await reader('DELETE', `/chat-widget/${t.a.locationId}/${widgetId}`),
      await reader('POST', '/chat-widget/clone', { locationId: t.a.locationId, chatWidgetId: widgetId }),
    ];
    for (const res of writes) {
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, unauthorized('The token is not authorized for this scope.'));
    }
    const afterCount = (await t.charla.ctx.db.query('SELECT count(*)::int AS n FROM chat_widgets')).rows[0]!
      .n;
    assert.equal(afterCount, before);
    assert.notEqual((await asA('GET', `/chat-widget/data/${t.a.locationId}/${widgetId}`)).body.name, 'x');

    // A key with only the admin scope may not use the chat widget API either.
    const adminOnly = client(t.url, lc(await t.key(['admin'], [t.a.locationId])));
    const res = await adminOnly('GET', listPath());
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, unauthorized('The token is not authorized for this scope.'));
  });

  test('a key for location A on location B is a 403; an agency-wide key reaches both', async () => {
    const res = await asA('GET', `/chat-widget/list?locationId=${t.b.locationId}&offset=0&limit=10`);
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, {
      statusCode: 403,
      message: 'The token does not have access to this location',
      error: 'Forbidden',
    });
    const agency = client(t.url, lc(t.agencyKey));
    for (const loc of [t.a.locationId, t.b.locationId]) {
      const ok = await agency('GET', `/chat-widget/list?locationId=${loc}&offset=0&limit=10`);
      assert.equal(ok.status, 200);
    }
  });

  test('the key is accepted as Authorization: Bearer, X-Api-Key and x-chatcaptain-key', async () => {
    const ways: Record<string, string>[] = [
      { authorization: `Bearer ${t.a.key}` },
      { authorization: `bearer ${t.a.key}` },
      { 'x-api-key': t.a.key },
      { 'x-chatcaptain-key': t.a.key },
    ];
    for (const h of ways) {
      const res = await anon('GET', listPath(), undefined, { version: '2021-07-28', ...h });
      assert.equal(res.status, 200, JSON.stringify(Object.keys(h)));
      assert.ok(Array.isArray(res.body.chatWidgets));
    }
    for (const name of ['x-api-key', 'x-chatcaptain-key']) {
      const res = await anon('GET', listPath(), undefined, {
        version: '2021-07-28',
        [name]: tamper(t.a.key),
      });
      assert.equal(res.status, 401, name);
      assert.deepEqual(res.body, INVALID_TOKEN);
    }
    // Whichever header carries it, the key keeps its limits.
    const other = await anon(
      'GET',
      `/chat-widget/list?locationId=${t.b.locationId}&offset=0&limit=10`,
      undefined,
      { version: '2021-07-28', 'x-api-key': t.a.key },
    );
    assert.equal(other.status, 403);
  });
});

describe('what LeadConnector clients send', () => {
  test('Content-Type: application/json on a GET and a DELETE with no body is accepted', async () => {
    const json = { 'content-type': 'application/json' };
    const get = await asA('GET', listPath(), undefined, json);
    assert.equal(get.status, 200);
    assert.equal(typeof get.body.totalCount, 'number');
    const one = await asA('GET', `/chat-widget/data/${t.a.locationId}/${widgetId}`, undefined, json);
    assert.equal(one.status, 200);
    assert.equal(one.body._id, widgetId);

    const doomed = await asA('POST', '/chat-widget/', {
      version: 1,
      chatType: 'liveChat',
      name: 'doomed',
      locationId: t.a.locationId,
    });
    const del = await asA('DELETE', `/chat-widget/${t.a.locationId}/${doomed.body._id}`, undefined, json);
    assert.equal(del.status, 200);
    assert.equal(del.body._id, doomed.body._id);
    assert.equal(del.body.deleted, true);
  });

  test('trailing slashes are accepted', async () => {
    const list = await asA('GET', `/chat-widget/list/?locationId=${t.a.locationId}&offset=0&limit=10`);
    assert.equal(list.status, 200);
    assert.ok(list.body.chatWidgets.some((w: { _id: string }) => w._id === widgetId));
    const one = await asA('GET', `/chat-widget/data/${t.a.locationId}/${widgetId}/`);
    assert.equal(one.status, 200);
    assert.equal(one.body._id, widgetId);
    for (const path of ['/chat-widget/', '/chat-widget']) {
      const made = await asA('POST', path, {
        version: 1,
        chatType: 'liveChat',
        name: `slash ${path}`,
        locationId: t.a.locationId,
      });
      assert.equal(made.status, 201, path);
      assert.equal(made.body.name, `slash ${path}`);
    }
    const clone = await asA('POST', '/chat-widget/clone/', {
      locationId: t.a.locationId,
      chatWidgetId: widgetId,
    });
    assert.equal(clone.status, 201);
  });

  test('k[]=a array syntax is read as an array: where a string is expected that is a 422, never a 500', async () => {
    const base = `/chat-widget/list?offset=0&limit=10`;
    const cases = [
      [`${base}&locationId=${t.a.locationId}&chatType[]=liveChat`, /chatType/],
      [`${base}&locationId=${t.a.locationId}&chatType%5B%5D=liveChat&chatType%5B%5D=waChat`, /chatType/],
      [`${base}&locationId=${t.a.locationId}&chatType=liveChat&chatType=waChat`, /chatType/],
      [`${base}&locationId[]=${t.a.locationId}`, /locationId/],
      [`/chat-widget/list?locationId=${t.a.locationId}&offset[]=0&limit=10`, /offset/],
      [`${base}&locationId=${t.a.locationId}&allInOneChatTypes[]=waChat`, /allInOneChatTypes/],
    ] as const;
    for (const [path, mentions] of cases) {
      const res = await asA('GET', path);
      assert.equal(res.status, 422, `${path} -> ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.statusCode, 422);
      assert.equal(res.body.error, 'Unprocessable Entity');
      assert.ok(Array.isArray(res.body.message));
      assert.ok(
        res.body.message.some((m: string) => mentions.test(m)),
        `${mentions} in ${JSON.stringify(res.body.message)}`,
      );
    }
    // The same values written plainly are fine.
    const plain = await asA('GET', `${base}&locationId=${t.a.locationId}&chatType=liveChat`);
    assert.equal(plain.status, 200);
  });

  // Every other widget route answers an id that is not a UUID with a 404; the list must too.
  test('a locationId that is not an id is never a 500, even for an agency-wide key', async () => {
    const agency = client(t.url, lc(t.agencyKey));
    for (const loc of ['nope', '', 'ZZZZZZZZ-0000-0000-0000-000000000000']) {
      const res = await agency('GET', `/chat-widget/list?locationId=${loc}&offset=0&limit=10`);
      assert.ok([200, 404, 422].includes(res.status), `locationId=${loc} -> ${res.status}`);
      if (res.status === 200) assert.deepEqual(res.body, { chatWidgets: [], totalCount: 0 });
      else assert.equal(res.body.statusCode, res.status);
    }
    // A location key gets its 403 for them, as for any location not its own.
    assert.equal((await asA('GET', '/chat-widget/list?locationId=nope')).status, 403);
  });

  test('an unknown route is a JSON 404, with or without a key', async () => {
    for (const [method, path] of [
      ['GET', '/chat-widget/nope/x/y'],
      ['POST', '/chat-widget/list'],
      ['GET', '/conversations/unknown-thing/here/too'],
      ['GET', '/'],
    ] as const) {
      for (const req of [anon, asA]) {
        const res = await req(method, path);
        assert.equal(res.status, 404, `${method} ${path}`);
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        assert.deepEqual(res.body, {
          statusCode: 404,
          message: `Cannot ${method} ${path}`,
          error: 'Not Found',
        });
      }
    }
  });
});

describe('request ids', () => {
  test('every response carries an X-Request-Id, each one different', async () => {
    const responses = [
      await asA('GET', listPath()),
      await anon('GET', listPath()),
      await anon('GET', listPath(), undefined, lc(t.a.key, 'bogus')),
      await asA('GET', `/chat-widget/list?locationId=${t.b.locationId}`),
      await asA('GET', '/chat-widget/list?offset=0'),
      await asA('GET', `/chat-widget/data/${t.a.locationId}/${crypto.randomUUID()}`),
      await asA('GET', '/nowhere'),
      await asA('POST', '/chat-widget/', '{"broken":'),
    ];
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 401, 401, 403, 422, 404, 404, 400],
    );
    const ids = responses.map((r) => r.headers.get('x-request-id'));
    for (const id of ids) assert.match(id ?? '', /^[\w.:-]{8,128}$/);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('a caller-supplied x-request-id is echoed; one that is not a plain token is replaced', async () => {
    const mine = 'trace-42.abc:XYZ_1';
    for (const req of [asA, anon]) {
      const res = await req('GET', listPath(), undefined, { 'x-request-id': mine });
      assert.equal(res.headers.get('x-request-id'), mine);
    }
    for (const bad of ['has spaces in it', 'x'.repeat(129), '<script>']) {
      const res = await asA('GET', listPath(), undefined, { 'x-request-id': bad });
      assert.equal(res.status, 200);
      const id = res.headers.get('x-request-id');
      assert.ok(id && id !== bad, `${bad} -> ${id}`);
      assert.match(id, /^[\w.:-]{8,128}$/, 'a generated id in its place');
    }
  });
});

describe('rate limiting', () => {
  let limited: TestCharla;
  before(async () => {
    limited = await startTestCharla({ RATE_LIMIT_BURST: '3', RATE_LIMIT_INTERVAL_MS: '60000' });
  });
  after(() => limited.close());

  test('a key gets its burst, then a 429 with Retry-After; another key is unaffected', async () => {
    // The window is fixed (aligned to the interval): start well inside one.
    const intoWindow = Date.now() % 60_000;
    if (intoWindow > 50_000) await new Promise((r) => setTimeout(r, 60_000 - intoWindow + 50));

    const path = `/chat-widget/list?locationId=${limited.a.locationId}&offset=0&limit=10`;
    const req = client(limited.url, lc(limited.a.key));
    for (let i = 1; i <= 3; i++) {
      const res = await req('GET', path);
      assert.equal(res.status, 200, `request ${i}`);
      const h = (name: string) => res.headers.get(name);
      assert.equal(h('x-ratelimit-max'), '3');
      assert.equal(h('x-ratelimit-remaining'), String(3 - i));
      assert.equal(h('x-ratelimit-interval-milliseconds'), '60000');
      assert.equal(h('x-ratelimit-limit-daily'), '200000');
      assert.equal(h('x-ratelimit-daily-remaining'), String(200_000 - i));
    }

    const refused = await req('GET', path);
    assert.equal(refused.status, 429);
    const retryAfter = refused.headers.get('retry-after') ?? '';
    assert.match(retryAfter, /^[1-9][0-9]*$/);
    assert.ok(Number(retryAfter) <= 60, `Retry-After ${retryAfter} is within the 60 s window`);
    assert.deepEqual(refused.body, {
      statusCode: 429,
      message: `Too many requests: retry in ${retryAfter} s`,
      error: 'Too Many Requests',
    });
    assert.equal(refused.headers.get('x-ratelimit-remaining'), '0');
    assert.ok(refused.headers.get('x-request-id'));

    // Refused on every route, writes included, and nothing is written.
    const write = await req('POST', '/chat-widget/', {
      version: 1,
      chatType: 'liveChat',
      name: 'over the limit',
      locationId: limited.a.locationId,
    });
    assert.equal(write.status, 429);
    const { rows } = await limited.charla.ctx.db.query('SELECT count(*)::int AS n FROM chat_widgets');
    assert.equal(rows[0]!.n, 0);

    // Tenant B's key has its own allowance.
    const other = await client(limited.url, lc(limited.b.key))(
      'GET',
      `/chat-widget/list?locationId=${limited.b.locationId}&offset=0&limit=10`,
    );
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('x-ratelimit-remaining'), '2');
  });
});
